/* lease — leader election with a coordination.k8s.io/v1 Lease, as client-go does it.
 *
 * The election thread makes one try every retry period (2 s):
 *   - GET the Lease; create it holding it when absent.
 *   - Someone else holds it and its record changed less than one lease duration
 *     (15 s) ago by our own clock (server and node clocks are never compared): not
 *     leader, try again later.
 *   - Otherwise (empty holder, expired, or already ours): PUT it with us as holder
 *     and a fresh renewTime, guarded by the resourceVersion that was read; a 409
 *     means someone else won this round.
 * The holder renews by PUTting the Lease as its own last write stored it, without
 * a GET first (client-go's fast path): one request per retry period; a 409 or
 * any failure sends it back to the GET above.
 * The leader stays leader while its renewals succeed; when none succeeded for the
 * renew deadline (10 s) it stops being leader at once, well before the 15 s after
 * which others may take over.  lease_stop() gives the Lease up (clears
 * holderIdentity) so that another candidate takes over on its next try instead of
 * waiting for expiry.
 *
 * Threading contract: lease_start() runs the loop in its own thread (with its own
 * kube_client).  lease_is_leader() is lock-free and may be called from any thread;
 * it also turns false by itself when the last successful renewal is older than the
 * renew deadline, even if the lease thread is stuck.  'on_change' runs on the lease
 * thread, or on the thread calling lease_stop() for the final "false"; 'report'
 * runs on the lease thread.
 * lease_stop() may be called from any thread except from 'on_change'. */
#ifndef EXPORTFLOWS_LEASE_H
#define EXPORTFLOWS_LEASE_H

#include <stdbool.h>

#include "exportflows/base/errmsg.h"
#include "exportflows/kube/kubeconfig.h"
#include "exportflows/base/report.h"

#define LEASE_DURATION_MS 15000u
#define LEASE_RENEW_DEADLINE_MS 10000u
#define LEASE_RETRY_PERIOD_MS 2000u

struct lease;

struct lease_config {
    const char *namespace;      /* where the Lease lives */
    const char *name;           /* its name, e.g. "exportflows-publisher" */
    const char *identity;       /* this candidate, e.g. the pod name; unique */
    unsigned duration_ms;       /* 0: LEASE_DURATION_MS */
    unsigned renew_deadline_ms; /* 0: LEASE_RENEW_DEADLINE_MS; < duration */
    unsigned retry_period_ms;   /* 0: LEASE_RETRY_PERIOD_MS; < renew deadline */
    /* Optional: told each time leadership is gained or lost. */
    void (*on_change)(void *ctx, bool leader);
    /* Optional: told about each failed step (not about "held by another"), as
     * REPORT_WARN with a negative errno value. */
    report_fn *report;
    void *ctx;
};

/* Copies the strings of 'lc'; 'cfg' is borrowed and must outlive the lease.  Caller
 * destroys '*ret' with lease_destroy().  -EINVAL for inconsistent timings or
 * missing names, -ENOMEM. */
int lease_create(struct kubeconfig *cfg, const struct lease_config *lc,
                 struct lease **ret, struct errmsg *err);

/* Starts the election thread; -EALREADY or -errno from pthread_create(). */
int lease_start(struct lease *lease, struct errmsg *err);

/* Stops the thread (interrupting a request in progress), stops being leader, and
 * when it was leader gives the Lease up (two requests, each bounded by half the
 * renew deadline).  Returns the result of giving up (0 when there was nothing
 * to give up) with a message in 'err' (may be NULL). */
int lease_stop(struct lease *lease, struct errmsg *err);

/* Stops (and gives the Lease up) if running, then frees; accepts NULL. */
void lease_destroy(struct lease *lease);

/* True while this candidate holds the Lease and renewed it within the deadline. */
bool lease_is_leader(const struct lease *lease);

#endif
