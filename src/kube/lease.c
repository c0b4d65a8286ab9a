/* lease — see include/exportflows/kube/lease.h. */
#include "exportflows/kube/lease.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exportflows/base/clock.h"
#include "exportflows/base/jsontext.h"
#include "exportflows/kube/kube.h"
#include "exportflows/base/worker.h"

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

    struct worker worker;       /* its lock only for the sleep between steps */
};

/* The current time as a Kubernetes MicroTime: "2026-11-29T20:00:00.123456Z". */
static void
micro_time(char buf[CLOCK_RFC3339_MICRO_MAX])
{
    struct timespec ts = clock_realtime_now();

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
        || worker_init(&l->worker)) {
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

/* One try_acquire_or_renew(). */
struct step {
    struct lease *l;
    uint64_t mono;              /* when it began */
};

/* kube_modify_fn: takes the Lease (a new one when absent) unless another valid
 * holder has it.  From 'l->held' the holder is us and the record is the one we
 * observed last, so this only renews. */
static int
take_lease(void *ctx, json_t *obj, bool exists, struct errmsg *err)
{
    struct step *s = ctx;
    struct lease *l = s->l;
    char now[CLOCK_RFC3339_MICRO_MAX];
    json_t *spec = json_object_get(obj, "spec");
    const char *holder;
    bool ours;

    if (!exists) {
        micro_time(now);
        return json_object_update_new(obj, new_lease(l, now))
               ? errmsg_set(err, -ENOMEM, "out of memory") : KUBE_MODIFY_UPDATE;
    }
    if (!json_is_object(spec)) {
        spec = json_object();
        if (json_object_set_new(obj, "spec", spec)) {
            return errmsg_set(err, -ENOMEM, "out of memory");
        }
    }
    observe(l, spec, s->mono);
    holder = json_string_value(json_object_get(spec, "holderIdentity"));
    ours = jsontext_is(json_object_get(spec, "holderIdentity"), l->cfg.identity);
    if (holder && *holder && !ours && s->mono - l->observed_ms < l->cfg.duration_ms) {
        return errmsg_set(err, -EBUSY, "lease %s/%s is held by '%s'", l->cfg.namespace,
                          l->cfg.name, holder);
    }
    return take_spec(l, spec, ours) ? errmsg_set(err, -ENOMEM, "out of memory")
                                    : KUBE_MODIFY_UPDATE;
}

/* One try to acquire or renew.  0 when this candidate holds the Lease now, -EBUSY
 * when another valid holder has it, -EAGAIN when a concurrent update won (409), or
 * another -errno from the API with a message. */
static int
try_acquire_or_renew(struct lease *l, struct errmsg *err)
{
    struct step s = { l, clock_monotonic_ms() };
    /* One round: a lost race means someone else won this one. */
    struct kube_modify_op op = {
        .path = l->path, .collection = l->collection, .fn = take_lease, .ctx = &s,
        .attempts = 1, .timeout_ms = l->request_timeout_ms,
    };
    int r = kube_modify(l->client, &op, &l->held, err);

    if (r) {
        json_decref(l->held);   /* any failure: read the Lease again next time */
        l->held = NULL;
        return r == -EEXIST ? -EAGAIN : r;     /* another candidate created it first */
    }
    observe(l, json_object_get(l->held, "spec"), s.mono);
    return 0;
}

/* kube_modify_fn: clears holderIdentity when we hold the Lease. */
static int
clear_holder(void *ctx, json_t *obj, bool exists, struct errmsg *err)
{
    struct lease *l = ctx;
    json_t *spec = json_object_get(obj, "spec");
    char now[CLOCK_RFC3339_MICRO_MAX];

    (void) exists;              /* no collection: kube_modify() returns -ENOENT */
    if (!jsontext_is(json_object_get(spec, "holderIdentity"), l->cfg.identity)) {
        return KUBE_MODIFY_UNCHANGED;
    }
    /* As client-go: no holder, and a 1 s duration for candidates that look at the
     * duration rather than the holder. */
    micro_time(now);
    if (json_object_set_new(spec, "holderIdentity", json_string(""))
        || json_object_set_new(spec, "leaseDurationSeconds", json_integer(1))
        || json_object_set_new(spec, "renewTime", json_string(now))) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    return KUBE_MODIFY_UPDATE;
}

/* Gives the Lease up when this candidate holds it (holderIdentity cleared):
 * 0 when given up or not ours. */
static int
give_up(struct lease *l, struct errmsg *err)
{
    struct kube_modify_op op = {
        .path = l->path, .fn = clear_holder, .ctx = l, .attempts = 1,
        .timeout_ms = l->request_timeout_ms,
    };
    int r;

    atomic_store(&l->leader, false);
    json_decref(l->held);
    l->held = NULL;
    r = kube_modify(l->client, &op, NULL, err);
    return r == -ENOENT ? 0 : r;
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

static void
run(void *arg)
{
    struct lease *l = arg;

    while (!worker_stopping(&l->worker)) {
        struct errmsg err = { "" };
        int r = try_acquire_or_renew(l, &err);

        if (r == -ECANCELED || worker_stopping(&l->worker)) {
            break;
        }
        if (r && r != -EBUSY) {
            report_send(l->cfg.report, l->cfg.ctx, REPORT_WARN, r, err.text);
        }
        after_step(l, r);
        /* Candidates spread their tries a little (x1..1.2) as client-go does. */
        worker_sleep(&l->worker, atomic_load(&l->leader)
                     ? l->cfg.retry_period_ms
                     : l->cfg.retry_period_ms + jitter(l->cfg.retry_period_ms / 5));
    }
}

int
lease_start(struct lease *l, struct errmsg *err)
{
    int r = worker_start(&l->worker, run, l, kube_client_interrupt, l->client, err);

    return r ? errmsg_prefix(err, r, "lease %s", l->cfg.name) : 0;
}

int
lease_stop(struct lease *l, struct errmsg *err)
{
    struct kube_client *fresh;
    bool was;
    int r;

    if (!worker_stop(&l->worker)) {
        return 0;
    }
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
    worker_release(&l->worker);
    free_strings(l);
    free(l);
}
