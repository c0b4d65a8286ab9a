/* publisher — see include/exportflows/kube/publisher.h.
 *
 * Layout: the pure decisions (what to publish, is the ConfigMap up to date) first,
 * then the state the watch and lease threads feed, then the worker that
 * reconciles, then the life cycle. */
#include "exportflows/kube/publisher.h"

#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exportflows/base/clock.h"
#include "exportflows/admission/flowspec.h"
#include "exportflows/kube/kube.h"
#include "exportflows/kube/kubeevent.h"
#include "exportflows/kube/kubewatch.h"
#include "exportflows/kube/lease.h"
#include "exportflows/admission/ovsflowsconfig.h"
#include "exportflows/kube/summarizer.h"
#include "exportflows/base/worker.h"

#define LABEL_NAME_KEY "app.kubernetes.io/name"
#define LABEL_NAME "exportflows"
#define LABEL_COMPONENT_KEY "app.kubernetes.io/component"
#define LABEL_COMPONENT "config"

#define RETRY_MIN_MS 1000u
#define RETRY_MAX_MS 30000u
#define WRITE_ATTEMPTS 5            /* kube_modify() rounds lost to a race */
#define IDENTITY_MAX 128

/* ---- the decisions ---- */

int
publisher_desired(const json_t *network, const json_t *flows,
                  const struct flowtuning *tuning, struct flowconfig *ret,
                  struct fielderr_list *report, struct fielderr_list *flows_report)
{
    const json_t *generation = kube_meta(network, "generation");
    struct ovsflowsconfig merge = { .has_target = false };
    struct flowtuning merged_tuning = *tuning;
    struct flowspec spec;
    int r;

    if (flows) {
        ovsflowsconfig_parse(json_object_get(flows, "data"), &merge, flows_report,
                             flows_report);
    }
    r = flowspec_validate(json_object_get(network, "spec"), report, &spec);
    if (r) {
        return r;
    }
    /* -E2BIG merges nothing and is in 'flows_report': publish the rest. */
    ovsflowsconfig_merge(&merge, &spec, &merged_tuning, flows_report);
    flowconfig_build(&spec, &merged_tuning,
                     json_is_integer(generation) ? json_integer_value(generation) : -1, ret);
    return 0;
}

/* The config 'configmap' (borrowed; may be NULL) publishes, read back as its
 * writer reads it (flowconfig_data_parse(): the hash must match).  0 or -errno. */
static int
published_config(const json_t *configmap, struct flowconfig *ret)
{
    return flowconfig_data_parse(json_object_get(configmap, "data"), ret, NULL);
}

static bool
has_label(const json_t *object, const char *key, const char *value)
{
    const json_t *labels = kube_meta(object, "labels");
    const char *v = json_string_value(json_object_get(labels, key));

    return v && !strcmp(v, value);
}

bool
publisher_configmap_current(const json_t *configmap, const struct flowconfig *desired)
{
    struct flowconfig published;

    return configmap
           && has_label(configmap, LABEL_NAME_KEY, LABEL_NAME)
           && has_label(configmap, LABEL_COMPONENT_KEY, LABEL_COMPONENT)
           && !published_config(configmap, &published)
           && !strcmp(published.hash, desired->hash);
}

/* The object member 'key' of 'parent', made (or replacing a non-object) when
 * needed.  Borrowed; NULL on ENOMEM. */
static json_t *
object_member(json_t *parent, const char *key)
{
    json_t *member = json_object_get(parent, key);

    if (json_is_object(member)) {
        return member;
    }
    member = json_object();
    if (!member || json_object_set_new(parent, key, member)) {
        return NULL;
    }
    return member;
}

int
publisher_configmap_set(json_t *configmap, const struct flowconfig *desired)
{
    json_t *labels = object_member(object_member(configmap, "metadata"), "labels");
    json_t *data = object_member(configmap, "data");

    if (labels && data
        && !json_object_set_new(labels, LABEL_NAME_KEY, json_string(LABEL_NAME))
        && !json_object_set_new(labels, LABEL_COMPONENT_KEY, json_string(LABEL_COMPONENT))
        && !flowconfig_data_set(data, desired)) {
        return 0;
    }
    return -ENOMEM;
}

json_t *
publisher_configmap_new(const char *namespace, const char *name,
                        const struct flowconfig *desired)
{
    json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1",
                            "kind", "ConfigMap",
                            "metadata", "name", name, "namespace", namespace);

    if (obj && publisher_configmap_set(obj, desired)) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* ---- state ---- */

/* One watched object: the Network, the ConfigMap, or ovs-flows-config.
 * Guarded by the publisher's lock. */
struct watched {
    struct publisher *p;
    const char *what;           /* "network", "configmap": for messages */
    const char *name;           /* the one object wanted from the collection */
    struct kubewatch *watch;
    json_t *object;             /* a private copy; NULL while it does not exist */
    bool synced;                /* listed at least once */
};

struct publisher {
    struct publisher_config cfg; /* its strings point at the copies below */
    char *status_configmap;     /* the node summary's, never the published one */
    char *namespace, *node_namespace, *configmap, *network, *lease_name, *identity;
    char *event_namespace;
    char *flows_namespace, *flows_name; /* NULL: ovs-flows-config is not watched */
    char cm_path[KUBE_PATH_MAX], cm_collection[KUBE_PATH_MAX];
    char flows_collection[KUBE_PATH_MAX];

    struct kube_client *client; /* the worker's */
    struct lease *lease;
    struct watched net, cm, flows;
    struct summarizer *summary; /* the node summary on the status ConfigMap */

    bool started, stopped;      /* the whole publisher, its parts included */
    struct worker worker;       /* its lock guards what follows, 'net' and 'cm' */
    bool dirty;                 /* something changed since the last pass */
    bool force;                 /* the next pass re-reads the ConfigMap */
    struct publisher_stats stats;

    /* The worker's own; no lock. */
    bool have_good;
    struct flowconfig good;     /* last config from a valid spec, or as published */
    char *invalid;              /* errors of the invalid spec last reported */
    bool event_pending;         /* an Event about 'event_network' is still owed */
    json_t *event_network;
    char *flows_invalid;        /* ovs-flows-config problems last reported */
    bool flows_event_pending;   /* an Event about 'flows_event_object' is owed */
    json_t *flows_event_object;

    struct metrics_series *m_writes, *m_invalid, *m_invalid_flows, *m_errors, *m_leader,
        *m_last_publish, *m_generation, *m_spec_invalid;
};

static void
report(struct publisher *p, enum publisher_report_kind kind, int64_t generation,
       const char *hash, const char *message)
{
    struct publisher_report r = { kind, message, generation, hash };

    if (p->cfg.report) {
        p->cfg.report(p->cfg.report_aux, &r);
    }
}

static void report_error(struct publisher *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Counts a failure and reports it; any thread. */
static void
report_error(struct publisher *p, const char *fmt, ...)
{
    char message[ERRMSG_MAX + 128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&p->worker.lock);
    p->stats.errors++;
    pthread_mutex_unlock(&p->worker.lock);
    metrics_add(p->m_errors, 1);
    report(p, PUBLISHER_REPORT_ERROR, -1, NULL, message);
}

/* Wakes the worker for a new pass; called with the lock held. */
static void
poke(struct publisher *p, bool force)
{
    p->dirty = true;
    p->force = p->force || force;
    worker_wake_locked(&p->worker);
}

/* Replaces the copy of a watched object ('object' NULL: it is gone). */
static void
watched_set(struct watched *w, const json_t *object)
{
    json_t *copy = object ? json_deep_copy(object) : NULL;

    if (object && !copy) {
        /* Keep the stale copy: the resync or the next event brings it right. */
        return;
    }
    json_decref(w->object);
    w->object = copy;
}

static void
on_synced(void *ctx, const json_t *items)
{
    struct watched *w = ctx;
    const json_t *found = NULL, *item;
    size_t i;

    /* The field selector already narrows the list; the name check is cheap. */
    json_array_foreach(items, i, item) {
        const char *name = kube_meta_string(item, "name");

        if (name && !strcmp(name, w->name)) {
            found = item;
        }
    }
    pthread_mutex_lock(&w->p->worker.lock);
    watched_set(w, found);
    w->synced = true;
    poke(w->p, false);
    pthread_mutex_unlock(&w->p->worker.lock);
}

static void
on_event(void *ctx, enum watchstream_type type, const json_t *object)
{
    struct watched *w = ctx;
    const char *name = kube_meta_string(object, "name");

    if (!name || strcmp(name, w->name)) {
        return;
    }
    pthread_mutex_lock(&w->p->worker.lock);
    watched_set(w, type == WATCHSTREAM_DELETED ? NULL : object);
    poke(w->p, false);
    pthread_mutex_unlock(&w->p->worker.lock);
}

static void
on_watch_report(void *ctx, const struct report *r)
{
    struct watched *w = ctx;

    report_error(w->p, "watch of %s '%s' failed, retrying: %s", w->what, w->name,
                 r->message);
}

static void
on_leader(void *ctx, bool leader)
{
    struct publisher *p = ctx;

    pthread_mutex_lock(&p->worker.lock);
    p->stats.leader = leader;
    if (leader) {
        /* Trust nothing cached from before: read the ConfigMap afresh. */
        poke(p, true);
    }
    pthread_mutex_unlock(&p->worker.lock);
    metrics_set(p->m_leader, leader);
    report(p, leader ? PUBLISHER_REPORT_LEADER : PUBLISHER_REPORT_FOLLOWER, -1, NULL,
           leader ? "acquired the lease, publishing"
                  : "not holding the lease (lost or given up), not writing");
}

static void
on_lease_report(void *ctx, const struct report *r)
{
    report_error(ctx, "leader election failed, retrying: %s", r->message);
}

/* ---- the worker ---- */

/* What one pass works on: copies taken under the lock. */
struct snapshot {
    bool synced;
    bool force;
    json_t *network;            /* NULL: absent */
    json_t *configmap;          /* NULL: absent */
    json_t *flows;              /* ovs-flows-config; NULL: absent or not watched */
};

static void
snapshot_take(struct publisher *p, struct snapshot *s)
{
    s->synced = p->net.synced && p->cm.synced && (!p->flows_name || p->flows.synced);
    s->force = p->force;
    s->network = p->net.object ? json_deep_copy(p->net.object) : NULL;
    s->configmap = p->cm.object ? json_deep_copy(p->cm.object) : NULL;
    s->flows = p->flows.object ? json_deep_copy(p->flows.object) : NULL;
    p->dirty = false;
    p->force = false;
    p->stats.synced = s->synced;
}

static void
snapshot_release(struct snapshot *s)
{
    json_decref(s->network);
    json_decref(s->configmap);
    json_decref(s->flows);
}

/* Records what the ConfigMap holds now (seen or written). */
static void
note_published(struct publisher *p, const struct flowconfig *config)
{
    pthread_mutex_lock(&p->worker.lock);
    p->stats.published_generation = config->has_generation ? config->generation : -1;
    memcpy(p->stats.published_hash, config->hash, sizeof p->stats.published_hash);
    pthread_mutex_unlock(&p->worker.lock);
    metrics_set(p->m_generation, config->has_generation ? (double) config->generation : -1);
}

static int64_t
network_generation(const json_t *network)
{
    const json_t *g = kube_meta(network, "generation");

    return json_is_integer(g) ? json_integer_value(g) : -1;
}

/* The spec is valid (or absent) again: forget the last problem. */
static void
forget_invalid(struct publisher *p)
{
    free(p->invalid);
    p->invalid = NULL;
    metrics_set(p->m_spec_invalid, 0);
    p->event_pending = false;
    json_decref(p->event_network);
    p->event_network = NULL;
}

/* Reports an invalid spec once per distinct set of errors, so that a resync or an
 * unrelated edit of the Network does not repeat it. */
static void
note_invalid(struct publisher *p, json_t *network, const struct fielderr_list *errors)
{
    char *summary = fielderr_list_summary(errors);

    if (!summary || (p->invalid && !strcmp(p->invalid, summary))) {
        free(summary);
        return;
    }
    free(p->invalid);
    p->invalid = summary;
    metrics_set(p->m_spec_invalid, 1);
    pthread_mutex_lock(&p->worker.lock);
    p->stats.invalid_specs++;
    pthread_mutex_unlock(&p->worker.lock);
    metrics_add(p->m_invalid, 1);
    report(p, PUBLISHER_REPORT_INVALID, network_generation(network), NULL, summary);
    json_decref(p->event_network);
    p->event_network = json_incref(network);
    p->event_pending = p->event_network != NULL;
}

/* Reports what of ovs-flows-config is not merged, once per distinct set of
 * problems, as note_invalid() does for the spec; forgets when there is none. */
static void
note_flows(struct publisher *p, json_t *flows, const struct fielderr_list *problems)
{
    char *summary = fielderr_list_count(problems) ? fielderr_list_summary(problems) : NULL;

    if (!summary || (p->flows_invalid && !strcmp(p->flows_invalid, summary))) {
        if (!fielderr_list_count(problems)) {
            free(p->flows_invalid);
            p->flows_invalid = NULL;
            p->flows_event_pending = false;
        }
        free(summary);
        return;
    }
    free(p->flows_invalid);
    p->flows_invalid = summary;
    pthread_mutex_lock(&p->worker.lock);
    p->stats.invalid_flows_configs++;
    pthread_mutex_unlock(&p->worker.lock);
    metrics_add(p->m_invalid_flows, 1);
    report(p, PUBLISHER_REPORT_INVALID_FLOWS_CONFIG, -1, NULL, summary);
    json_decref(p->flows_event_object);
    p->flows_event_object = json_incref(flows);
    p->flows_event_pending = p->flows_event_object != NULL;
}

/* Decides what the ConfigMap should hold.  False when nothing can be said: the
 * spec is invalid and no good config was ever known. */
static bool
choose(struct publisher *p, const struct snapshot *s, struct flowconfig *ret)
{
    struct fielderr_list errors, flows_problems;
    bool valid;

    fielderr_list_init(&errors);
    fielderr_list_init(&flows_problems);
    valid = !publisher_desired(s->network, s->flows, &p->cfg.tuning, ret, &errors,
                               &flows_problems);
    note_flows(p, s->flows, &flows_problems);
    fielderr_list_release(&flows_problems);
    if (valid) {
        p->good = *ret;
        p->have_good = true;
        forget_invalid(p);
    } else {
        note_invalid(p, s->network, &errors);
        /* Started with an invalid spec: what is published is the last good one. */
        if (!p->have_good && !published_config(s->configmap, &p->good)) {
            p->have_good = true;
        }
        *ret = p->good;
    }
    fielderr_list_release(&errors);
    return p->have_good;
}

/* Creates 'ev' when one is owed ('*pending') and this replica leads. */
static int
post_owed(struct publisher *p, const struct kubeevent *ev, bool *pending, const char *about)
{
    struct errmsg err = { "" };
    int r;

    if (!*pending || !lease_is_leader(p->lease)) {
        return 0;
    }
    r = kubeevent_post(p->client, ev, &err);
    if (r) {
        report_error(p, "cannot create an event about %s: %s", about, err.text);
        return r;
    }
    *pending = false;
    pthread_mutex_lock(&p->worker.lock);
    p->stats.events++;
    pthread_mutex_unlock(&p->worker.lock);
    return 0;
}

/* The leader tells the Network's owner, once per invalid spec, with an Event. */
static int
post_event(struct publisher *p)
{
    /* Longer than an Event may be: kubeevent then shortens it on a UTF-8
     * boundary, whereas snprintf() may cut a character. */
    char message[2 * KUBEEVENT_MESSAGE_MAX], about[KUBE_PATH_MAX];
    struct kubeevent ev = {
        .namespace = p->event_namespace, .api_version = "operator.openshift.io/v1",
        .kind = "Network", .object = p->event_network, .type = "Warning",
        .reason = PUBLISHER_EVENT_REASON, .message = message,
        .component = PUBLISHER_COMPONENT, .instance = p->identity,
    };

    if (!p->event_pending) {
        return 0;
    }
    snprintf(message, sizeof message, "%s is invalid and was not published; %s "
             "configmap %s/%s: %s", FLOWSPEC_FIELD,
             p->have_good ? "the last good config stays in" : "nothing is published to",
             p->namespace, p->configmap, p->invalid);
    snprintf(about, sizeof about, "network '%s'", p->network);
    return post_owed(p, &ev, &p->event_pending, about);
}

/* The same for ovs-flows-config, about that ConfigMap, in its namespace. */
static int
post_flows_event(struct publisher *p)
{
    char message[2 * KUBEEVENT_MESSAGE_MAX], about[KUBE_PATH_MAX];
    struct kubeevent ev = {
        .namespace = p->flows_namespace, .api_version = "v1", .kind = "ConfigMap",
        .object = p->flows_event_object, .type = "Warning",
        .reason = PUBLISHER_FLOWS_EVENT_REASON, .message = message,
        .component = PUBLISHER_COMPONENT, .instance = p->identity,
    };

    if (!p->flows_event_pending) {
        return 0;
    }
    snprintf(message, sizeof message, "values not merged into configmap %s/%s: %s",
             p->namespace, p->configmap, p->flows_invalid);
    snprintf(about, sizeof about, "configmap %s/%s", p->flows_namespace, p->flows_name);
    return post_owed(p, &ev, &p->flows_event_pending, about);
}

/* Counts and reports a write that happened. */
static void
note_write(struct publisher *p, const struct flowconfig *config, const char *verb)
{
    char message[KUBE_PATH_MAX + 64];

    pthread_mutex_lock(&p->worker.lock);
    p->stats.writes++;
    pthread_mutex_unlock(&p->worker.lock);
    metrics_add(p->m_writes, 1);
    metrics_set(p->m_last_publish, (double) time(NULL));
    note_published(p, config);
    snprintf(message, sizeof message, "%s configmap %s/%s", verb, p->namespace, p->configmap);
    report(p, PUBLISHER_REPORT_PUBLISHED, config->has_generation ? config->generation : -1,
           config->hash, message);
}

/* One write of the ConfigMap: what to write, and what was written. */
struct cm_write {
    struct publisher *p;
    const struct flowconfig *desired;
    const char *verb;           /* "created", "updated"; NULL: nothing written */
};

/* kube_modify_fn: sets 'desired' in the ConfigMap as just read (or in a new one
 * when absent) unless it is already current.  Checked last, right before the
 * write: a replica that lost the Lease meanwhile writes nothing. */
static int
modify_configmap(void *ctx, json_t *obj, bool exists, struct errmsg *err)
{
    struct cm_write *w = ctx;
    struct publisher *p = w->p;
    json_t *fresh = NULL;

    w->verb = NULL;
    if (exists && publisher_configmap_current(obj, w->desired)) {
        note_published(p, w->desired);
        return KUBE_MODIFY_UNCHANGED;
    }
    if (!exists) {
        fresh = publisher_configmap_new(p->namespace, p->configmap, w->desired);
    }
    if (exists ? publisher_configmap_set(obj, w->desired)
               : !fresh || json_object_update_new(obj, fresh)) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    if (!lease_is_leader(p->lease)) {
        return KUBE_MODIFY_UNCHANGED;
    }
    w->verb = exists ? "updated" : "created";
    return KUBE_MODIFY_UPDATE;
}

/* Converges the ConfigMap to 'desired' from a fresh read: the watch's copy may be
 * a step behind our own last write. */
static int
write_configmap(struct publisher *p, const struct flowconfig *desired)
{
    struct cm_write w = { .p = p, .desired = desired };
    struct kube_modify_op op = {
        .path = p->cm_path, .collection = p->cm_collection, .fn = modify_configmap,
        .ctx = &w, .attempts = WRITE_ATTEMPTS,
    };
    struct errmsg err = { "" };
    int r = kube_modify(p->client, &op, NULL, &err);

    if (!r && w.verb) {
        note_write(p, desired, w.verb);
    }
    if (r && r != -ECANCELED) {     /* -ECANCELED: stopping */
        report_error(p, "cannot publish to configmap %s/%s: %s", p->namespace,
                     p->configmap, err.text);
    }
    return r;
}

/* One pass.  0, or -errno when something must be retried. */
static int
reconcile(struct publisher *p, const struct snapshot *s)
{
    struct flowconfig desired, seen;
    bool have;
    int r;

    if (!s->synced) {
        return 0;               /* never act on half a picture */
    }
    pthread_mutex_lock(&p->worker.lock);
    p->stats.reconciles++;
    pthread_mutex_unlock(&p->worker.lock);
    if (!published_config(s->configmap, &seen)) {
        note_published(p, &seen);
        summarizer_observe(p->summary, seen.hash);
    } else {
        summarizer_observe(p->summary, NULL);
    }
    have = choose(p, s, &desired);
    r = post_event(p);
    if (post_flows_event(p)) {
        r = -EAGAIN;
    }
    if (!have || (!s->force && publisher_configmap_current(s->configmap, &desired))) {
        return r;               /* nothing to keep up, or nothing to change */
    }
    if (lease_is_leader(p->lease) && write_configmap(p, &desired)) {
        r = -EAGAIN;
    }
    return r;
}

/* One pass, and when it completed, the generation it acted on. */
static int
reconcile_and_note(struct publisher *p, const struct snapshot *s)
{
    int r = reconcile(p, s);

    if (!r && s->synced) {
        pthread_mutex_lock(&p->worker.lock);
        p->stats.observed_generation = network_generation(s->network);
        pthread_mutex_unlock(&p->worker.lock);
    }
    return r;
}

static void
worker_main(void *arg)
{
    struct publisher *p = arg;
    unsigned retry_ms = p->cfg.retry_min_ms;
    uint64_t resync_at = clock_monotonic_ms() + p->cfg.resync_ms, retry_at = UINT64_MAX;

    pthread_mutex_lock(&p->worker.lock);
    while (!worker_stopping(&p->worker)) {
        struct snapshot s;
        uint64_t now = clock_monotonic_ms();
        int r;

        if (now >= resync_at) {
            resync_at = now + p->cfg.resync_ms;
            poke(p, true);
        }
        if (now >= retry_at) {
            retry_at = UINT64_MAX;
            poke(p, false);
        }
        if (!p->dirty) {
            worker_wait_until(&p->worker, resync_at < retry_at ? resync_at : retry_at);
            continue;
        }
        snapshot_take(p, &s);
        pthread_mutex_unlock(&p->worker.lock);
        r = reconcile_and_note(p, &s);
        snapshot_release(&s);
        pthread_mutex_lock(&p->worker.lock);
        if (r) {
            /* Retry with backoff; anything new that arrives meanwhile goes first. */
            retry_at = clock_monotonic_ms() + retry_ms;
            retry_ms = retry_ms * 2 < p->cfg.retry_max_ms ? retry_ms * 2 : p->cfg.retry_max_ms;
            p->force = p->force || s.force;
        } else {
            retry_ms = p->cfg.retry_min_ms;
        }
    }
    pthread_mutex_unlock(&p->worker.lock);
}

/* ---- life cycle ---- */

static void
register_metrics(struct publisher *p, struct metrics *m)
{
    static const struct {
        size_t offset;
        enum metrics_type type;
        const char *name, *help;
    } defs[] = {
        { offsetof(struct publisher, m_writes), METRICS_COUNTER,
          "exportflows_publisher_writes_total", "ConfigMap creates and updates." },
        { offsetof(struct publisher, m_invalid), METRICS_COUNTER,
          "exportflows_publisher_invalid_specs_total",
          "Distinct invalid stored specs seen (not published)." },
        { offsetof(struct publisher, m_invalid_flows), METRICS_COUNTER,
          "exportflows_publisher_invalid_flows_config_total",
          "Distinct sets of ovs-flows-config values not merged." },
        { offsetof(struct publisher, m_errors), METRICS_COUNTER,
          "exportflows_publisher_errors_total",
          "Failed API calls, watches and leader election steps." },
        { offsetof(struct publisher, m_leader), METRICS_GAUGE,
          "exportflows_publisher_leader", "1 while this replica holds the Lease." },
        { offsetof(struct publisher, m_last_publish), METRICS_GAUGE,
          "exportflows_publisher_last_publish_timestamp_seconds",
          "Unix time of the last ConfigMap write by this replica." },
        { offsetof(struct publisher, m_generation), METRICS_GAUGE,
          "exportflows_publisher_published_generation",
          "Network generation of the config in the ConfigMap; -1 for none." },
        { offsetof(struct publisher, m_spec_invalid), METRICS_GAUGE,
          "exportflows_publisher_spec_invalid",
          "1 while the stored spec is invalid and not published, else 0." },
    };

    for (size_t i = 0; m && i < sizeof defs / sizeof defs[0]; i++) {
        struct metrics_family *f = metrics_family(m, defs[i].type, defs[i].name,
                                                  defs[i].help, NULL, 0);

        *(struct metrics_series **) ((char *) p + defs[i].offset) = metrics_series(f, "");
    }
    metrics_set(p->m_leader, 0);
    metrics_set(p->m_generation, -1);
}

/* Copies 'value' or 'fallback' into '*ret'; false on ENOMEM. */
static bool
copy_string(char **ret, const char *value, const char *fallback)
{
    *ret = strdup(value && *value ? value : fallback);
    return *ret != NULL;
}

static bool
default_identity(char **ret)
{
    char host[64] = "", id[IDENTITY_MAX];

    if (gethostname(host, sizeof host - 1)) {
        snprintf(host, sizeof host, "unknown");
    }
    snprintf(id, sizeof id, "%s-%ld", host, (long) getpid());
    return copy_string(ret, id, id);
}

/* "NAMESPACE/NAME" of ovs-flows-config into the publisher; "" watches none. */
static int
copy_flows_name(struct publisher *p, const char *value, struct errmsg *err)
{
    const char *text = value ? value : OVSFLOWSCONFIG_NAMESPACE "/" OVSFLOWSCONFIG_NAME;
    const char *slash = strchr(text, '/');

    p->cfg.flows_configmap = NULL;
    if (!*text) {
        return 0;
    }
    if (!slash || slash == text || !slash[1] || strchr(slash + 1, '/')) {
        return errmsg_set(err, -EINVAL, "publisher: ovs-flows-config '%s' is not "
                          "NAMESPACE/NAME", text);
    }
    p->flows_namespace = strndup(text, (size_t) (slash - text));
    p->flows_name = strdup(slash + 1);
    if (!p->flows_namespace || !p->flows_name) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    if (kube_path(p->flows_collection, sizeof p->flows_collection,
                  "/api/v1/namespaces/%s/configmaps", p->flows_namespace)) {
        return errmsg_set(err, -EINVAL, "publisher: ovs-flows-config namespace too long");
    }
    return 0;
}

static int
copy_config(struct publisher *p, const struct publisher_config *cfg, struct errmsg *err)
{
    p->cfg = *cfg;
    if (!copy_string(&p->namespace, cfg->namespace, "exportflows")
        || !copy_string(&p->node_namespace, cfg->node_namespace, "exportflows-nodes")
        || !copy_string(&p->configmap, cfg->configmap, "exportflows-config")
        || !copy_string(&p->status_configmap, cfg->status_configmap,
                        SUMMARIZER_STATUS_CONFIGMAP)
        || !copy_string(&p->network, cfg->network, "cluster")
        || !copy_string(&p->lease_name, cfg->lease, "exportflows-publisher")
        || !copy_string(&p->event_namespace, cfg->event_namespace, "default")
        || !(cfg->identity && *cfg->identity ? copy_string(&p->identity, cfg->identity, "")
             : default_identity(&p->identity))) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    p->cfg.namespace = p->namespace;
    p->cfg.node_namespace = p->node_namespace;
    p->cfg.configmap = p->configmap;
    p->cfg.status_configmap = p->status_configmap;
    if (!strcmp(p->status_configmap, p->configmap)) {
        /* The appliers watch the published one: every summary write would wake
         * every node. */
        return errmsg_set(err, -EINVAL, "publisher: the status configmap must not be the "
                          "published one (%s)", p->configmap);
    }
    p->cfg.network = p->network;
    p->cfg.lease = p->lease_name;
    p->cfg.identity = p->identity;
    p->cfg.event_namespace = p->event_namespace;
    p->cfg.resync_ms = cfg->resync_ms ? cfg->resync_ms : PUBLISHER_RESYNC_MS_DEFAULT;
    p->cfg.retry_min_ms = cfg->retry_min_ms ? cfg->retry_min_ms : RETRY_MIN_MS;
    p->cfg.retry_max_ms = cfg->retry_max_ms ? cfg->retry_max_ms : RETRY_MAX_MS;
    if (p->cfg.retry_max_ms < p->cfg.retry_min_ms) {
        return errmsg_set(err, -EINVAL, "publisher: retry_max_ms below retry_min_ms");
    }
    if (kube_path(p->cm_collection, sizeof p->cm_collection, "/api/v1/namespaces/%s/configmaps",
                  p->namespace)
        || kube_path(p->cm_path, sizeof p->cm_path, "%s/%s", p->cm_collection, p->configmap)) {
        return errmsg_set(err, -EINVAL, "publisher: namespace or configmap name too long");
    }
    return copy_flows_name(p, cfg->flows_configmap, err);
}

static int
make_watch(struct publisher *p, struct watched *w, const char *what, const char *path,
           const char *name, struct errmsg *err)
{
    static const struct kubewatch_callbacks callbacks = { on_synced, on_event,
                                                          on_watch_report };
    char selector[300];
    struct kubewatch_config wc = {
        .path = path, .field_selector = selector,
        .timeout_min_s = p->cfg.watch_timeout_min_s,
        .timeout_max_s = p->cfg.watch_timeout_max_s,
        .backoff_min_ms = p->cfg.watch_backoff_min_ms,
        .backoff_max_ms = p->cfg.watch_backoff_max_ms,
    };

    w->p = p;
    w->what = what;
    w->name = name;
    if (kube_path(selector, sizeof selector, "metadata.name=%s", name)) {
        return errmsg_set(err, -EINVAL, "publisher: %s name too long", what);
    }
    return kubewatch_create(p->cfg.kubeconfig, &wc, &callbacks, w, &w->watch, err);
}

static void
on_summary_report(void *ctx, const struct report *r)
{
    report_error(ctx, "%s", r->message);
}

static int
make_summarizer(struct publisher *p, struct errmsg *err)
{
    struct summarizer_config sc = {
        .kubeconfig = p->cfg.kubeconfig, .namespace = p->namespace,
        .leases_namespace = p->node_namespace, .configmap = p->status_configmap,
        .lease = p->lease, .component = PUBLISHER_COMPONENT,
        .identity = p->identity, .metrics = p->cfg.metrics,
        .min_interval_ms = p->cfg.summary_interval_ms,
        .watch_timeout_min_s = p->cfg.watch_timeout_min_s,
        .watch_timeout_max_s = p->cfg.watch_timeout_max_s,
        .watch_backoff_min_ms = p->cfg.watch_backoff_min_ms,
        .watch_backoff_max_ms = p->cfg.watch_backoff_max_ms,
        .report = on_summary_report, .ctx = p,
    };

    return summarizer_create(&sc, &p->summary, err);
}

static int
make_parts(struct publisher *p, struct errmsg *err)
{
    struct lease_config lc = {
        .namespace = p->namespace, .name = p->lease_name, .identity = p->identity,
        .duration_ms = p->cfg.lease_duration_ms,
        .renew_deadline_ms = p->cfg.lease_renew_deadline_ms,
        .retry_period_ms = p->cfg.lease_retry_period_ms,
        .on_change = on_leader, .report = on_lease_report, .ctx = p,
    };
    int r = kube_client_create(p->cfg.kubeconfig, &p->client, err);

    if (!r) {
        r = make_watch(p, &p->net, "network", PUBLISHER_NETWORKS_PATH, p->network, err);
    }
    if (!r) {
        r = make_watch(p, &p->cm, "configmap", p->cm_collection, p->configmap, err);
    }
    if (!r && p->flows_name) {
        r = make_watch(p, &p->flows, "configmap", p->flows_collection, p->flows_name, err);
    }
    if (!r) {
        r = lease_create(p->cfg.kubeconfig, &lc, &p->lease, err);
    }
    if (!r) {
        r = make_summarizer(p, err);
    }
    return r;
}

int
publisher_create(const struct publisher_config *cfg, struct publisher **ret,
                 struct errmsg *err)
{
    struct publisher *p;
    int r;

    if (!cfg->kubeconfig) {
        return errmsg_set(err, -EINVAL, "publisher: no kubeconfig");
    }
    p = calloc(1, sizeof *p);
    if (!p) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    r = worker_init(&p->worker);
    if (r) {
        free(p);
        return errmsg_set(err, r, "publisher: cannot make a lock: %s", strerror(-r));
    }
    p->stats.published_generation = -1;
    p->stats.observed_generation = -1;
    r = copy_config(p, cfg, err);
    if (!r) {
        r = make_parts(p, err);
    }
    if (r) {
        publisher_destroy(p);
        return r;
    }
    register_metrics(p, cfg->metrics);
    *ret = p;
    return 0;
}

static void
stop_parts(struct publisher *p)
{
    kubewatch_stop(p->net.watch);
    kubewatch_stop(p->cm.watch);
    if (p->flows.watch) {
        kubewatch_stop(p->flows.watch);
    }
}

int
publisher_start(struct publisher *p, struct errmsg *err)
{
    int r;

    if (p->started) {
        return errmsg_set(err, -EALREADY, "publisher: already started");
    }
    r = kubewatch_start(p->net.watch, err);
    if (!r) {
        r = kubewatch_start(p->cm.watch, err);
    }
    if (!r && p->flows.watch) {
        r = kubewatch_start(p->flows.watch, err);
    }
    if (!r) {
        r = lease_start(p->lease, err);
    }
    if (!r) {
        r = summarizer_start(p->summary, err);
    }
    if (!r) {
        r = worker_start(&p->worker, worker_main, p, kube_client_interrupt, p->client, err);
        if (r) {
            errmsg_prefix(err, r, "publisher");
        }
    }
    if (r) {
        summarizer_stop(p->summary);
        stop_parts(p);
        lease_stop(p->lease, NULL);
        return r;
    }
    p->started = true;
    return 0;
}

int
publisher_stop(struct publisher *p, struct errmsg *err)
{
    if (!p->started || p->stopped) {
        return 0;
    }
    p->stopped = true;
    /* The worker first: once it is gone nothing writes, and only then may the
     * Lease go to someone else. */
    worker_stop(&p->worker);
    summarizer_stop(p->summary);
    stop_parts(p);
    return lease_stop(p->lease, err);
}

void
publisher_destroy(struct publisher *p)
{
    if (!p) {
        return;
    }
    publisher_stop(p, NULL);
    kubewatch_destroy(p->net.watch);
    kubewatch_destroy(p->cm.watch);
    kubewatch_destroy(p->flows.watch);
    summarizer_destroy(p->summary);
    lease_destroy(p->lease);
    kube_client_destroy(p->client);
    json_decref(p->net.object);
    json_decref(p->cm.object);
    json_decref(p->event_network);
    json_decref(p->flows.object);
    json_decref(p->flows_event_object);
    free(p->invalid);
    free(p->flows_invalid);
    free(p->flows_namespace);
    free(p->flows_name);
    free(p->namespace);
    free(p->node_namespace);
    free(p->configmap);
    free(p->status_configmap);
    free(p->network);
    free(p->lease_name);
    free(p->identity);
    free(p->event_namespace);
    worker_release(&p->worker);
    free(p);
}

void
publisher_stats(struct publisher *p, struct publisher_stats *ret)
{
    pthread_mutex_lock(&p->worker.lock);
    *ret = p->stats;
    pthread_mutex_unlock(&p->worker.lock);
    /* The lease also lapses by itself when renewals stall. */
    ret->leader = p->lease && lease_is_leader(p->lease);
}
