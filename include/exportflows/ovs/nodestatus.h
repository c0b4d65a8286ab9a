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
 *              app.kubernetes.io/part-of: exportflows,
 *              exportflows.io/node: <node>}    # only when <node> is a valid label value
 *     ownerReferences: [{apiVersion: v1, kind: Pod, name: <pod>, uid: <uid>}]
 *                                              # when the pod is known: the garbage
 *                                              # collector removes the Lease with it
 *     annotations:
 *       exportflows.io/state: "Applied"             # "Applied" | "Failed" | "Pending"
 *       exportflows.io/in-sync: "true"              # "true" | "false"
 *       exportflows.io/applied-hash: "sha256:..."   # "" before anything was applied
 *       exportflows.io/applied-generation: "7"      # "" when the config had none
 *       exportflows.io/last-error: ""               # "" when ok
 *       exportflows.io/last-apply-time: "2026-01-02T03:04:05Z"  # "" when never
 *   spec: {holderIdentity: <node>, acquireTime: <this writer's first write>,
 *          renewTime: <time of this write>,
 *          leaseDurationSeconds: <3 x heartbeat>}  # only with a heartbeat
 *
 * "in-sync" is true when OVS matches the last config and the latest published
 * content was accepted; a refused config keeps the last good one applied but
 * shows in-sync "false" with the reason in last-error.  "state" says the same in
 * one word: Applied (in sync), Failed (last-error is set), Pending (neither yet).
 *
 * Writes need only get, create and update on Leases: the writer keeps the
 * resourceVersion of its last write and PUTs the whole Lease with it (one
 * request per change); a 409 Conflict or a 404 (someone changed or deleted the
 * Lease) makes it GET the Lease again, or POST it when absent.  Writes are made
 * only when the state changed, at most once per min_interval (changes in between
 * are coalesced into the latest state), plus an optional heartbeat; an idle node
 * writes nothing.
 *
 * Threading contract: nodestatus_start() runs the writer in its own thread with
 * its own kube_client.  nodestatus_set() and nodestatus_get_stats() may be called
 * from any thread and never wait for the network, so the applier's loop is never
 * delayed by a slow API server.  'report' runs on the writer thread.
 * nodestatus_stop() may be called from any thread except 'report'. */
#ifndef EXPORTFLOWS_NODESTATUS_H
#define EXPORTFLOWS_NODESTATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "exportflows/base/errmsg.h"
#include "exportflows/admission/flowconfig.h"
#include "exportflows/kube/kubeconfig.h"
#include "exportflows/base/metrics.h"
#include "exportflows/base/report.h"

#define NODESTATUS_LEASE_PREFIX "exportflows-node-"
#define NODESTATUS_ANNOTATION_HASH "exportflows.io/applied-hash"
#define NODESTATUS_ANNOTATION_GENERATION "exportflows.io/applied-generation"
#define NODESTATUS_ANNOTATION_ERROR "exportflows.io/last-error"
#define NODESTATUS_ANNOTATION_APPLY_TIME "exportflows.io/last-apply-time"
#define NODESTATUS_ANNOTATION_IN_SYNC "exportflows.io/in-sync"
#define NODESTATUS_ANNOTATION_STATE "exportflows.io/state"
#define NODESTATUS_LABEL_NODE "exportflows.io/node"

/* Object names are DNS-1123 subdomains of at most 253 characters. */
#define NODESTATUS_NAME_MAX 254

#define NODESTATUS_MIN_INTERVAL_MS 2000u
#define NODESTATUS_TIMEOUT_MS 5000u
#define NODESTATUS_BACKOFF_MAX_MS 60000u

/* What the Lease says; applier_report_fold() keeps it from the applier's
 * reports.  A plain value. */
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

bool nodestatus_state_equal(const struct nodestatus_state *a,
                            const struct nodestatus_state *b);

/* Writes "exportflows-node-<node>" to 'buf' (NODESTATUS_NAME_MAX bytes).
 * -EINVAL with a message when 'node' is not a DNS-1123 subdomain or the result
 * is too long. */
int nodestatus_lease_name(const char *node, char buf[NODESTATUS_NAME_MAX],
                          struct errmsg *err);

/* "Applied", "Failed" or "Pending" (see above). */
const char *nodestatus_state_word(const struct nodestatus_state *state);

/* Who writes the Lease, and where. */
struct nodestatus_identity {
    const char *namespace;      /* required */
    const char *node;           /* required */
    const char *pod_name;       /* optional: the owner Pod, with 'pod_uid' */
    const char *pod_uid;
    unsigned lease_duration_s;  /* 0: leaseDurationSeconds omitted */
    const struct timespec *acquired;    /* optional: spec.acquireTime */
};

/* The Lease for 'state' written at 'now' (wall clock), without a
 * resourceVersion.  New reference; NULL on ENOMEM or an invalid node name. */
json_t *nodestatus_lease_json(const struct nodestatus_identity *id,
                              const struct nodestatus_state *state,
                              const struct timespec *now);

/* ---- the writer ---- */

struct nodestatus_config {
    const char *namespace;      /* required, e.g. "exportflows" */
    const char *node;           /* required: this node's name */
    const char *pod_name;       /* optional: this pod, the Lease's owner; */
    const char *pod_uid;        /* both or neither */
    unsigned min_interval_ms;   /* 0: NODESTATUS_MIN_INTERVAL_MS */
    unsigned heartbeat_ms;      /* rewrite unchanged state this often (and set
                                 * leaseDurationSeconds to 3 times it); 0: never */
    unsigned timeout_ms;        /* one request; 0: NODESTATUS_TIMEOUT_MS */
    unsigned backoff_max_ms;    /* retries after failures: 1 s doubling up to
                                 * this; 0: NODESTATUS_BACKOFF_MAX_MS */
    struct metrics *metrics;    /* borrowed, may be NULL:
                                 * exportflows_applier_status_writes_total{result},
                                 * exportflows_applier_status_requests_total */
    report_fn *report;          /* optional: each failed write, REPORT_WARN */
    void *ctx;
};

struct nodestatus_stats {
    unsigned long writes;       /* successful writes */
    unsigned long errors;       /* failed writes (retried) */
    unsigned long requests;     /* API requests made, successful or not */
};

struct nodestatus;

/* Copies the strings of 'nc'; 'cfg' is borrowed and must outlive the writer.
 * Caller destroys '*ret' with nodestatus_destroy().  -EINVAL (bad names, only
 * one of the pod's name and uid) or -ENOMEM with a message. */
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
