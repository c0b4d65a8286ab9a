/* nodestatus — the per-node status Lease: the state (which applier_report_fold()
 * keeps from applier reports), its JSON form, and the writer thread that applies
 * it.  See nodestatus.h. */
#include "exportflows/ovs/nodestatus.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/base/clock.h"
#include "exportflows/kube/kube.h"
#include "exportflows/base/worker.h"

#define BACKOFF_MIN_MS 1000u
#define LABEL_VALUE_MAX 63

/* ---- the state ---- */

void
nodestatus_state_init(struct nodestatus_state *s)
{
    memset(s, 0, sizeof *s);
}

bool
nodestatus_state_equal(const struct nodestatus_state *a, const struct nodestatus_state *b)
{
    return a->has_applied == b->has_applied && !strcmp(a->hash, b->hash)
           && a->has_generation == b->has_generation && a->generation == b->generation
           && a->last_apply_time == b->last_apply_time && a->in_sync == b->in_sync
           && !strcmp(a->last_error, b->last_error);
}

/* ---- names and JSON ---- */

int
nodestatus_lease_name(const char *node, char buf[NODESTATUS_NAME_MAX], struct errmsg *err)
{
    int n;

    if (!node || !kube_name_valid(node, NODESTATUS_NAME_MAX - 1)) {
        return errmsg_set(err, -EINVAL, "node name '%.253s' is not a valid object name",
                          node ? node : "");
    }
    n = snprintf(buf, NODESTATUS_NAME_MAX, "%s%s", NODESTATUS_LEASE_PREFIX, node);
    if (n < 0 || n >= NODESTATUS_NAME_MAX) {
        return errmsg_set(err, -EINVAL, "node name '%.253s' is too long for a Lease name "
                          "(at most %d characters)", node,
                          NODESTATUS_NAME_MAX - 1 - (int) strlen(NODESTATUS_LEASE_PREFIX));
    }
    return 0;
}

/* A node name is usable as a label value when it has at most 63 characters
 * (the subdomain characters are all allowed). */
static bool
valid_label_value(const char *s)
{
    return kube_name_valid(s, LABEL_VALUE_MAX);
}

const char *
nodestatus_state_word(const struct nodestatus_state *s)
{
    if (s->last_error[0]) {
        return "Failed";
    }
    return s->in_sync ? "Applied" : "Pending";
}

static json_t *
annotations_json(const struct nodestatus_state *s)
{
    char generation[24] = "", when[CLOCK_RFC3339_MAX] = "";

    if (s->has_applied && s->has_generation) {
        snprintf(generation, sizeof generation, "%lld", (long long) s->generation);
    }
    if (s->last_apply_time) {
        clock_format_rfc3339(s->last_apply_time, when);
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
                     NODESTATUS_ANNOTATION_STATE, nodestatus_state_word(s),
                     NODESTATUS_ANNOTATION_IN_SYNC, s->in_sync ? "true" : "false",
                     NODESTATUS_ANNOTATION_HASH, s->has_applied ? s->hash : "",
                     NODESTATUS_ANNOTATION_GENERATION, generation,
                     NODESTATUS_ANNOTATION_ERROR, s->last_error,
                     NODESTATUS_ANNOTATION_APPLY_TIME, when);
}

static json_t *
labels_json(const char *node)
{
    json_t *labels = json_pack("{s:s, s:s, s:s}", "app.kubernetes.io/name", "exportflows",
                               "app.kubernetes.io/component", "applier",
                               "app.kubernetes.io/part-of", "exportflows");

    if (labels && valid_label_value(node)
        && json_object_set_new(labels, NODESTATUS_LABEL_NODE, json_string(node)) < 0) {
        json_decref(labels);
        return NULL;
    }
    return labels;
}

/* Not the controller, and no blockOwnerDeletion (which would need rights on
 * Pods): the owner only makes the garbage collector remove the Lease with the
 * pod, e.g. when its node goes away. */
static int
add_owner(json_t *metadata, const struct nodestatus_identity *id)
{
    if (!id->pod_name || !id->pod_uid) {
        return 0;
    }
    return json_object_set_new(metadata, "ownerReferences",
                               json_pack("[{s:s, s:s, s:s, s:s}]", "apiVersion", "v1",
                                         "kind", "Pod", "name", id->pod_name,
                                         "uid", id->pod_uid));
}

static json_t *
spec_json(const struct nodestatus_identity *id, const struct timespec *now)
{
    char renew[CLOCK_RFC3339_MICRO_MAX], acquired[CLOCK_RFC3339_MICRO_MAX];
    json_t *spec;

    clock_format_rfc3339_micro(now, renew);
    spec = json_pack("{s:s, s:s}", "holderIdentity", id->node, "renewTime", renew);
    if (spec && id->acquired) {
        clock_format_rfc3339_micro(id->acquired, acquired);
        if (json_object_set_new(spec, "acquireTime", json_string(acquired)) < 0) {
            goto fail;
        }
    }
    if (spec && id->lease_duration_s
        && json_object_set_new(spec, "leaseDurationSeconds",
                               json_integer(id->lease_duration_s)) < 0) {
        goto fail;
    }
    return spec;
fail:
    json_decref(spec);
    return NULL;
}

json_t *
nodestatus_lease_json(const struct nodestatus_identity *id,
                      const struct nodestatus_state *s, const struct timespec *now)
{
    char name[NODESTATUS_NAME_MAX];
    json_t *labels, *annotations, *metadata = NULL, *spec = NULL;

    if (nodestatus_lease_name(id->node, name, NULL) < 0) {
        return NULL;
    }
    labels = labels_json(id->node);
    annotations = annotations_json(s);
    if (labels && annotations) {
        /* json_pack() takes "o" references also when it fails. */
        metadata = json_pack("{s:s, s:s, s:o, s:o}", "name", name, "namespace",
                             id->namespace, "labels", labels, "annotations", annotations);
        labels = annotations = NULL;
    }
    json_decref(labels);
    json_decref(annotations);
    spec = metadata ? spec_json(id, now) : NULL;
    if (!spec || add_owner(metadata, id) < 0) {
        json_decref(metadata);
        json_decref(spec);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "coordination.k8s.io/v1",
                     "kind", "Lease", "metadata", metadata, "spec", spec);
}

/* ---- the writer ---- */

#define WRITE_ATTEMPTS 4

struct nodestatus {
    char *namespace, *node, *pod_name, *pod_uid;
    char collection[KUBE_PATH_MAX]; /* .../leases, for POST */
    char path[KUBE_PATH_MAX];       /* .../leases/exportflows-node-<node> */
    unsigned min_interval_ms, heartbeat_ms, timeout_ms, backoff_max_ms;
    report_fn *report;
    void *ctx;
    struct metrics_series *writes_ok, *writes_error, *requests_total;
    struct kube_client *client;     /* the writer thread's */

    struct worker worker;           /* its lock guards everything below */
    struct nodestatus_state wanted; /* the latest nodestatus_set() */
    bool dirty;                     /* 'wanted' not written yet */

    /* Writer thread only. */
    struct nodestatus_state written;
    bool has_written;
    bool last_failed;
    uint64_t next_write_at;         /* monotonic ms: rate limit or backoff */
    uint64_t last_write_at;
    unsigned backoff_ms;
    json_t *stored;                 /* the Lease as last written; NULL: unknown */
    bool has_acquired;
    struct timespec acquired;       /* the first write attempt, wall clock */

    atomic_ulong writes, errors, requests;
};

static void
register_metrics(struct nodestatus *ns, struct metrics *m)
{
    static const char name[] = "exportflows_applier_status_writes_total";
    static const char help[] = "Writes of this node's status Lease, by result.";
    struct metrics_family *f;

    if (!m) {
        return;
    }
    f = metrics_family(m, METRICS_COUNTER, name, help, NULL, 0);
    ns->writes_ok = metrics_series(f, "result=\"ok\"");
    ns->writes_error = metrics_series(f, "result=\"error\"");
    ns->requests_total = metrics_series(metrics_family(m, METRICS_COUNTER,
        "exportflows_applier_status_requests_total",
        "Kubernetes API requests made to write this node's status Lease.", NULL, 0), "");
}

static void
apply_defaults(struct nodestatus *ns, const struct nodestatus_config *nc)
{
    ns->min_interval_ms = nc->min_interval_ms ? nc->min_interval_ms
                                              : NODESTATUS_MIN_INTERVAL_MS;
    ns->heartbeat_ms = nc->heartbeat_ms;
    ns->timeout_ms = nc->timeout_ms ? nc->timeout_ms : NODESTATUS_TIMEOUT_MS;
    ns->backoff_max_ms = nc->backoff_max_ms ? nc->backoff_max_ms
                                            : NODESTATUS_BACKOFF_MAX_MS;
    ns->backoff_ms = BACKOFF_MIN_MS;
    ns->report = nc->report;
    ns->ctx = nc->ctx;
}

static void
free_nodestatus(struct nodestatus *ns, bool synced)
{
    kube_client_destroy(ns->client);
    json_decref(ns->stored);
    if (synced) {
        worker_release(&ns->worker);
    }
    free(ns->namespace);
    free(ns->node);
    free(ns->pod_name);
    free(ns->pod_uid);
    free(ns);
}

int
nodestatus_create(struct kubeconfig *cfg, const struct nodestatus_config *nc,
                  struct nodestatus **ret, struct errmsg *err)
{
    char name[NODESTATUS_NAME_MAX];
    struct nodestatus *ns;
    int rc = nodestatus_lease_name(nc->node, name, err);

    if (rc < 0) {
        return rc;
    }
    if (!nc->namespace || !kube_name_valid(nc->namespace, 63)) {
        return errmsg_set(err, -EINVAL, "invalid namespace '%s'",
                          nc->namespace ? nc->namespace : "");
    }
    if (!nc->pod_name != !nc->pod_uid) {
        return errmsg_set(err, -EINVAL, "the pod's name and uid go together");
    }
    ns = calloc(1, sizeof *ns);
    if (!ns) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    if (worker_init(&ns->worker) < 0) {
        free(ns);
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    apply_defaults(ns, nc);
    nodestatus_state_init(&ns->wanted);
    ns->namespace = strdup(nc->namespace);
    ns->node = strdup(nc->node);
    ns->pod_name = nc->pod_name ? strdup(nc->pod_name) : NULL;
    ns->pod_uid = nc->pod_uid ? strdup(nc->pod_uid) : NULL;
    if (!ns->namespace || !ns->node || !ns->pod_name != !nc->pod_name
        || !ns->pod_uid != !nc->pod_uid) {
        rc = errmsg_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    rc = kube_path(ns->collection, sizeof ns->collection,
                   "/apis/coordination.k8s.io/v1/namespaces/%s/leases", nc->namespace);
    if (rc == 0) {
        rc = kube_path(ns->path, sizeof ns->path, "%s/%s", ns->collection, name);
    }
    if (rc < 0) {
        errmsg_set(err, -EINVAL, "Lease path too long");
        goto out;
    }
    rc = kube_client_create(cfg, &ns->client, err);
    if (rc < 0) {
        goto out;
    }
    register_metrics(ns, nc->metrics);
    *ret = ns;
    ns = NULL;
out:
    if (ns) {
        free_nodestatus(ns, true);
    }
    return rc;
}

/* kube_modify_fn: the whole Lease is ours; of what is stored only the
 * resourceVersion counts, and kube_modify() keeps it. */
static int
replace_lease(void *ctx, json_t *obj, bool exists, struct errmsg *err)
{
    json_object_clear(obj);
    return json_object_update_new(obj, json_deep_copy(ctx))
           ? errmsg_set(err, -ENOMEM, "out of memory") : KUBE_MODIFY_UPDATE;
}

/* Writes 'lease' with optimistic concurrency: one PUT when the Lease as last
 * written is known and still current, else GET then PUT or POST. */
static int
put_lease(struct nodestatus *ns, json_t *lease, struct errmsg *err)
{
    struct kube_modify_op op = {
        .path = ns->path, .collection = ns->collection, .fn = replace_lease, .ctx = lease,
        .attempts = WRITE_ATTEMPTS, .timeout_ms = ns->timeout_ms,
    };
    unsigned long before = kube_client_requests(ns->client);
    int rc = kube_modify(ns->client, &op, &ns->stored, err);
    unsigned long requests = kube_client_requests(ns->client) - before;

    atomic_fetch_add(&ns->requests, requests);
    metrics_add(ns->requests_total, (double) requests);
    return rc;
}

/* One write of 'state'; on the writer thread, without the lock. */
static int
write_lease(struct nodestatus *ns, const struct nodestatus_state *state)
{
    struct nodestatus_identity id = {
        .namespace = ns->namespace, .node = ns->node,
        .pod_name = ns->pod_name, .pod_uid = ns->pod_uid,
        .lease_duration_s = ns->heartbeat_ms ? 3 * ((ns->heartbeat_ms + 999) / 1000) : 0,
        .acquired = &ns->acquired,
    };
    struct timespec now = clock_realtime_now();
    struct errmsg err;
    json_t *lease;
    int rc;

    if (!ns->has_acquired) {
        ns->acquired = now;
        ns->has_acquired = true;
    }
    lease = nodestatus_lease_json(&id, state, &now);
    rc = lease ? put_lease(ns, lease, &err) : errmsg_set(&err, -ENOMEM, "out of memory");
    json_decref(lease);
    if (rc < 0) {
        atomic_fetch_add(&ns->errors, 1);
        metrics_add(ns->writes_error, 1);
        report_send(ns->report, ns->ctx, REPORT_WARN, rc, err.text);
    } else {
        atomic_fetch_add(&ns->writes, 1);
        metrics_add(ns->writes_ok, 1);
    }
    return rc;
}

/* Records the outcome of a write; with the lock held. */
static void
wrote(struct nodestatus *ns, const struct nodestatus_state *state, int rc, uint64_t now)
{
    ns->last_failed = rc < 0;
    if (rc < 0) {
        ns->dirty = true;       /* retried, with the newest state by then */
        ns->next_write_at = now + ns->backoff_ms;
        ns->backoff_ms = ns->backoff_ms >= ns->backoff_max_ms / 2 ? ns->backoff_max_ms
                                                                  : ns->backoff_ms * 2;
        return;
    }
    ns->written = *state;
    ns->has_written = true;
    ns->last_write_at = now;
    ns->next_write_at = now + ns->min_interval_ms;
    ns->backoff_ms = BACKOFF_MIN_MS;
}

/* When the writer has to act next (monotonic ms), or UINT64_MAX; with the lock
 * held. */
static uint64_t
next_deadline(const struct nodestatus *ns)
{
    uint64_t at = UINT64_MAX;

    if (ns->dirty) {
        at = ns->next_write_at;
    }
    if (ns->heartbeat_ms && ns->has_written
        && ns->last_write_at + ns->heartbeat_ms < at) {
        at = ns->last_write_at + ns->heartbeat_ms;
        if (at < ns->next_write_at) {
            at = ns->next_write_at;
        }
    }
    return at;
}

/* Writes the wanted state when it differs from what was written or a heartbeat
 * is due; with the lock held (released during the request). */
static void
write_now(struct nodestatus *ns, uint64_t now)
{
    struct nodestatus_state state = ns->wanted;
    int rc;

    ns->dirty = false;
    if (ns->has_written && nodestatus_state_equal(&state, &ns->written)
        && !(ns->heartbeat_ms && now >= ns->last_write_at + ns->heartbeat_ms)) {
        return;                 /* changed and changed back in between */
    }
    pthread_mutex_unlock(&ns->worker.lock);
    rc = write_lease(ns, &state);
    pthread_mutex_lock(&ns->worker.lock);
    wrote(ns, &state, rc, clock_monotonic_ms());
}

static void
writer_thread(void *arg)
{
    struct nodestatus *ns = arg;

    pthread_mutex_lock(&ns->worker.lock);
    while (!worker_stopping(&ns->worker)) {
        uint64_t now = clock_monotonic_ms();
        uint64_t at = next_deadline(ns);

        if (now >= at) {
            write_now(ns, now);
        } else {
            worker_wait_until(&ns->worker, at);
        }
    }
    /* A last change made just before stopping (e.g. inside the rate limit) is
     * still worth one try, unless the API server is known to be failing. */
    if (ns->dirty && !ns->last_failed) {
        write_now(ns, clock_monotonic_ms());
    }
    pthread_mutex_unlock(&ns->worker.lock);
}

int
nodestatus_start(struct nodestatus *ns, struct errmsg *err)
{
    /* No interrupt: stopping lets the last write finish (see nodestatus.h). */
    int r = worker_start(&ns->worker, writer_thread, ns, NULL, NULL, err);

    return r ? errmsg_prefix(err, r, "status writer") : 0;
}

void
nodestatus_set(struct nodestatus *ns, const struct nodestatus_state *state)
{
    pthread_mutex_lock(&ns->worker.lock);
    if (!nodestatus_state_equal(&ns->wanted, state) || !ns->has_written) {
        ns->wanted = *state;
        ns->dirty = true;
        worker_wake_locked(&ns->worker);
    }
    pthread_mutex_unlock(&ns->worker.lock);
}

void
nodestatus_stop(struct nodestatus *ns)
{
    worker_stop(&ns->worker);
}

void
nodestatus_destroy(struct nodestatus *ns)
{
    if (!ns) {
        return;
    }
    nodestatus_stop(ns);
    free_nodestatus(ns, true);
}

void
nodestatus_get_stats(const struct nodestatus *ns, struct nodestatus_stats *ret)
{
    ret->writes = atomic_load(&((struct nodestatus *) ns)->writes);
    ret->errors = atomic_load(&((struct nodestatus *) ns)->errors);
    ret->requests = atomic_load(&((struct nodestatus *) ns)->requests);
}
