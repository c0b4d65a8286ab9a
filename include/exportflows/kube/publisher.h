/* publisher — the Network object's spec.exportNetworkFlows -> the ConfigMap the
 * appliers read.
 *
 * Level-triggered, as DESIGN.md "Data flow" asks: the publisher keeps a watch on
 * the Network object (networks.operator.openshift.io "cluster") and one on the
 * ConfigMap (exportflows/exportflows-config), and a worker thread converges the
 * ConfigMap to what the stored Network says whenever either changes, after every
 * relist, on gaining leadership, and every resync period (5 minutes) as a safety
 * net against a watch that went quiet.  So it also catches up after the webhook
 * was down, and a deleted or hand-edited ConfigMap is put back.
 *
 * What is published (ConfigMap key "config.json"; the payload, its key, version
 * and rules are flowconfig.h's, written and read back with flowconfig_data_*()):
 * the spec, validated again with flowspec_validate() (it may have been stored
 * while the webhook was down or not registered) and normalised, plus the tuning,
 * the Network's metadata.generation and the content hash.
 *   - Network absent, or exportNetworkFlows absent/null/{}: a config with no
 *     protocol, i.e. export off.  The ConfigMap exists then too, so that appliers
 *     clear the rows they own instead of keeping a stale config.
 *   - Invalid spec: nothing new is published; the last good config stays (and is
 *     put back if the ConfigMap is deleted or edited meanwhile).  The problem is
 *     reported once per distinct set of errors: the report callback (a log line),
 *     the invalid_specs counter and metric, and a Kubernetes Event (Warning,
 *     reason InvalidExportNetworkFlows) about the Network.  When the publisher
 *     starts with an invalid spec, the config already in the ConfigMap is the last
 *     good one; when there is none either, nothing is published.
 *   - Content is compared by hash: a change that does not alter what OVS is asked
 *     for (an unrelated field of the Network, reordered collectors, the other
 *     shape of the same list) writes nothing.  The "generation" in the ConfigMap
 *     is therefore the Network generation that last changed the content.
 * The publisher owns the "config.json" key and the labels
 * app.kubernetes.io/name=exportflows and app.kubernetes.io/component=config;
 * other keys, labels and annotations of the ConfigMap are left alone.
 *
 * Node summary: a summarizer (summarizer.h) watches the appliers' status Leases
 * (in node_namespace, the appliers' own, not the election Lease's) and keeps the "exportflows.io/nodes-*" annotations of the status ConfigMap
 * (status_configmap, not the published one: the appliers watch that, and each
 * write would wake them all; written by the leader, bounded to one write per
 * summary_interval_ms), Events about it when they change, and the
 * exportflows_publisher_nodes* gauges.
 *
 * Only the holder of the Lease (coordination.k8s.io/v1, see lease.h) writes, the
 * ConfigMap and the Events alike; every replica watches, validates and reports,
 * so a standby takes over with its state already built.  Writes are
 * read-modify-write with the resourceVersion that was read (409 -> re-read,
 * retry), and a failed reconcile is retried with backoff (1 s doubling to 30 s).
 *
 * The network operator's ConfigMap openshift-network-operator/ovs-flows-config
 * (ovsflowsconfig.h) is watched too and merged as the operator merges it: its
 * IPFIX target joins the Network's IPFIX collectors and its sampling,
 * cacheMaxFlows and cacheActiveTimeout replace the IPFIX tuning.  Deleting it
 * republishes without it.  A value of it that is not merged (one the operator
 * ignores, or one that would break ovnkube-node) is reported like an invalid
 * spec, once per distinct set of problems: the report callback
 * (PUBLISHER_REPORT_INVALID_FLOWS_CONFIG), the invalid_flows_configs counter and
 * metric, and an Event (Warning, reason InvalidOVSFlowsConfig) about that
 * ConfigMap, in its namespace.  While the Network's spec is invalid, the last
 * good config stays as it is, the ConfigMap's part included.
 *
 * Events: Kubernetes only accepts Events about a cluster-scoped object in the
 * namespace "default" (or kube-system), so they go to 'event_namespace', by
 * default "default", not to the ConfigMap's namespace.  They show in
 * `kubectl describe network.operator.openshift.io cluster` and
 * `kubectl get events -n default --field-selector reason=InvalidExportNetworkFlows`.
 *
 * Threads: two kubewatch threads deliver into the publisher's state under a
 * mutex, the lease thread signals leadership changes, and one worker thread
 * reconciles.  The report callback runs on any of them (it must be thread-safe;
 * log_event() is).  Library code does not log: everything worth a log line goes
 * through the report callback, counters through publisher_stats() and the
 * metrics registry. */
#ifndef EXPORTFLOWS_PUBLISHER_H
#define EXPORTFLOWS_PUBLISHER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "exportflows/base/errmsg.h"
#include "exportflows/admission/fielderr.h"
#include "exportflows/admission/flowconfig.h"
#include "exportflows/kube/kubeconfig.h"
#include "exportflows/base/metrics.h"

#define PUBLISHER_NETWORKS_PATH "/apis/operator.openshift.io/v1/networks"
#define PUBLISHER_EVENT_REASON "InvalidExportNetworkFlows"
#define PUBLISHER_FLOWS_EVENT_REASON "InvalidOVSFlowsConfig"
#define PUBLISHER_COMPONENT "exportflows-publisher"
#define PUBLISHER_RESYNC_MS_DEFAULT 300000u

struct publisher;

/* What the publisher tells the program; each becomes one log line. */
enum publisher_report_kind {
    PUBLISHER_REPORT_PUBLISHED,     /* the ConfigMap was created or updated */
    PUBLISHER_REPORT_INVALID,       /* the stored spec is invalid: not published */
    PUBLISHER_REPORT_INVALID_FLOWS_CONFIG, /* values of ovs-flows-config not merged */
    PUBLISHER_REPORT_LEADER,        /* this replica now holds the Lease */
    PUBLISHER_REPORT_FOLLOWER,      /* it lost the Lease or gave it up */
    PUBLISHER_REPORT_ERROR,         /* an API call or a watch failed; retried */
};

struct publisher_report {
    enum publisher_report_kind kind;
    /* One line, lowercase, cause first; for INVALID the field errors as
     * Kubernetes aggregates them ("[e1, e2]"). */
    const char *message;
    int64_t generation;             /* the Network generation concerned; -1: none */
    const char *hash;               /* PUBLISHED: the config's hash; else NULL */
};

struct publisher_config {
    struct kubeconfig *kubeconfig;  /* borrowed; must outlive the publisher */
    const char *namespace;          /* of the ConfigMap and the Lease; NULL: "exportflows" */
    const char *node_namespace;     /* of the appliers' status Leases, which the node
                                     * summary watches; NULL: "exportflows-nodes" */
    const char *configmap;          /* NULL: "exportflows-config" */
    const char *status_configmap;   /* the node summary's; NULL:
                                     * SUMMARIZER_STATUS_CONFIGMAP; not 'configmap' */
    const char *network;            /* the Network object; NULL: "cluster" */
    const char *lease;              /* NULL: "exportflows-publisher" */
    const char *identity;           /* unique per replica (the pod name); NULL:
                                     * "<hostname>-<pid>" */
    const char *event_namespace;    /* NULL: "default" (see above) */
    const char *flows_configmap;    /* "NAMESPACE/NAME" of ovs-flows-config; NULL:
                                     * "openshift-network-operator/ovs-flows-config";
                                     * "": not watched, nothing merged */
    struct flowtuning tuning;       /* copied */
    struct metrics *metrics;        /* optional; borrowed, must outlive the publisher */
    void (*report)(void *aux, const struct publisher_report *report); /* optional */
    void *report_aux;

    /* Timings; 0 takes the default.  Tests shorten them. */
    unsigned resync_ms;             /* PUBLISHER_RESYNC_MS_DEFAULT */
    unsigned retry_min_ms;          /* 1000: first wait after a failed reconcile */
    unsigned retry_max_ms;          /* 30000 */
    unsigned lease_duration_ms;     /* see lease.h */
    unsigned lease_renew_deadline_ms;
    unsigned lease_retry_period_ms;
    unsigned watch_timeout_min_s;   /* see kubewatch.h */
    unsigned watch_timeout_max_s;
    unsigned watch_backoff_min_ms;
    unsigned watch_backoff_max_ms;
    unsigned summary_interval_ms;   /* between two node summary writes; see
                                     * summarizer.h */
};

struct publisher_stats {
    unsigned long writes;           /* ConfigMap creates and updates */
    unsigned long invalid_specs;    /* distinct invalid specs seen */
    unsigned long invalid_flows_configs; /* distinct sets of ovs-flows-config
                                     * values not merged */
    unsigned long events;           /* Kubernetes Events created */
    unsigned long errors;           /* failed API calls, watch and lease failures */
    unsigned long reconciles;       /* worker passes over a synced state */
    bool synced;                    /* both watches have listed at least once */
    int64_t observed_generation;    /* Network generation the last complete pass
                                     * acted on; -1: none yet, or no Network */
    bool leader;
    int64_t published_generation;   /* generation in the ConfigMap as last seen
                                     * up to date or written; -1: none */
    char published_hash[FLOWCONFIG_HASH_SIZE]; /* "" until then */
};

/* Prepares a publisher; nothing talks to the API until publisher_start().  The
 * strings of 'cfg' are copied.  Registers the metrics
 * exportflows_publisher_{writes_total, invalid_specs_total,
 * invalid_flows_config_total, errors_total, leader,
 * last_publish_timestamp_seconds, published_generation, spec_invalid} and the
 * summarizer's (summarizer.h) in 'cfg->metrics'.
 * Caller destroys '*ret' with publisher_destroy().  -EINVAL for a missing
 * kubeconfig or bad timings, -ENOMEM, with a message in 'err'. */
int publisher_create(const struct publisher_config *cfg, struct publisher **ret,
                     struct errmsg *err);

/* Starts the watches, the leader election and the worker.  -EALREADY, or -errno
 * when a thread cannot be made (then nothing is left running). */
int publisher_start(struct publisher *p, struct errmsg *err);

/* Stops the worker first (no write happens after this returns), then the
 * watches, then gives the Lease up when held so that a standby takes over at its
 * next try instead of after the lease duration.  Returns the release's result
 * (0 when nothing had to be released).  May be called from any thread except from
 * the report callback; does nothing when not running. */
int publisher_stop(struct publisher *p, struct errmsg *err);

/* Stops if running, then frees everything; accepts NULL. */
void publisher_destroy(struct publisher *p);

/* A snapshot of the counters and state; any thread, any time. */
void publisher_stats(struct publisher *p, struct publisher_stats *ret);

/* ---- the decisions, exposed for unit tests ---- */

/* The config to publish for the Network object 'network' (borrowed; NULL when it
 * does not exist) with 'tuning' and the object's metadata.generation, merged
 * with the ConfigMap ovs-flows-config 'flows' (borrowed; NULL when it does not
 * exist).  Returns 0 and writes '*ret', or -EINVAL when the spec is invalid;
 * every error and warning about the spec goes to 'report'.  What of 'flows' is
 * not merged goes to 'flows_report' as errors (remarks as warnings), whether
 * the spec is valid or not. */
int publisher_desired(const json_t *network, const json_t *flows,
                      const struct flowtuning *tuning, struct flowconfig *ret,
                      struct fielderr_list *report, struct fielderr_list *flows_report);

/* True when 'configmap' (borrowed; may be NULL) already publishes 'desired': same
 * content (by hash, generation ignored; read with flowconfig_data_parse(), so a
 * hand-edited payload is not current) and our labels in place. */
bool publisher_configmap_current(const json_t *configmap, const struct flowconfig *desired);

/* Sets our labels and the payload (flowconfig_data_set()) of 'configmap'
 * (changed in place) to publish 'desired', keeping everything else.  -ENOMEM. */
int publisher_configmap_set(json_t *configmap, const struct flowconfig *desired);

/* A new ConfigMap object 'namespace'/'name' publishing 'desired'.  Caller
 * json_decref()s it; NULL on ENOMEM. */
json_t *publisher_configmap_new(const char *namespace, const char *name,
                                const struct flowconfig *desired);

#endif
