/* kubewatch — list then watch one Kubernetes collection, forever, in its own thread.
 *
 * The state machine, as client-go's reflector does it:
 *
 *   LIST  path?limit=500[&fieldSelector=..][&labelSelector=..] (following
 *         "continue"), then synced(items): the complete current state.
 *   WATCH path?watch=1&allowWatchBookmarks=true&timeoutSeconds=T&resourceVersion=RV
 *         with T random in [timeout_min_s, timeout_max_s] so that many watchers do
 *         not reconnect in step.  Each ADDED/MODIFIED/DELETED goes to event(); it
 *         and each BOOKMARK advance RV.  When the server ends the watch, watch
 *         again from RV.
 *   410 Gone, as the watch reply or as an in-stream ERROR event with code 410 (RV
 *         too old: the server no longer has the history) -> LIST again.
 *   429 Too Many Requests -> wait about a second (what kube-apiserver asks for
 *         while its storage initialises after a start), then retry, however long
 *         the backoff had grown.
 *   Any other failure (connection refused or lost, timeout, 5xx, a cut or
 *         malformed event, an event over the cap) -> error(), then wait a jittered
 *         exponential backoff (backoff_min_ms doubling up to backoff_max_ms, each
 *         wait random in [d/2, d]), then WATCH from RV again (a failed LIST is
 *         retried as a LIST).  A watch that delivered something resets the backoff.
 *
 * Users are level-triggered: synced() hands the whole list so that the state can be
 * recomputed from scratch (after a relist, events between the old RV and the new
 * list were never seen); event() hands each change after that.
 *
 * Threading contract:
 *   - kubewatch_start() runs the loop in a new thread; every callback runs on that
 *     thread, one at a time, in stream order.  Objects passed to callbacks are
 *     borrowed: valid during the call only (json_incref() or json_deep_copy() to
 *     keep one).  Callbacks should be quick; a slow callback delays reading the
 *     stream, it loses nothing.
 *   - kubewatch_stop() may be called from any thread except from inside a callback
 *     (it joins the watch thread); it interrupts a transfer in progress or a
 *     backoff wait at once and returns when the thread has ended: no callback runs
 *     after it returns.  A kubewatch runs at most once: start, stop, destroy.
 *   - kubewatch_stats() may be called from any thread at any time. */
#ifndef EXPORTFLOWS_KUBEWATCH_H
#define EXPORTFLOWS_KUBEWATCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "exportflows/base/errmsg.h"
#include "exportflows/kube/kubeconfig.h"
#include "exportflows/base/report.h"
#include "exportflows/kube/watchstream.h"

struct kubewatch;

struct kubewatch_config {
    const char *path;           /* collection, e.g. "/api/v1/namespaces/NS/configmaps"
                                 * or "/apis/operator.openshift.io/v1/networks" */
    const char *field_selector; /* optional, e.g. "metadata.name=exportflows-config" */
    const char *label_selector; /* optional */
    const char *resource_version; /* optional: first WATCH from here, without a LIST */
    unsigned timeout_min_s;     /* watch timeoutSeconds range; 0: 240 */
    unsigned timeout_max_s;     /* 0: 480 */
    unsigned backoff_min_ms;    /* 0: 500 */
    unsigned backoff_max_ms;    /* 0: 30000 */
    unsigned list_timeout_ms;   /* deadline of one LIST page; 0: 60000 */
    size_t max_event;           /* one watch event; 0: WATCHSTREAM_MAX_LINE_DEFAULT */
    size_t max_list;            /* one LIST page reply; 0: KUBE_MAX_BODY_DEFAULT */
    size_t max_items;           /* items of all LIST pages together; 0: 10000 */
};

struct kubewatch_callbacks {
    /* The whole collection after a LIST: 'items' is a JSON array (borrowed). */
    void (*synced)(void *ctx, const json_t *items);
    /* One change: ADDED, MODIFIED or DELETED and the object (borrowed). */
    void (*event)(void *ctx, enum watchstream_type type, const json_t *object);
    /* Optional: a failure the loop will retry (REPORT_WARN, 'code' a negative
     * errno value). */
    report_fn *report;
};

/* Counters, for tests and metrics. */
struct kubewatch_stats {
    unsigned long lists;        /* complete LISTs delivered through synced() */
    unsigned long watches;      /* WATCH requests started */
    unsigned long events;       /* events delivered through event() */
    unsigned long bookmarks;
    unsigned long gone;         /* 410 Gone replies and ERROR events -> relist */
    unsigned long errors;       /* failures retried after a backoff */
};

/* Prepares a watch of 'wc->path' (the strings in 'wc' are copied; 'cfg' is
 * borrowed and must outlive the watch).  'cb->synced' and 'cb->event' are
 * required.  Nothing runs until kubewatch_start().  Caller destroys '*ret' with
 * kubewatch_destroy().  -EINVAL or -ENOMEM with a message. */
int kubewatch_create(struct kubeconfig *cfg, const struct kubewatch_config *wc,
                     const struct kubewatch_callbacks *cb, void *ctx,
                     struct kubewatch **ret, struct errmsg *err);

/* Starts the watch thread.  -errno from pthread_create(), or -EALREADY. */
int kubewatch_start(struct kubewatch *w, struct errmsg *err);

/* Stops the watch thread and waits for it (see the threading contract above).
 * Does nothing when it is not running. */
void kubewatch_stop(struct kubewatch *w);

/* Stops the thread if it runs, then frees everything; accepts NULL. */
void kubewatch_destroy(struct kubewatch *w);

void kubewatch_stats(const struct kubewatch *w, struct kubewatch_stats *ret);

/* ---- the decisions, exposed for unit tests ---- */

enum kubewatch_action {
    KUBEWATCH_DELIVER,          /* ADDED/MODIFIED/DELETED: advance RV, call event() */
    KUBEWATCH_ADVANCE,          /* BOOKMARK: advance RV only */
    KUBEWATCH_RELIST,           /* ERROR 410: LIST again */
    KUBEWATCH_RETRY,            /* any other ERROR: back off, WATCH again from RV */
};

enum kubewatch_action kubewatch_action_for(const struct watchstream_event *ev);

/* The wait before retry number 'attempt' (0 for the first): min(max_ms,
 * min_ms * 2^attempt) scaled into [1/2, 1] by 'random'. */
unsigned kubewatch_backoff_ms(unsigned attempt, unsigned min_ms, unsigned max_ms,
                              uint32_t random);

/* A watch timeout in [min_s, max_s] chosen by 'random'. */
unsigned kubewatch_timeout_s(unsigned min_s, unsigned max_s, uint32_t random);

#endif
