/* nodesummary — the per-node status Leases (see nodestatus.h) folded into one
 * summary of the cluster: how many nodes run the published config, which fail
 * and why, which are still behind, and since when.  Pure functions: Leases and
 * the published hash in, a summary out; the summarizer (summarizer.h) feeds them
 * and puts the result where `kubectl get` shows it.
 *
 * Each node is in exactly one class:
 *   in sync      state "Applied" with in-sync "true" and applied-hash equal to
 *                the published hash (any applied hash while none is known);
 *   failed       last-error set (state "Failed"), or a Lease with a heartbeat
 *                (leaseDurationSeconds) not renewed for that long: its applier is
 *                gone or cannot reach the API server;
 *   out of sync  the rest: Pending, or applied an older config and not yet the
 *                newest.
 * A node's name is its Lease's name without "exportflows-node-"; Leases not
 * named so are ignored.
 *
 * Since when: each node that is not in sync carries the time it was first seen
 * so, taken from the previous summary when it was already behind there, else
 * 'now'.  So the age of the oldest such node is how long some node has been
 * without the published config, the thing worth an alert.
 *
 * The annotations (the summary as `kubectl get -o custom-columns` shows it on
 * the ConfigMap):
 *   exportflows.io/nodes-hash          the published hash the counts refer to
 *   exportflows.io/nodes-applied       "<in sync>/<total>", e.g. "2/3"
 *   exportflows.io/nodes-failed        count of failed nodes, e.g. "1"
 *   exportflows.io/nodes-pending       count of out-of-sync nodes
 *   exportflows.io/failing-nodes       "n2: <error>; n7: <error>; and 3 more",
 *                                      by node name, at most NODESUMMARY_SHOWN
 *                                      names, each error cut to
 *                                      NODESUMMARY_ERROR_SHOWN bytes; "" for none
 *   exportflows.io/pending-nodes       "n4, n5 and 2 more"; "" for none
 *   exportflows.io/oldest-apply-time   RFC 3339, the least recent
 *                                      last-apply-time of any node; "" when no
 *                                      node has applied anything */
#ifndef EXPORTFLOWS_NODESUMMARY_H
#define EXPORTFLOWS_NODESUMMARY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exportflows/base/errmsg.h"
#include "exportflows/admission/flowconfig.h"
#include "exportflows/ovs/nodestatus.h"

#define NODESUMMARY_ANNOTATION_HASH "exportflows.io/nodes-hash"
#define NODESUMMARY_ANNOTATION_APPLIED "exportflows.io/nodes-applied"
#define NODESUMMARY_ANNOTATION_FAILED "exportflows.io/nodes-failed"
#define NODESUMMARY_ANNOTATION_PENDING "exportflows.io/nodes-pending"
#define NODESUMMARY_ANNOTATION_FAILING_NODES "exportflows.io/failing-nodes"
#define NODESUMMARY_ANNOTATION_PENDING_NODES "exportflows.io/pending-nodes"
#define NODESUMMARY_ANNOTATION_OLDEST "exportflows.io/oldest-apply-time"

#define NODESUMMARY_SHOWN 5             /* node names listed in an annotation */
#define NODESUMMARY_ERROR_SHOWN 160     /* bytes of each node's error shown */

/* Event reasons (nodesummary_event()). */
#define NODESUMMARY_REASON_APPLIED "NodesApplied"
#define NODESUMMARY_REASON_PENDING "NodesPending"
#define NODESUMMARY_REASON_FAILING "NodesFailing"

enum nodesummary_class {
    NODESUMMARY_IN_SYNC,
    NODESUMMARY_OUT_OF_SYNC,
    NODESUMMARY_FAILED,
};

/* One node that is not in sync. */
struct nodesummary_node {
    char name[NODESTATUS_NAME_MAX];
    enum nodesummary_class class;   /* OUT_OF_SYNC or FAILED */
    char error[ERRMSG_MAX];         /* FAILED: why, printable ASCII; else "" */
    int64_t since;                  /* Unix s: first seen not in sync */
};

/* Owns 'behind'; release with nodesummary_release(). */
struct nodesummary {
    char hash[FLOWCONFIG_HASH_SIZE];    /* the published hash; "" unknown */
    size_t total, in_sync, out_of_sync, failed;
    int64_t oldest_apply_time;          /* Unix s; 0: no node applied anything */
    struct nodesummary_node *behind;    /* the nodes not in sync, by name */
    size_t n_behind;                    /* out_of_sync + failed */
};

/* An empty summary: no node, nothing allocated. */
void nodesummary_init(struct nodesummary *s);

/* Frees what 's' holds and makes it empty again; accepts an empty one. */
void nodesummary_release(struct nodesummary *s);

/* Folds 'leases' (borrowed: a JSON array, or an object whose values are the
 * Leases) into '*ret' against 'published_hash' (NULL or "": unknown), at wall
 * time 'now' (Unix s).  'prev' (may be NULL) is the previous summary, for each
 * node's 'since'.  '*ret' must be empty (initialised or released) and is written
 * only on success; the caller releases it.  -ENOMEM. */
int nodesummary_fold(const json_t *leases, const char *published_hash,
                     const struct nodesummary *prev, int64_t now,
                     struct nodesummary *ret);

/* Seconds the longest-behind node has been out of sync at 'now', 0 when every
 * node is in sync. */
int64_t nodesummary_behind_seconds(const struct nodesummary *s, int64_t now);

/* The annotations above as a JSON object of strings.  New reference; NULL on
 * ENOMEM. */
json_t *nodesummary_annotations(const struct nodesummary *s);

/* True when 'annotations' (borrowed: a ConfigMap's metadata.annotations, may be
 * NULL) already hold every member of 'wanted' (from nodesummary_annotations())
 * with the same value. */
bool nodesummary_annotations_current(const json_t *annotations, const json_t *wanted);

/* What an Event about the change should say: NODESUMMARY_REASON_FAILING
 * (Warning) when some node failed, _PENDING (Normal) when some are still behind,
 * else _APPLIED (Normal); and a one-line message ("2 of 3 nodes applied
 * sha256:..., 1 failing: n2: ..."), cut to 'size' bytes.  The strings returned
 * through 'ret_type' and 'ret_reason' are static. */
void nodesummary_event(const struct nodesummary *s, const char **ret_type,
                       const char **ret_reason, char *message, size_t size);

#endif
