/* summarizer — see include/exportflows/kube/summarizer.h.
 *
 * Layout: the state the watch thread and summarizer_observe() feed, then the
 * worker (fold, decide, write, tell), then the life cycle. */
#include "exportflows/kube/summarizer.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exportflows/base/clock.h"
#include "exportflows/admission/flowconfig.h"
#include "exportflows/kube/kube.h"
#include "exportflows/kube/kubeevent.h"
#include "exportflows/kube/kubewatch.h"
#include "exportflows/kube/nodesummary.h"
#include "exportflows/base/worker.h"

#define REQUEST_TIMEOUT_MS 10000u

struct summarizer {
    char *namespace, *leases_namespace, *configmap, *component, *identity;
    char leases_path[KUBE_PATH_MAX];
    char cm_path[KUBE_PATH_MAX], cm_collection[KUBE_PATH_MAX];
    const struct lease *lease;
    unsigned min_interval_ms, settle_ms, refold_ms;
    report_fn *report;
    void *ctx;
    struct kubewatch *watch;
    struct kube_client *client;     /* the worker's */
    struct metrics_series *m_nodes[3], *m_behind_s, *m_writes;

    struct worker worker;           /* its lock guards everything below */
    json_t *leases;                 /* Lease name -> Lease, as watched */
    json_t *cm_annotations;         /* the status ConfigMap's, as last read or
                                     * written; NULL: not known yet */
    char hash[FLOWCONFIG_HASH_SIZE];
    bool dirty;                     /* an input changed since the last fold */
    bool synced;                    /* the Leases were listed at least once */
    struct nodesummary summary;     /* the last fold */
    json_t *wanted;                 /* its annotations */
    const char *event_type, *event_reason;
    char event_message[KUBEEVENT_MESSAGE_MAX + 1];
    uint64_t changed_at;            /* monotonic ms: the ConfigMap differs since; 0 */
    uint64_t last_write_at;         /* monotonic ms of the last write attempt; 0 */
};

static void
fail(struct summarizer *s, int code, const char *message)
{
    report_send(s->report, s->ctx, REPORT_WARN, code, message);
}

/* ---- inputs ---- */

/* Wakes the worker for a new fold; with the lock held. */
static void
poke(struct summarizer *s)
{
    s->dirty = true;
    worker_wake_locked(&s->worker);
}

static void
on_synced(void *ctx, const json_t *items)
{
    struct summarizer *s = ctx;
    json_t *leases = json_object(), *item;
    size_t i;

    json_array_foreach(items, i, item) {
        const char *name = kube_meta_string(item, "name");

        if (leases && name && json_object_set_new(leases, name, json_deep_copy(item))) {
            json_decref(leases);
            leases = NULL;
        }
    }
    if (!leases) {
        fail(s, -ENOMEM, "cannot keep the node status leases: out of memory");
        return;
    }
    pthread_mutex_lock(&s->worker.lock);
    json_decref(s->leases);
    s->leases = leases;
    s->synced = true;
    poke(s);
    pthread_mutex_unlock(&s->worker.lock);
}

static void
on_event(void *ctx, enum watchstream_type type, const json_t *object)
{
    struct summarizer *s = ctx;
    const char *name = kube_meta_string(object, "name");
    json_t *copy;

    if (!name) {
        return;
    }
    copy = type == WATCHSTREAM_DELETED ? NULL : json_deep_copy(object);
    pthread_mutex_lock(&s->worker.lock);
    if (type == WATCHSTREAM_DELETED) {
        json_object_del(s->leases, name);
    } else if (copy) {
        /* On ENOMEM the stale copy stays: the next event or relist fixes it. */
        json_object_set_new(s->leases, name, copy);
    }
    poke(s);
    pthread_mutex_unlock(&s->worker.lock);
}

static void
on_watch_report(void *ctx, const struct report *r)
{
    char line[ERRMSG_MAX + 64];

    snprintf(line, sizeof line, "watch of the node status leases failed, retrying: %s",
             r->message);
    fail(ctx, r->code, line);
}

void
summarizer_observe(struct summarizer *s, const char *published_hash)
{
    pthread_mutex_lock(&s->worker.lock);
    snprintf(s->hash, sizeof s->hash, "%s", published_hash ? published_hash : "");
    poke(s);
    pthread_mutex_unlock(&s->worker.lock);
}

/* ---- the worker ---- */

static void
set_metrics(struct summarizer *s, int64_t now)
{
    metrics_set(s->m_nodes[NODESUMMARY_IN_SYNC], (double) s->summary.in_sync);
    metrics_set(s->m_nodes[NODESUMMARY_OUT_OF_SYNC], (double) s->summary.out_of_sync);
    metrics_set(s->m_nodes[NODESUMMARY_FAILED], (double) s->summary.failed);
    metrics_set(s->m_behind_s, (double) nodesummary_behind_seconds(&s->summary, now));
}

/* Folds the Leases again; with the lock held.  Until they were listed once
 * there is nothing to say. */
static void
refold(struct summarizer *s)
{
    int64_t now = (int64_t) time(NULL);
    struct nodesummary next;
    json_t *wanted;

    s->dirty = false;
    if (!s->synced) {
        return;
    }
    nodesummary_init(&next);
    if (nodesummary_fold(s->leases, s->hash, &s->summary, now, &next)) {
        return;                 /* ENOMEM: the next fold tries again */
    }
    wanted = nodesummary_annotations(&next);
    if (!wanted) {
        nodesummary_release(&next);
        return;
    }
    nodesummary_release(&s->summary);
    s->summary = next;
    json_decref(s->wanted);
    s->wanted = wanted;
    nodesummary_event(&s->summary, &s->event_type, &s->event_reason, s->event_message,
                      sizeof s->event_message);
    set_metrics(s, now);
}

/* When the ConfigMap should be written (monotonic ms), or UINT64_MAX when it
 * need not or may not be; with the lock held. */
static uint64_t
write_due(struct summarizer *s, uint64_t now)
{
    uint64_t at;

    if (s->lease && !lease_is_leader(s->lease)) {
        /* Another replica may write meanwhile: read it again once leading. */
        json_decref(s->cm_annotations);
        s->cm_annotations = NULL;
    }
    if (!s->wanted || !s->lease || !lease_is_leader(s->lease)
        || (s->cm_annotations
            && nodesummary_annotations_current(s->cm_annotations, s->wanted))) {
        s->changed_at = 0;
        return UINT64_MAX;
    }
    if (!s->changed_at) {
        s->changed_at = now;
    }
    at = s->changed_at + s->settle_ms;
    if (s->last_write_at && s->last_write_at + s->min_interval_ms > at) {
        at = s->last_write_at + s->min_interval_ms;
    }
    return at;
}

/* One write's inputs and outcome, for modify_annotations(). */
struct write {
    const struct summarizer *s;
    const json_t *wanted;
    bool updated;               /* the last attempt changed the ConfigMap */
    bool news;                  /* ... beyond the oldest apply time */
};

/* The summary's annotations on the ConfigMap 'obj', except the oldest apply
 * time, are those of 'wanted'. */
static bool
same_news(const json_t *annotations, const json_t *wanted)
{
    json_t *counts = json_copy((json_t *) wanted);
    bool same;

    if (!counts) {
        return false;
    }
    json_object_del(counts, NODESUMMARY_ANNOTATION_OLDEST);
    same = nodesummary_annotations_current(annotations, counts);
    json_decref(counts);
    return same;
}

static int
modify_annotations(void *ctx, json_t *obj, bool exists, struct errmsg *err)
{
    struct write *w = ctx;
    json_t *metadata = json_object_get(obj, "metadata");
    json_t *annotations = json_object_get(metadata, "annotations");

    (void) exists;              /* no collection: kube_modify() returns -ENOENT */
    w->updated = w->news = false;
    if (nodesummary_annotations_current(annotations, w->wanted)) {
        return KUBE_MODIFY_UNCHANGED;
    }
    /* Checked last, right before the PUT: a replica that lost the Lease
     * meanwhile must not write. */
    if (!lease_is_leader(w->s->lease)) {
        return errmsg_set(err, -EPERM, "not the leader");
    }
    if (!json_is_object(annotations)) {
        annotations = json_object();
        if (!annotations || json_object_set_new(metadata, "annotations", annotations)) {
            return errmsg_set(err, -ENOMEM, "out of memory");
        }
    }
    w->news = !same_news(annotations, w->wanted);
    if (json_object_update(annotations, (json_t *) w->wanted)) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    w->updated = true;
    return KUBE_MODIFY_UPDATE;
}

/* Creates the status ConfigMap with the annotations 'wanted'; '*ret' the object
 * as stored.  -EPERM when this replica no longer leads. */
static int
create_status(struct summarizer *s, const json_t *wanted, json_t **ret, struct errmsg *err)
{
    json_t *obj;
    int r;

    if (!lease_is_leader(s->lease)) {
        return errmsg_set(err, -EPERM, "not the leader");
    }
    obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}, s:O}}", "apiVersion", "v1",
                    "kind", "ConfigMap", "metadata", "name", s->configmap,
                    "namespace", s->namespace, "labels",
                    "app.kubernetes.io/name", "exportflows",
                    "app.kubernetes.io/component", "status",
                    "annotations", (json_t *) wanted);
    if (!obj) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    r = kube_create(s->client, s->cm_collection, obj, REQUEST_TIMEOUT_MS, ret, err);
    json_decref(obj);
    return r;
}

/* Tells, with an Event about the status ConfigMap ('stored', borrowed). */
static void
post_event(struct summarizer *s, const json_t *stored, const char *type, const char *reason,
           const char *message)
{
    struct kubeevent ev = {
        .namespace = s->namespace, .api_version = "v1", .kind = "ConfigMap",
        .object = stored, .type = type, .reason = reason, .message = message,
        .component = s->component, .instance = s->identity,
    };
    struct errmsg err = { "" };
    char line[ERRMSG_MAX + 64];
    int r = kubeevent_post(s->client, &ev, &err);

    if (r) {
        snprintf(line, sizeof line, "cannot create an event about configmap %s/%s: %s",
                 s->namespace, s->configmap, err.text);
        fail(s, r, line);
    }
}

/* Writes the summary; with the lock held (released during the requests). */
static void
write_summary(struct summarizer *s, uint64_t now)
{
    char type[16], reason[32], message[sizeof s->event_message], line[ERRMSG_MAX + 64];
    json_t *wanted = json_deep_copy(s->wanted), *stored = NULL;
    struct write w = { .s = s, .wanted = wanted };
    struct kube_modify_op op = { .path = s->cm_path, .fn = modify_annotations, .ctx = &w,
                                 .timeout_ms = REQUEST_TIMEOUT_MS };
    struct errmsg err = { "" };
    int r;

    snprintf(type, sizeof type, "%s", s->event_type);
    snprintf(reason, sizeof reason, "%s", s->event_reason);
    memcpy(message, s->event_message, sizeof message);
    s->last_write_at = now;
    pthread_mutex_unlock(&s->worker.lock);
    r = wanted ? kube_modify(s->client, &op, &stored, &err)
               : errmsg_set(&err, -ENOMEM, "out of memory");
    if (r == -ENOENT) {
        r = create_status(s, wanted, &stored, &err);
        w.updated = w.news = r == 0;
    }
    if (r == 0 && w.updated) {
        metrics_add(s->m_writes, 1);
        if (w.news) {
            post_event(s, stored, type, reason, message);
        }
    } else if (r && r != -EPERM && r != -EEXIST && r != -ECANCELED) {
        /* -EEXIST: created meanwhile by another replica; the next write reads it. */
        snprintf(line, sizeof line, "cannot write the node summary to configmap %s/%s: %s",
                 s->namespace, s->configmap, err.text);
        fail(s, r, line);
    }
    pthread_mutex_lock(&s->worker.lock);
    if (r == 0) {
        /* The watch brings the same soon; meanwhile do not write it again. */
        json_decref(s->cm_annotations);
        s->cm_annotations = json_deep_copy(kube_meta(stored, "annotations"));
    }
    json_decref(stored);
    json_decref(wanted);
}

static void
worker_main(void *arg)
{
    struct summarizer *s = arg;
    uint64_t refold_at = 0;

    pthread_mutex_lock(&s->worker.lock);
    while (!worker_stopping(&s->worker)) {
        uint64_t now = clock_monotonic_ms(), write_at;

        if (s->dirty || now >= refold_at) {
            refold(s);
            refold_at = now + s->refold_ms;
        }
        write_at = write_due(s, now);
        if (now >= write_at) {
            write_summary(s, now);
            continue;
        }
        if (!s->dirty) {
            worker_wait_until(&s->worker, write_at < refold_at ? write_at : refold_at);
        }
    }
    pthread_mutex_unlock(&s->worker.lock);
}

/* ---- life cycle ---- */

static void
register_metrics(struct summarizer *s, struct metrics *m)
{
    struct metrics_family *nodes;

    if (!m) {
        return;
    }
    nodes = metrics_family(m, METRICS_GAUGE, "exportflows_publisher_nodes",
                           "Nodes by the state of their status Lease: in_sync (applied the "
                           "published config), failed, out_of_sync (neither yet).", NULL, 0);
    s->m_nodes[NODESUMMARY_IN_SYNC] = metrics_series(nodes, "state=\"in_sync\"");
    s->m_nodes[NODESUMMARY_OUT_OF_SYNC] = metrics_series(nodes, "state=\"out_of_sync\"");
    s->m_nodes[NODESUMMARY_FAILED] = metrics_series(nodes, "state=\"failed\"");
    s->m_behind_s = metrics_series(metrics_family(m, METRICS_GAUGE,
        "exportflows_publisher_nodes_out_of_sync_seconds",
        "How long the node longest without the published config (failed or out of "
        "sync) has been so; 0 when every node is in sync.", NULL, 0), "");
    s->m_writes = metrics_series(metrics_family(m, METRICS_COUNTER,
        "exportflows_publisher_nodes_annotation_writes_total",
        "Writes of the node summary annotations to the status ConfigMap.", NULL, 0), "");
}

static bool
copy_strings(struct summarizer *s, const struct summarizer_config *cfg)
{
    s->namespace = strdup(cfg->namespace);
    s->leases_namespace = strdup(cfg->leases_namespace ? cfg->leases_namespace
                                                       : cfg->namespace);
    s->configmap = strdup(cfg->configmap);
    s->component = strdup(cfg->component ? cfg->component : "exportflows-publisher");
    s->identity = strdup(cfg->identity ? cfg->identity : "");
    return s->namespace && s->leases_namespace && s->configmap && s->component
           && s->identity;
}

static int
make_parts(struct summarizer *s, const struct summarizer_config *cfg, struct errmsg *err)
{
    static const struct kubewatch_callbacks callbacks = { on_synced, on_event,
                                                          on_watch_report };
    struct kubewatch_config wc = {
        .path = s->leases_path, .label_selector = SUMMARIZER_LABEL_SELECTOR,
        .timeout_min_s = cfg->watch_timeout_min_s, .timeout_max_s = cfg->watch_timeout_max_s,
        .backoff_min_ms = cfg->watch_backoff_min_ms,
        .backoff_max_ms = cfg->watch_backoff_max_ms,
    };
    int r;

    if (kube_path(s->leases_path, sizeof s->leases_path,
                  "/apis/coordination.k8s.io/v1/namespaces/%s/leases", s->leases_namespace)
        || kube_path(s->cm_collection, sizeof s->cm_collection,
                     "/api/v1/namespaces/%s/configmaps", s->namespace)
        || kube_path(s->cm_path, sizeof s->cm_path, "%s/%s", s->cm_collection, s->configmap)) {
        return errmsg_set(err, -EINVAL, "summarizer: namespace or configmap name too long");
    }
    s->leases = json_object();
    if (!s->leases) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    r = kube_client_create(cfg->kubeconfig, &s->client, err);
    return r ? r : kubewatch_create(cfg->kubeconfig, &wc, &callbacks, s, &s->watch, err);
}

int
summarizer_create(const struct summarizer_config *cfg, struct summarizer **ret,
                  struct errmsg *err)
{
    struct summarizer *s;
    int r;

    if (!cfg->kubeconfig || !cfg->namespace || !cfg->configmap) {
        return errmsg_set(err, -EINVAL, "summarizer: kubeconfig, namespace and configmap "
                          "are required");
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    r = worker_init(&s->worker);
    if (r) {
        free(s);
        return errmsg_set(err, r, "summarizer: cannot make a lock: %s", strerror(-r));
    }
    nodesummary_init(&s->summary);
    s->lease = cfg->lease;
    s->min_interval_ms = cfg->min_interval_ms ? cfg->min_interval_ms
                                              : SUMMARIZER_MIN_INTERVAL_MS;
    s->settle_ms = cfg->settle_ms ? cfg->settle_ms : SUMMARIZER_SETTLE_MS;
    s->refold_ms = cfg->refold_ms ? cfg->refold_ms : SUMMARIZER_REFOLD_MS;
    s->report = cfg->report;
    s->ctx = cfg->ctx;
    r = copy_strings(s, cfg) ? make_parts(s, cfg, err)
                             : errmsg_set(err, -ENOMEM, "out of memory");
    if (r) {
        summarizer_destroy(s);
        return r;
    }
    register_metrics(s, cfg->metrics);
    *ret = s;
    return 0;
}

int
summarizer_start(struct summarizer *s, struct errmsg *err)
{
    /* The worker first: it refuses a second start, and does nothing before the
     * watch's first list. */
    int r = worker_start(&s->worker, worker_main, s, kube_client_interrupt, s->client, err);

    if (r) {
        return errmsg_prefix(err, r, "summarizer");
    }
    r = kubewatch_start(s->watch, err);
    if (r) {
        worker_stop(&s->worker);
    }
    return r;
}

void
summarizer_stop(struct summarizer *s)
{
    worker_stop(&s->worker);
    kubewatch_stop(s->watch);
}

void
summarizer_destroy(struct summarizer *s)
{
    if (!s) {
        return;
    }
    summarizer_stop(s);
    kubewatch_destroy(s->watch);
    kube_client_destroy(s->client);
    json_decref(s->leases);
    json_decref(s->cm_annotations);
    json_decref(s->wanted);
    nodesummary_release(&s->summary);
    worker_release(&s->worker);
    free(s->namespace);
    free(s->leases_namespace);
    free(s->configmap);
    free(s->component);
    free(s->identity);
    free(s);
}
