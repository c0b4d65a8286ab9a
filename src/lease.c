/* lease — see include/exportflows/lease.h. */
#include "exportflows/lease.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exportflows/clock.h"
#include "exportflows/jsontext.h"
#include "exportflows/kube.h"
#include "exportflows/monowait.h"

#define RECORD_MAX 512

struct lease {
    struct kubeconfig *kcfg;
    struct kube_client *client;
    struct lease_config cfg;    /* strings below are owned copies */
    char path[KUBE_PATH_MAX];   /* the Lease object */
    char collection[KUBE_PATH_MAX];
    unsigned request_timeout_ms;

    /* What we last saw of the record, and when (our monotonic clock). */
    char observed[RECORD_MAX];
    uint64_t observed_ms;

    /* The Lease as stored by our last successful write while we hold it, or NULL.
     * A holder renews from it without reading first, as client-go does: one
     * request per retry period instead of two.  A 409 or any other failure drops
     * it, and the next step reads the Lease again. */
    json_t *held;

    atomic_bool leader;
    atomic_uint_fast64_t renewed_ms; /* last successful acquire or renew */

    pthread_t thread;
    bool started, joined;
    atomic_bool stopping;
    pthread_mutex_t lock;
    pthread_cond_t wake;
};

/* The current time as a Kubernetes MicroTime: "2026-11-29T20:00:00.123456Z". */
static void
micro_time(char buf[CLOCK_RFC3339_MICRO_MAX])
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    clock_format_rfc3339_micro(&ts, buf);
}

/* ---- setup ---- */

static int
check_config(const struct lease_config *c, struct errmsg *err)
{
    if (!c->namespace || !*c->namespace || !c->name || !*c->name || !c->identity
        || !*c->identity) {
        return errmsg_set(err, -EINVAL, "lease: namespace, name and identity are required");
    }
    if (c->renew_deadline_ms >= c->duration_ms
        || c->retry_period_ms >= c->renew_deadline_ms || c->retry_period_ms < 10) {
        return errmsg_set(err, -EINVAL, "lease: need retry period < renew deadline < "
                          "lease duration");
    }
    return 0;
}

static void
free_strings(struct lease *l)
{
    free((char *) l->cfg.namespace);
    free((char *) l->cfg.name);
    free((char *) l->cfg.identity);
}

int
lease_create(struct kubeconfig *cfg, const struct lease_config *lc, struct lease **ret,
             struct errmsg *err)
{
    struct lease_config c = *lc;
    struct lease *l;
    int r;

    c.duration_ms = c.duration_ms ? c.duration_ms : LEASE_DURATION_MS;
    c.renew_deadline_ms = c.renew_deadline_ms ? c.renew_deadline_ms : LEASE_RENEW_DEADLINE_MS;
    c.retry_period_ms = c.retry_period_ms ? c.retry_period_ms : LEASE_RETRY_PERIOD_MS;
    r = check_config(&c, err);
    if (r) {
        return r;
    }
    l = calloc(1, sizeof *l);
    if (!l) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    l->kcfg = cfg;
    l->cfg = c;
    l->cfg.namespace = strdup(c.namespace);
    l->cfg.name = strdup(c.name);
    l->cfg.identity = strdup(c.identity);
    l->request_timeout_ms = c.renew_deadline_ms / 2 > 1000 ? c.renew_deadline_ms / 2 : 1000;
    if (!l->cfg.namespace || !l->cfg.name || !l->cfg.identity
        || monowait_init(&l->lock, &l->wake)) {
        free_strings(l);
        free(l);
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    r = kube_path(l->collection, sizeof l->collection,
                  "/apis/coordination.k8s.io/v1/namespaces/%s/leases", c.namespace);
    if (!r) {
        r = kube_path(l->path, sizeof l->path, "%s/%s", l->collection, c.name);
    }
    if (r) {
        errmsg_set(err, r, "lease: namespace or name too long");
    } else {
        r = kube_client_create(cfg, &l->client, err);
    }
    if (r) {
        lease_destroy(l);
        return r;
    }
    *ret = l;
    return 0;
}

/* ---- one step ---- */

static unsigned
duration_s(const struct lease *l)
{
    return (l->cfg.duration_ms + 999) / 1000;
}

/* A new Lease held by us. */
static json_t *
new_lease(const struct lease *l, const char *now)
{
    return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:I, s:s, s:s, s:i}}",
                     "apiVersion", "coordination.k8s.io/v1", "kind", "Lease",
                     "metadata", "name", l->cfg.name, "namespace", l->cfg.namespace,
                     "spec", "holderIdentity", l->cfg.identity,
                     "leaseDurationSeconds", (json_int_t) duration_s(l),
                     "acquireTime", now, "renewTime", now, "leaseTransitions", 0);
}

/* Notes the record as seen now when it differs from what we saw before. */
static void
observe(struct lease *l, const json_t *spec, uint64_t now)
{
    char *text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
    char rec[RECORD_MAX];

    snprintf(rec, sizeof rec, "%s", text ? text : "");
    free(text);
    if (strcmp(rec, l->observed)) {
        memcpy(l->observed, rec, sizeof rec);
        l->observed_ms = now;
    }
}

static int
create_lease(struct lease *l, uint64_t mono, struct errmsg *err)
{
    char now[CLOCK_RFC3339_MICRO_MAX];
    json_t *obj, *stored = NULL;
    int r;

    micro_time(now);
    obj = new_lease(l, now);
    if (!obj) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    r = kube_create(l->client, l->collection, obj, l->request_timeout_ms, &stored, err);
    if (!r) {
        observe(l, json_object_get(stored, "spec"), mono);
        l->held = json_incref(stored);
    } else if (r == -EEXIST) {
        r = -EAGAIN;            /* another candidate created it first */
    }
    json_decref(stored);
    json_decref(obj);
    return r;
}

/* Sets us as holder in 'spec' (borrowed, changed in place). */
static int
take_spec(struct lease *l, json_t *spec, bool was_ours)
{
    char now[CLOCK_RFC3339_MICRO_MAX];
    json_int_t transitions = json_integer_value(json_object_get(spec, "leaseTransitions"));
    int r = 0;

    micro_time(now);
    if (!was_ours) {
        r |= json_object_set_new(spec, "acquireTime", json_string(now));
        r |= json_object_set_new(spec, "leaseTransitions", json_integer(transitions + 1));
    }
    r |= json_object_set_new(spec, "holderIdentity", json_string(l->cfg.identity));
    r |= json_object_set_new(spec, "leaseDurationSeconds", json_integer(duration_s(l)));
    r |= json_object_set_new(spec, "renewTime", json_string(now));
    return r ? -ENOMEM : 0;
}

/* Renews the Lease we hold from 'l->held', without reading it first. */
static int
renew_held(struct lease *l, uint64_t mono, struct errmsg *err)
{
    json_t *obj = l->held, *stored = NULL;
    int r;

    l->held = NULL;
    r = take_spec(l, json_object_get(obj, "spec"), true);
    if (!r) {
        r = kube_update(l->client, l->path, obj, l->request_timeout_ms, &stored, err);
    }
    if (!r) {
        observe(l, json_object_get(stored, "spec"), mono);
        l->held = stored;
        stored = NULL;
    }
    json_decref(obj);
    return r;
}

/* One try to acquire or renew.  0 when this candidate holds the Lease now, -EBUSY
 * when another valid holder has it, -EAGAIN when a concurrent update won (409), or
 * another -errno from the API with a message. */
static int
try_acquire_or_renew(struct lease *l, struct errmsg *err)
{
    uint64_t mono = clock_monotonic_ms();
    json_t *obj = NULL, *stored = NULL, *spec;
    const char *holder;
    bool ours;
    int r;

    if (l->held) {
        return renew_held(l, mono, err);
    }
    r = kube_get(l->client, l->path, l->request_timeout_ms, &obj, err);
    if (r == -ENOENT) {
        return create_lease(l, mono, err);
    }
    if (r) {
        return r;
    }
    spec = json_object_get(obj, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(obj, "spec", spec);
    }
    observe(l, spec, mono);
    holder = json_string_value(json_object_get(spec, "holderIdentity"));
    ours = jsontext_is(json_object_get(spec, "holderIdentity"), l->cfg.identity);
    if (holder && *holder && !ours && mono - l->observed_ms < l->cfg.duration_ms) {
        r = errmsg_set(err, -EBUSY, "lease %s/%s is held by '%s'", l->cfg.namespace,
                       l->cfg.name, holder);
        goto out;
    }
    r = take_spec(l, spec, ours);
    if (!r) {
        r = kube_update(l->client, l->path, obj, l->request_timeout_ms, &stored, err);
    }
    if (!r) {
        observe(l, json_object_get(stored, "spec"), mono);
        l->held = json_incref(stored);
    }
out:
    json_decref(stored);
    json_decref(obj);
    return r;
}

/* Gives the Lease up when this candidate holds it (holderIdentity cleared):
 * 0 when given up or not ours. */
static int
give_up(struct lease *l, struct errmsg *err)
{
    json_t *obj = NULL, *spec;
    char now[CLOCK_RFC3339_MICRO_MAX];
    int r;

    atomic_store(&l->leader, false);
    json_decref(l->held);
    l->held = NULL;
    r = kube_get(l->client, l->path, l->request_timeout_ms, &obj, err);
    if (r) {
        return r == -ENOENT ? 0 : r;
    }
    spec = json_object_get(obj, "spec");
    if (!jsontext_is(json_object_get(spec, "holderIdentity"), l->cfg.identity)) {
        json_decref(obj);
        return 0;
    }
    /* As client-go: no holder, and a 1 s duration for candidates that look at the
     * duration rather than the holder. */
    micro_time(now);
    if (json_object_set_new(spec, "holderIdentity", json_string(""))
        || json_object_set_new(spec, "leaseDurationSeconds", json_integer(1))
        || json_object_set_new(spec, "renewTime", json_string(now))) {
        r = errmsg_set(err, -ENOMEM, "out of memory");
    } else {
        r = kube_update(l->client, l->path, obj, l->request_timeout_ms, NULL, err);
    }
    json_decref(obj);
    return r;
}

bool
lease_is_leader(const struct lease *l)
{
    struct lease *m = (struct lease *) l;

    return atomic_load(&m->leader)
           && clock_monotonic_ms() - atomic_load(&m->renewed_ms) < l->cfg.renew_deadline_ms;
}

/* ---- the thread ---- */

static void
set_leader(struct lease *l, bool leader)
{
    bool was = atomic_exchange(&l->leader, leader);

    if (was != leader && l->cfg.on_change) {
        l->cfg.on_change(l->cfg.ctx, leader);
    }
}

/* A random delay in [0, max] ms; for spreading retries only. */
static unsigned
jitter(unsigned max)
{
    struct timespec ts = clock_monotonic_now();

    return (unsigned) ((uint64_t) ts.tv_nsec * 2654435761u % (max + 1));
}

/* After one step: keep, gain or lose leadership. */
static void
after_step(struct lease *l, int r)
{
    uint64_t now = clock_monotonic_ms();

    if (!r) {
        atomic_store(&l->renewed_ms, now);
        set_leader(l, true);
    } else if (r == -EBUSY
               || now - atomic_load(&l->renewed_ms) >= l->cfg.renew_deadline_ms) {
        set_leader(l, false);   /* taken over, or renewals failed too long */
    }
}

static void *
run(void *arg)
{
    struct lease *l = arg;

    while (!atomic_load(&l->stopping)) {
        struct errmsg err = { "" };
        int r = try_acquire_or_renew(l, &err);

        if (r == -ECANCELED || atomic_load(&l->stopping)) {
            break;
        }
        if (r && r != -EBUSY) {
            report_send(l->cfg.report, l->cfg.ctx, REPORT_WARN, r, err.text);
        }
        after_step(l, r);
        /* Candidates spread their tries a little (x1..1.2) as client-go does. */
        monowait_sleep(&l->lock, &l->wake, &l->stopping, atomic_load(&l->leader)
                       ? l->cfg.retry_period_ms
                       : l->cfg.retry_period_ms + jitter(l->cfg.retry_period_ms / 5));
    }
    return NULL;
}

int
lease_start(struct lease *l, struct errmsg *err)
{
    int r;

    if (l->started) {
        return errmsg_set(err, -EALREADY, "lease %s: already started", l->cfg.name);
    }
    r = pthread_create(&l->thread, NULL, run, l);
    if (r) {
        return errmsg_set(err, -r, "lease %s: cannot start a thread: %s", l->cfg.name,
                          strerror(r));
    }
    l->started = true;
    return 0;
}

int
lease_stop(struct lease *l, struct errmsg *err)
{
    struct kube_client *fresh;
    bool was;
    int r;

    if (!l->started || l->joined) {
        return 0;
    }
    atomic_store(&l->stopping, true);
    kube_client_interrupt(l->client);
    pthread_mutex_lock(&l->lock);
    pthread_cond_broadcast(&l->wake);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
    l->joined = true;
    was = atomic_load(&l->leader);
    set_leader(l, false);
    if (!was) {
        return 0;
    }
    /* The thread's client is interrupted for good; give up on a new one. */
    r = kube_client_create(l->kcfg, &fresh, err);
    if (r) {
        return r;
    }
    kube_client_destroy(l->client);
    l->client = fresh;
    return give_up(l, err);
}

void
lease_destroy(struct lease *l)
{
    if (!l) {
        return;
    }
    lease_stop(l, NULL);
    json_decref(l->held);
    kube_client_destroy(l->client);
    monowait_release(&l->lock, &l->wake);
    free_strings(l);
    free(l);
}
