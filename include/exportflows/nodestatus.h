/* nodestatus — this node's applied flow export state, made visible with kubectl
 * as a coordination.k8s.io/v1 Lease per node.
 *
 * Why a Lease: it is a small namespaced object that every cluster has, that a
 * Role can grant per namespace (no cluster-wide rights, unlike Node objects or
 * events across namespaces), whose spec says who wrote it (holderIdentity) and
 * when (renewTime), and that "kubectl get leases" already lists.  The state itself
 * rides in annotations, so no CRD is needed.  The object, in namespace NS:
 *
 *   apiVersion: coordination.k8s.io/v1
 *   kind: Lease
 *   metadata:
 *     name: exportflows-node-<node>
 *     labels: {app.kubernetes.io/name: exportflows,
 *              app.kubernetes.io/component: applier,
 *              exportflows.io/node: <node>}    # only when <node> is a valid label value
 *     annotations:
 *       exportflows.io/applied-hash: "sha256:..."   # "" before anything was applied
 *       exportflows.io/applied-generation: "7"      # "" when the config had none
 *       exportflows.io/last-error: ""               # "" when ok
 *       exportflows.io/last-apply-time: "2026-01-02T03:04:05Z"  # "" when never
 *       exportflows.io/in-sync: "true"              # "true" | "false"
 *   spec: {holderIdentity: <node>, renewTime: <time of this write>}
 *
 * "in-sync" is true when OVS matches the last config and the latest published
 * content was accepted; a refused config keeps the last good one applied but
 * shows in-sync "false" with the reason in last-error.
 *
 * Writes are server-side apply (one PATCH that also creates the Lease), force
 * true, field manager "exportflows-applier".  They are made only when the state
 * changed, at most once per min_interval (changes in between are coalesced into
 * the latest state), plus an optional heartbeat; an idle node writes nothing.
 *
 * Threading contract: nodestatus_start() runs the writer in its own thread with
 * its own kube_client.  nodestatus_set() and nodestatus_get_stats() may be called
 * from any thread and never wait for the network, so the applier's loop is never
 * delayed by a slow API server.  'on_error' runs on the writer thread.
 * nodestatus_stop() may be called from any thread except 'on_error'. */
#ifndef EXPORTFLOWS_NODESTATUS_H
#define EXPORTFLOWS_NODESTATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "exportflows/applier.h"
#include "exportflows/errmsg.h"
#include "exportflows/flowconfig.h"
#include "exportflows/kubeconfig.h"
#include "exportflows/metrics.h"

#define NODESTATUS_LEASE_PREFIX "exportflows-node-"
#define NODESTATUS_FIELD_MANAGER "exportflows-applier"
#define NODESTATUS_ANNOTATION_HASH "exportflows.io/applied-hash"
#define NODESTATUS_ANNOTATION_GENERATION "exportflows.io/applied-generation"
#define NODESTATUS_ANNOTATION_ERROR "exportflows.io/last-error"
#define NODESTATUS_ANNOTATION_APPLY_TIME "exportflows.io/last-apply-time"
#define NODESTATUS_ANNOTATION_IN_SYNC "exportflows.io/in-sync"
#define NODESTATUS_LABEL_NODE "exportflows.io/node"

/* Object names are DNS-1123 subdomains of at most 253 characters. */
#define NODESTATUS_NAME_MAX 254

#define NODESTATUS_MIN_INTERVAL_MS 2000u
#define NODESTATUS_TIMEOUT_MS 5000u
#define NODESTATUS_BACKOFF_MAX_MS 60000u

/* What the Lease says.  A plain value. */
struct nodestatus_state {
    bool has_applied;                   /* some config was seen in OVS */
    char hash[FLOWCONFIG_HASH_SIZE];    /* of that config */
    bool has_generation;
    int64_t generation;
    int64_t last_apply_time;            /* Unix seconds; 0: never */
    bool in_sync;
    char last_error[ERRMSG_MAX];        /* "" when ok; printable ASCII */
};

/* Nothing applied, not in sync, no error. */
void nodestatus_state_init(struct nodestatus_state *state);

/* Folds one applier report into 'state'; 'now' is the wall clock in Unix
 * seconds.  Returns true when 'state' changed. */
bool nodestatus_state_update(struct nodestatus_state *state,
                             const struct applier_report *report, int64_t now);

bool nodestatus_state_equal(const struct nodestatus_state *a,
                            const struct nodestatus_state *b);

/* Writes "exportflows-node-<node>" to 'buf' (NODESTATUS_NAME_MAX bytes).
 * -EINVAL with a message when 'node' is not a DNS-1123 subdomain or the result
 * is too long. */
int nodestatus_lease_name(const char *node, char buf[NODESTATUS_NAME_MAX],
                          struct errmsg *err);

/* The Lease to apply for 'state' written at 'now' (wall clock).  New reference;
 * NULL on ENOMEM. */
json_t *nodestatus_lease_json(const char *namespace, const char *node,
                              const struct nodestatus_state *state,
                              const struct timespec *now);

/* RFC 3339 in UTC: "2026-01-02T03:04:05Z" (seconds, for annotations) and
 * "2026-01-02T03:04:05.123456Z" (a Kubernetes MicroTime, for renewTime). */
void nodestatus_format_time(int64_t unix_s, char buf[32]);
void nodestatus_format_microtime(const struct timespec *ts, char buf[40]);

/* ---- the writer ---- */

struct nodestatus_config {
    const char *namespace;      /* required, e.g. "exportflows" */
    const char *node;           /* required: this node's name */
    unsigned min_interval_ms;   /* 0: NODESTATUS_MIN_INTERVAL_MS */
    unsigned heartbeat_ms;      /* rewrite unchanged state this often; 0: never */
    unsigned timeout_ms;        /* one request; 0: NODESTATUS_TIMEOUT_MS */
    unsigned backoff_max_ms;    /* retries after failures: 1 s doubling up to
                                 * this; 0: NODESTATUS_BACKOFF_MAX_MS */
    struct metrics *metrics;    /* borrowed, may be NULL:
                                 * exportflows_applier_status_writes_total{result} */
    void (*on_error)(void *ctx, int code, const char *message); /* optional */
    void *ctx;
};

struct nodestatus_stats {
    unsigned long writes;       /* successful applies */
    unsigned long errors;       /* failed applies (retried) */
};

struct nodestatus;

/* Copies the strings of 'nc'; 'cfg' is borrowed and must outlive the writer.
 * Caller destroys '*ret' with nodestatus_destroy().  -EINVAL (bad names) or
 * -ENOMEM with a message. */
int nodestatus_create(struct kubeconfig *cfg, const struct nodestatus_config *nc,
                      struct nodestatus **ret, struct errmsg *err);

/* Starts the writer thread; -EALREADY or -errno from pthread_create(). */
int nodestatus_start(struct nodestatus *ns, struct errmsg *err);

/* Makes 'state' (copied) the state to publish; returns at once. */
void nodestatus_set(struct nodestatus *ns, const struct nodestatus_state *state);

/* Stops the writer: a state not yet written is written once more (bounded by
 * the request timeout) unless the last write failed, then the thread ends. */
void nodestatus_stop(struct nodestatus *ns);

/* Stops if running, then frees; accepts NULL. */
void nodestatus_destroy(struct nodestatus *ns);

void nodestatus_get_stats(const struct nodestatus *ns, struct nodestatus_stats *ret);

#endif
