/* kubewatch — see include/exportflows/kube/kubewatch.h. */
#include "exportflows/kube/kubewatch.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "exportflows/base/capbuf.h"
#include "exportflows/base/clock.h"
#include "exportflows/kube/kube.h"
#include "exportflows/base/worker.h"

/* Wait before retrying after 429 Too Many Requests (jittered into [1/2, 1]). */
#define KUBEWATCH_BUSY_RETRY_MS 1000

#define RV_MAX 128              /* resourceVersions are short opaque strings */
#define LIST_PAGE 500

struct kubewatch {
    struct kube_client *client; /* used by the watch thread only */
    struct watchstream *stream;
    struct kubewatch_config cfg; /* strings below are owned copies */
    char *path;
    struct capbuf query;        /* "&fieldSelector=..&labelSelector=.." */
    struct kubewatch_callbacks cb;
    void *ctx;

    char rv[RV_MAX];            /* "" means LIST next */
    bool gone;                  /* the stream said 410 */
    bool delivered;             /* the current WATCH delivered something */
    uint64_t rng;

    struct worker worker;       /* its lock only for the backoff waits */

    atomic_ulong lists, watches, events, bookmarks, gone_count, errors;
};

/* ---- pure decisions ---- */

enum kubewatch_action
kubewatch_action_for(const struct watchstream_event *ev)
{
    switch (ev->type) {
    case WATCHSTREAM_ADDED: case WATCHSTREAM_MODIFIED: case WATCHSTREAM_DELETED:
        return KUBEWATCH_DELIVER;
    case WATCHSTREAM_BOOKMARK:
        return KUBEWATCH_ADVANCE;
    case WATCHSTREAM_ERROR:
        break;
    }
    return ev->code == 410 ? KUBEWATCH_RELIST : KUBEWATCH_RETRY;
}

unsigned
kubewatch_backoff_ms(unsigned attempt, unsigned min_ms, unsigned max_ms, uint32_t random)
{
    uint64_t d = min_ms;

    for (unsigned i = 0; i < attempt && d < max_ms; i++) {
        d *= 2;
    }
    if (d > max_ms) {
        d = max_ms;
    }
    return (unsigned) (d / 2 + (d - d / 2) * random / UINT32_MAX);
}

unsigned
kubewatch_timeout_s(unsigned min_s, unsigned max_s, uint32_t random)
{
    if (max_s <= min_s) {
        return min_s;
    }
    return min_s + (unsigned) ((uint64_t) random % (max_s - min_s + 1));
}

/* xorshift64*: jitter only, no need for more. */
static uint32_t
next_random(struct kubewatch *w)
{
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return (uint32_t) ((w->rng * 0x2545F4914F6CDD1DULL) >> 32);
}

/* ---- setup ---- */

/* Appends "&NAME=escaped(value)" to the query string: -ENOMEM, or -E2BIG past
 * what a path can hold. */
static int
add_param(struct capbuf *query, const char *name, const char *value)
{
    char *esc;
    int r;

    if (!value || !*value) {
        return 0;
    }
    esc = curl_easy_escape(NULL, value, 0);
    if (!esc) {
        return -ENOMEM;
    }
    r = capbuf_printf(query, "&%s=%s", name, esc);
    curl_free(esc);
    return r;
}

static void
apply_defaults(struct kubewatch_config *c)
{
    c->timeout_min_s = c->timeout_min_s ? c->timeout_min_s : 240;
    c->timeout_max_s = c->timeout_max_s ? c->timeout_max_s : 480;
    if (c->timeout_max_s < c->timeout_min_s) {
        c->timeout_max_s = c->timeout_min_s;
    }
    c->backoff_min_ms = c->backoff_min_ms ? c->backoff_min_ms : 500;
    c->backoff_max_ms = c->backoff_max_ms ? c->backoff_max_ms : 30000;
    c->list_timeout_ms = c->list_timeout_ms ? c->list_timeout_ms : 60000;
    c->max_items = c->max_items ? c->max_items : 10000;
}

static void
seed(struct kubewatch *w)
{
    if (getrandom(&w->rng, sizeof w->rng, GRND_NONBLOCK) != sizeof w->rng || !w->rng) {
        struct timespec ts = clock_monotonic_now();

        w->rng = ((uint64_t) ts.tv_nsec << 20) ^ (uint64_t) ts.tv_sec ^ (uintptr_t) w;
        w->rng |= 1;
    }
}

int
kubewatch_create(struct kubeconfig *cfg, const struct kubewatch_config *wc,
                 const struct kubewatch_callbacks *cb, void *ctx, struct kubewatch **ret,
                 struct errmsg *err)
{
    struct kubewatch *w;
    int r;

    if (!wc->path || wc->path[0] != '/' || strchr(wc->path, '?') || !cb->synced
        || !cb->event) {
        return errmsg_set(err, -EINVAL, "watch: a collection path and the synced and "
                          "event callbacks are required");
    }
    if (wc->resource_version && strlen(wc->resource_version) >= RV_MAX) {
        return errmsg_set(err, -EINVAL, "watch: resourceVersion too long");
    }
    w = calloc(1, sizeof *w);
    if (!w || worker_init(&w->worker)) {
        free(w);
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    w->cfg = *wc;
    apply_defaults(&w->cfg);
    w->cfg.path = w->cfg.field_selector = w->cfg.label_selector = NULL;
    w->cfg.resource_version = NULL;
    w->cb = *cb;
    w->ctx = ctx;
    if (wc->resource_version) {
        snprintf(w->rv, sizeof w->rv, "%s", wc->resource_version);
    }
    seed(w);
    capbuf_init(&w->query, KUBE_PATH_MAX, 0);
    w->path = strdup(wc->path);
    if ((r = add_param(&w->query, "fieldSelector", wc->field_selector)) < 0
        || (r = add_param(&w->query, "labelSelector", wc->label_selector)) < 0) {
        r = errmsg_set(err, r, r == -E2BIG ? "selectors longer than %d bytes"
                       : "out of memory", KUBE_PATH_MAX);
    } else if (!w->path || watchstream_create(wc->max_event, &w->stream)) {
        r = errmsg_set(err, -ENOMEM, "out of memory");
    } else {
        r = kube_client_create(cfg, &w->client, err);
    }
    if (r) {
        kubewatch_destroy(w);
        return r;
    }
    kube_client_set_max_body(w->client, wc->max_list);
    *ret = w;
    return 0;
}

/* ---- the loop ---- */

static void
report(struct kubewatch *w, int code, const char *message)
{
    atomic_fetch_add(&w->errors, 1);
    if (!worker_stopping(&w->worker)) {
        report_send(w->cb.report, w->ctx, REPORT_WARN, code, message);
    }
}

static void
set_rv(struct kubewatch *w, const char *rv)
{
    if (rv && strlen(rv) < sizeof w->rv) {
        memcpy(w->rv, rv, strlen(rv) + 1);
    }
}

/* Moves the items of one LIST page into 'all'. */
static int
take_items(struct kubewatch *w, json_t *all, json_t *page, struct errmsg *err)
{
    json_t *items = json_object_get(page, "items");

    if (!items || json_is_null(items)) {
        return 0;               /* an empty list may come without "items" */
    }
    if (!json_is_array(items)) {
        return errmsg_set(err, -EPROTO, "LIST reply with items that are not a list");
    }
    if (json_array_size(items) > w->cfg.max_items - json_array_size(all)) {
        return errmsg_set(err, -E2BIG, "LIST %s: more than %zu items", w->path,
                          w->cfg.max_items);
    }
    return json_array_extend(all, items) ? errmsg_set(err, -ENOMEM, "out of memory") : 0;
}

/* One LIST page; '*page' is the reply. */
static int
list_page(struct kubewatch *w, const char *cont, json_t **page, struct errmsg *err)
{
    char path[KUBE_PATH_MAX];
    char *esc = cont ? curl_easy_escape(NULL, cont, 0) : NULL;
    int r;

    if (cont && !esc) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    r = kube_path(path, sizeof path, "%s?limit=%d%s%s%s", w->path, LIST_PAGE,
                  capbuf_str(&w->query), esc ? "&continue=" : "", esc ? esc : "");
    curl_free(esc);
    if (r) {
        return errmsg_set(err, r, "LIST %s: path too long", w->path);
    }
    return kube_get(w->client, path, w->cfg.list_timeout_ms, page, err);
}

/* LIST every page, then synced(); on success RV is the list's. */
static int
do_list(struct kubewatch *w, struct errmsg *err)
{
    json_t *all = json_array(), *page = NULL;
    const char *cont = NULL, *rv = NULL;
    int r = all ? 0 : -ENOMEM;

    while (!r) {
        json_decref(page);
        page = NULL;
        r = list_page(w, cont, &page, err);
        if (!r) {
            r = take_items(w, all, page, err);
        }
        if (r) {
            break;
        }
        json_t *meta = json_object_get(page, "metadata");

        rv = json_string_value(json_object_get(meta, "resourceVersion"));
        cont = json_string_value(json_object_get(meta, "continue"));
        if (!cont || !*cont) {
            break;
        }
    }
    if (!r && (!rv || !*rv || strlen(rv) >= sizeof w->rv)) {
        r = errmsg_set(err, -EPROTO, "LIST %s: reply without a usable resourceVersion",
                       w->path);
    }
    if (!r) {
        set_rv(w, rv);
        atomic_fetch_add(&w->lists, 1);
        w->cb.synced(w->ctx, all);
    }
    json_decref(page);
    json_decref(all);
    return r;
}

struct feed_ctx {
    struct kubewatch *w;
    struct errmsg *err;
};

/* Handles one line of the watch stream; an error ends the WATCH. */
static int
on_line(void *arg, const char *line, size_t len)
{
    struct feed_ctx *f = arg;
    struct kubewatch *w = f->w;
    struct watchstream_event ev;
    int r = watchstream_parse_event(line, len, &ev, f->err);

    if (r) {
        return r;
    }
    w->delivered = true;
    switch (kubewatch_action_for(&ev)) {
    case KUBEWATCH_DELIVER:
        set_rv(w, ev.resource_version);
        atomic_fetch_add(&w->events, 1);
        w->cb.event(w->ctx, ev.type, ev.object);
        break;
    case KUBEWATCH_ADVANCE:
        set_rv(w, ev.resource_version);
        atomic_fetch_add(&w->bookmarks, 1);
        break;
    case KUBEWATCH_RELIST:
        w->gone = true;
        r = -ESTALE;
        break;
    case KUBEWATCH_RETRY:
        r = errmsg_set(f->err, -EPROTO, "WATCH %s: ERROR event %ld: %s", w->path, ev.code,
                       ev.message);
        break;
    }
    watchstream_event_release(&ev);
    return r;
}

static int
on_bytes(void *arg, const char *data, size_t len)
{
    struct feed_ctx *f = arg;

    return watchstream_feed(f->w->stream, data, len, on_line, f, f->err);
}

/* One WATCH from RV until the server ends it or something fails. */
static int
do_watch(struct kubewatch *w, struct errmsg *err)
{
    unsigned timeout_s = kubewatch_timeout_s(w->cfg.timeout_min_s, w->cfg.timeout_max_s,
                                             next_random(w));
    struct feed_ctx f = { w, err };
    char path[KUBE_PATH_MAX];
    int r;

    r = kube_path(path, sizeof path,
                  "%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%u"
                  "&resourceVersion=%s%s", w->path, timeout_s, w->rv,
                  capbuf_str(&w->query));
    if (r) {
        return errmsg_set(err, r, "WATCH %s: path too long", w->path);
    }
    watchstream_reset(w->stream);
    w->gone = false;
    w->delivered = false;
    atomic_fetch_add(&w->watches, 1);
    /* The server ends the watch after timeout_s; the client deadline is a margin
     * beyond that for a server that went silent. */
    r = kube_stream(w->client, path, (timeout_s + 30) * 1000, 0, on_bytes, &f, NULL, err);
    if (r == -ESTALE || w->gone) {
        return -ESTALE;
    }
    if (!r && watchstream_pending(w->stream)) {
        r = errmsg_set(err, -EPROTO, "WATCH %s: the stream ended inside an event", w->path);
    }
    return r;
}

static void
run(void *arg)
{
    struct kubewatch *w = arg;
    unsigned attempt = 0;

    while (!worker_stopping(&w->worker)) {
        struct errmsg err = { "" };
        bool listing = !w->rv[0];
        int r = listing ? do_list(w, &err) : do_watch(w, &err);

        if (r == -ECANCELED || worker_stopping(&w->worker)) {
            break;
        }
        if (r == -ESTALE && !listing) {
            /* 410 Gone: the history is lost; LIST again right away.  (A LIST whose
             * continue token expired gets 410 too; that one backs off below.) */
            atomic_fetch_add(&w->gone_count, 1);
            w->rv[0] = '\0';
            continue;
        }
        if (!r || (!listing && w->delivered)) {
            attempt = 0;
        }
        if (r == -EBUSY) {
            /* 429: a live server asks to come back shortly (kube-apiserver says
             * so while its storage initialises after a start, with Retry-After:
             * 1).  Earlier failures must not stretch that into a long backoff. */
            report(w, r, err.text);
            worker_sleep(&w->worker, kubewatch_backoff_ms(0, KUBEWATCH_BUSY_RETRY_MS,
                                                          KUBEWATCH_BUSY_RETRY_MS,
                                                          next_random(w)));
        } else if (r) {
            report(w, r, err.text);
            /* Until the backoff ends or kubewatch_stop() comes. */
            worker_sleep(&w->worker, kubewatch_backoff_ms(attempt, w->cfg.backoff_min_ms,
                                                          w->cfg.backoff_max_ms,
                                                          next_random(w)));
            attempt += attempt < 32;
        }
    }
}

int
kubewatch_start(struct kubewatch *w, struct errmsg *err)
{
    int r = worker_start(&w->worker, run, w, kube_client_interrupt, w->client, err);

    return r ? errmsg_prefix(err, r, "watch %s", w->path) : 0;
}

void
kubewatch_stop(struct kubewatch *w)
{
    worker_stop(&w->worker);
}

void
kubewatch_destroy(struct kubewatch *w)
{
    if (!w) {
        return;
    }
    kubewatch_stop(w);
    kube_client_destroy(w->client);
    watchstream_destroy(w->stream);
    worker_release(&w->worker);
    free(w->path);
    capbuf_release(&w->query);
    free(w);
}

void
kubewatch_stats(const struct kubewatch *w, struct kubewatch_stats *ret)
{
    struct kubewatch *m = (struct kubewatch *) w;

    ret->lists = atomic_load(&m->lists);
    ret->watches = atomic_load(&m->watches);
    ret->events = atomic_load(&m->events);
    ret->bookmarks = atomic_load(&m->bookmarks);
    ret->gone = atomic_load(&m->gone_count);
    ret->errors = atomic_load(&m->errors);
}
