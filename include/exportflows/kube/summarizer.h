/* summarizer — keeps the cluster's node summary (nodesummary.h) where an
 * operator looks: annotations on the status ConfigMap (its own object, by
 * default exportflows/exportflows-status, which the appliers do not watch: a
 * summary write wakes no node), an Event when it changes, and gauges for
 * alerts.  Part of the publisher (publisher.c creates, feeds and stops
 * it).
 *
 * Inputs:
 *   - the node status Leases, listed and watched (kubewatch) in their own
 *     namespace ('leases_namespace': the appliers', apart from the publisher's
 *     election Lease, so that the appliers need no Lease rights where that one
 *     lives) with the label selector app.kubernetes.io/component=applier;
 *   - the hash the published ConfigMap carries, as the publisher last saw it
 *     (summarizer_observe()).
 * Outputs, recomputed whenever an input changes and every refold period (the
 * ages grow, and heartbeats lapse, without any event):
 *   - metrics, on every replica (all of them watch, so a standby that takes over
 *     knows since when each node is behind):
 *       exportflows_publisher_nodes{state="in_sync|out_of_sync|failed"}
 *       exportflows_publisher_nodes_out_of_sync_seconds
 *       exportflows_publisher_nodes_annotation_writes_total
 *   - on the holder of the publisher's Lease only: the annotations of
 *     nodesummary.h on the status ConfigMap, written with read-modify-write
 *     (other annotations, labels and data are left alone) and only when they
 *     differ from what it holds as last read or written (nothing watches it:
 *     the first write after start reads it back, and a change made by hand is
 *     put right at the summary's next change).  Writes are bounded: the first one waits
 *     'settle_ms' after the change (a rollout's Lease writes arrive within a
 *     second or two and become one write), and two writes are at least
 *     'min_interval_ms' apart, however many nodes change.  An absent status
 *     ConfigMap is created (labels app.kubernetes.io/name=exportflows,
 *     app.kubernetes.io/component=status);
 *   - with a write whose counts or node lists changed (not only the oldest
 *     apply time), one Event about the status ConfigMap, in its namespace:
 *     NodesFailing (Warning), NodesPending or NodesApplied (Normal).
 *
 * Threading contract: one worker thread with its own kube_client, plus the
 * kubewatch thread.  summarizer_observe() may be called from any thread and
 * never waits for the network.  'report' runs on either thread and must be
 * thread-safe.  summarizer_stop() may be called from any
 * thread except 'report'. */
#ifndef EXPORTFLOWS_SUMMARIZER_H
#define EXPORTFLOWS_SUMMARIZER_H

#include <jansson.h>
#include <stdbool.h>

#include "exportflows/base/errmsg.h"
#include "exportflows/kube/kubeconfig.h"
#include "exportflows/kube/lease.h"
#include "exportflows/base/metrics.h"
#include "exportflows/base/report.h"

#define SUMMARIZER_LABEL_SELECTOR "app.kubernetes.io/component=applier"
#define SUMMARIZER_STATUS_CONFIGMAP "exportflows-status"
#define SUMMARIZER_MIN_INTERVAL_MS 5000u
#define SUMMARIZER_SETTLE_MS 1000u
#define SUMMARIZER_REFOLD_MS 10000u

struct summarizer;

struct summarizer_config {
    struct kubeconfig *kubeconfig;  /* borrowed; must outlive the summarizer */
    const char *namespace;          /* of the status ConfigMap and the Events */
    const char *leases_namespace;   /* of the node status Leases; NULL: 'namespace' */
    const char *configmap;          /* the status ConfigMap, written (not the
                                     * published one: the appliers watch that) */
    const struct lease *lease;      /* borrowed: only its holder writes; NULL: the
                                     * summarizer never writes (metrics only) */
    const char *component;          /* Events' source, e.g. "exportflows-publisher" */
    const char *identity;           /* this replica, the Events' reportingInstance */
    struct metrics *metrics;        /* borrowed, optional */
    unsigned min_interval_ms;       /* 0: SUMMARIZER_MIN_INTERVAL_MS */
    unsigned settle_ms;             /* 0: SUMMARIZER_SETTLE_MS */
    unsigned refold_ms;             /* 0: SUMMARIZER_REFOLD_MS */
    unsigned watch_timeout_min_s;   /* see kubewatch.h; 0: its defaults */
    unsigned watch_timeout_max_s;
    unsigned watch_backoff_min_ms;
    unsigned watch_backoff_max_ms;
    report_fn *report;              /* optional: each failure, REPORT_WARN */
    void *ctx;
};

/* Copies the strings of 'cfg'.  Caller destroys '*ret' with
 * summarizer_destroy().  -EINVAL (missing names) or -ENOMEM with a message. */
int summarizer_create(const struct summarizer_config *cfg, struct summarizer **ret,
                      struct errmsg *err);

/* Starts the watch and the worker.  -EALREADY or -errno from pthread_create(). */
int summarizer_start(struct summarizer *s, struct errmsg *err);

/* 'published_hash': the hash of the config the published ConfigMap carries now
 * ("" or NULL: none, absent or unreadable).  Copies it; returns at once. */
void summarizer_observe(struct summarizer *s, const char *published_hash);

/* Stops the worker (interrupting a request in progress) and the watch; nothing
 * is written after it returns.  Does nothing when not running. */
void summarizer_stop(struct summarizer *s);

/* Stops if running, then frees; accepts NULL. */
void summarizer_destroy(struct summarizer *s);

#endif
