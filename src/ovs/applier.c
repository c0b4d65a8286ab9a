/* applier — the node loop that keeps a bridge's flow export equal to the config:
 * monitor cache, replanning on every change, one transaction at a time, retries,
 * reports and metrics; and the folding of reports into the node status.  See
 * applier.h. */
#include "exportflows/ovs/applier.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exportflows/base/clock.h"
#include "exportflows/ovs/nodestatus.h"
#include "exportflows/ovs/ovsdb_data.h"
#include "exportflows/ovs/ovsdb_session.h"
#include "exportflows/ovs/ovsplan.h"

#define MONITOR_ID "exportflows"
#define RETRY_MIN_MS 500
#define RETRY_MAX_MS 30000

/* After our transaction commits, the monitor update that shows it may arrive
 * after the reply; until it does (or this long passes) a plan that still wants
 * changes is stale, not drift. */
#define SETTLE_MS 2000

struct applier_metrics {
    struct metrics_series *generation, *tx_ok, *tx_error, *last_apply;
    struct metrics_series *drift, *noop, *connected, *in_sync;
    struct metrics_series *err_config, *err_ovsdb, *err_plan, *err_tx;
};

struct applier {
    char *bridge;
    bool has_node_ip;
    struct collector node_ip;
    struct ovsdb_client *client;
    struct configsource *source;
    applier_report_fn *report;
    void *report_aux;
    struct applier_metrics m;

    json_t *cache;              /* monitored rows {table: {uuid: row}} */
    bool synced;                /* 'cache' holds the monitor's initial contents */
    uint64_t monitor_req;

    bool dirty_config, dirty_ovs;
    bool in_flight;
    uint64_t tx_req, tx_start_ms, tx_start_us;
    struct flowconfig tx_config;
    bool tx_clear;              /* the transaction in flight is applier_clear()'s */
    bool tx_drift;
    unsigned tx_changed;
    uint64_t settle_until, retry_at;
    unsigned retry_ms;

    bool verifying;             /* committed; the next match confirms it */
    bool has_applied;           /* OVS was seen to match 'applied' */
    struct flowconfig applied;
    bool waiting_bridge;        /* reported, until the bridge appears */
    bool has_clear_last;        /* applier_clear(): 'clear_last' is known */
    struct flowconfig clear_last;   /* what ovsplan_clear() takes as ours */
    unsigned cleared_changed;   /* protocols our clearing transactions cleared */
    struct errmsg last_plan_error;
    struct applier_stats stats;
};

static void
report(struct applier *a, enum applier_report_type type,
       const struct flowconfig *config, const char *message)
{
    struct applier_report r = { .type = type, .config = config, .message = message };

    if (a->report) {
        a->report(a->report_aux, &r);
    }
}

static struct metrics_series *
series(struct metrics *m, enum metrics_type type, const char *name, const char *help,
       const char *labels)
{
    return metrics_series(metrics_family(m, type, name, help, NULL, 0), labels);
}

static void
register_metrics(struct applier_metrics *am, struct metrics *m)
{
    static const char tx[] = "exportflows_applier_transactions_total";
    static const char tx_help[] = "OVSDB transactions sent, by result.";
    static const char err[] = "exportflows_applier_errors_total";
    static const char err_help[] = "Errors, by kind.";

    if (!m) {
        return;
    }
    am->generation = series(m, METRICS_GAUGE, "exportflows_applier_applied_generation",
                            "Generation of the config last applied to OVS.", "");
    am->tx_ok = series(m, METRICS_COUNTER, tx, tx_help, "result=\"ok\"");
    am->tx_error = series(m, METRICS_COUNTER, tx, tx_help, "result=\"error\"");
    am->last_apply = series(m, METRICS_GAUGE,
                            "exportflows_applier_last_apply_timestamp_seconds",
                            "Unix time of the last committed transaction.", "");
    am->drift = series(m, METRICS_COUNTER, "exportflows_applier_drift_repairs_total",
                       "Transactions that undid a change made by someone else.", "");
    am->noop = series(m, METRICS_COUNTER, "exportflows_applier_noop_resyncs_total",
                      "Resyncs that found OVS already matching.", "");
    am->connected = series(m, METRICS_GAUGE, "exportflows_applier_ovsdb_connected",
                           "1 when connected to ovsdb-server.", "");
    am->in_sync = series(m, METRICS_GAUGE, "exportflows_applier_in_sync",
                         "1 when OVS matches the current config.", "");
    am->err_config = series(m, METRICS_COUNTER, err, err_help, "kind=\"config\"");
    am->err_ovsdb = series(m, METRICS_COUNTER, err, err_help, "kind=\"ovsdb\"");
    am->err_plan = series(m, METRICS_COUNTER, err, err_help, "kind=\"plan\"");
    am->err_tx = series(m, METRICS_COUNTER, err, err_help, "kind=\"transaction\"");
}

int
applier_create(const struct applier_config *config, struct configsource *source,
               struct applier **ret, struct errmsg *err)
{
    struct ovsdb_client_config cc = {
        .address = config->ovsdb ? config->ovsdb : OVSDB_DEFAULT_ADDRESS,
        .timeout_ms = config->timeout_ms,
    };
    struct applier *a = calloc(1, sizeof *a);
    int rc;

    if (!a) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    a->bridge = strdup(config->bridge ? config->bridge : "br-int");
    a->cache = json_object();
    if (!a->bridge || !a->cache) {
        rc = errmsg_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    rc = ovsdb_client_create(&cc, &a->client, err);
    if (rc < 0) {
        goto out;
    }
    if (config->node_ip) {
        a->has_node_ip = true;
        a->node_ip = *config->node_ip;
    }
    a->report = config->report;
    a->report_aux = config->report_aux;
    a->retry_ms = RETRY_MIN_MS;
    a->stats.applied_generation = -1;
    register_metrics(&a->m, config->metrics);
    a->source = source;
    *ret = a;
    a = NULL;
out:
    if (a) {
        a->source = NULL;       /* not taken on failure */
        applier_destroy(a);
    }
    return rc;
}

void
applier_destroy(struct applier *a)
{
    if (!a) {
        return;
    }
    ovsdb_client_destroy(a->client);
    configsource_destroy(a->source);
    json_decref(a->cache);
    free(a->bridge);
    free(a);
}

void
applier_clear(struct applier *a)
{
    const struct flowconfig *current = configsource_current(a->source);

    if (a->stats.clearing) {
        return;
    }
    a->stats.clearing = true;
    if (a->has_applied) {
        a->clear_last = a->applied;
        a->has_clear_last = true;
    } else if (current) {
        a->clear_last = *current;
        a->has_clear_last = true;
    }
    a->dirty_ovs = true;
    a->retry_at = 0;            /* no backoff left from applying: time is short */
    a->retry_ms = RETRY_MIN_MS;
    a->last_plan_error.text[0] = '\0';
}

void
applier_get_stats(const struct applier *a, struct applier_stats *ret)
{
    *ret = a->stats;
}

static void
set_in_sync(struct applier *a, bool in_sync)
{
    a->stats.in_sync = in_sync;
    metrics_set(a->m.in_sync, in_sync);
}

/* ---- config ---- */

static void
run_source(struct applier *a, uint64_t now)
{
    struct errmsg err;
    int rc = configsource_run(a->source, now, &err);

    if (rc == CONFIGSOURCE_CHANGED) {
        a->dirty_config = true;
        report(a, APPLIER_CONFIG_LOADED, configsource_current(a->source), NULL);
    } else if (rc < 0) {
        a->stats.config_errors++;
        metrics_add(a->m.err_config, 1);
        report(a, APPLIER_CONFIG_REFUSED, configsource_current(a->source), err.text);
    }
}

/* ---- OVSDB events ---- */

static void
lost_connection(struct applier *a)
{
    a->synced = false;
    a->in_flight = false;
    a->verifying = false;
    a->stats.connected = false;
    metrics_set(a->m.connected, 0);
    set_in_sync(a, false);      /* unknown until the next monitor reply */
}

static void
send_monitor(struct applier *a, uint64_t now)
{
    struct errmsg err;
    json_t *requests = ovsplan_monitor_requests();

    json_object_clear(a->cache);
    if (!requests) {
        ovsdb_client_force_reconnect(a->client, "out of memory", now);
        return;
    }
    if (ovsdb_client_monitor(a->client, MONITOR_ID, requests, now, &a->monitor_req,
                             &err) < 0) {
        report(a, APPLIER_OVSDB_ERROR, NULL, err.text);
    }
}

static void
monitor_failed(struct applier *a, const char *what, uint64_t now)
{
    a->stats.connected = false;
    metrics_add(a->m.err_ovsdb, 1);
    report(a, APPLIER_OVSDB_ERROR, NULL, what);
    ovsdb_client_force_reconnect(a->client, what, now);
}

static void
got_monitor_reply(struct applier *a, const struct ovsdb_event *ev, uint64_t now)
{
    struct errmsg err;
    char *text;

    if (ev->error_json) {
        text = json_dumps(ev->error_json, JSON_COMPACT | JSON_ENCODE_ANY);
        errmsg_set(&err, -EIO, "monitor refused: %s", text ? text : "?");
        free(text);
        monitor_failed(a, err.text, now);
        return;
    }
    json_object_clear(a->cache);
    if (ovsdb_cache_update(a->cache, ev->result, &err) < 0) {
        errmsg_prefix(&err, -EPROTO, "monitor reply");
        monitor_failed(a, err.text, now);
        return;
    }
    a->synced = true;
    a->dirty_ovs = true;
}

static void
got_update(struct applier *a, const struct ovsdb_event *ev, uint64_t now)
{
    struct errmsg err;
    const char *id = json_string_value(json_array_get(ev->params, 0));

    if (strcmp(ev->method, "update") || !id || strcmp(id, MONITOR_ID) || !a->synced) {
        return;
    }
    if (ovsdb_cache_update(a->cache, json_array_get(ev->params, 1), &err) < 0) {
        errmsg_prefix(&err, -EPROTO, "monitor update");
        monitor_failed(a, err.text, now);
        return;
    }
    a->dirty_ovs = true;
    a->settle_until = 0;
}

/* True when the monitor cache already shows the transaction in flight applied
 * (ovsdb-server usually sends the update before the transaction's reply). */
static bool
cache_reflects(const struct applier *a)
{
    const struct collector *ip = a->has_node_ip ? &a->node_ip : NULL;
    json_t *ops = NULL;
    int rc;

    if (a->tx_clear) {
        rc = ovsplan_clear(a->has_clear_last ? &a->clear_last : NULL, a->bridge, ip,
                           a->cache, &ops, NULL, NULL);
    } else {
        rc = ovsplan_build(&a->tx_config, &a->tx_config, a->bridge, ip, a->cache, &ops,
                           NULL, NULL);
    }
    json_decref(ops);
    return rc == 0 && !ops;
}

/* A clearing transaction committed: no report yet, the next plan that finds
 * nothing of ours left makes APPLIER_CLEARED. */
static void
clear_tx_succeeded(struct applier *a, uint64_t now)
{
    a->stats.transactions_ok++;
    metrics_add(a->m.tx_ok, 1);
    a->cleared_changed |= a->tx_changed;
    a->retry_ms = RETRY_MIN_MS;
    a->dirty_ovs = true;
    if (!cache_reflects(a)) {
        a->settle_until = now + SETTLE_MS;
    }
}

static void
tx_succeeded(struct applier *a, uint64_t duration_us, uint64_t now)
{
    struct applier_report r = {
        .type = APPLIER_APPLIED, .config = &a->tx_config, .changed = a->tx_changed,
        .drift = a->tx_drift, .duration_us = duration_us,
    };

    if (a->tx_clear) {
        clear_tx_succeeded(a, now);
        return;
    }
    a->stats.transactions_ok++;
    metrics_add(a->m.tx_ok, 1);
    if (a->tx_drift) {
        a->stats.drift_repairs++;
        metrics_add(a->m.drift, 1);
    }
    a->has_applied = true;
    a->applied = a->tx_config;
    a->stats.has_applied = true;
    a->stats.applied_generation = a->tx_config.has_generation
                                  ? a->tx_config.generation : -1;
    metrics_set(a->m.generation, (double) a->stats.applied_generation);
    metrics_set(a->m.last_apply, (double) time(NULL));
    a->retry_ms = RETRY_MIN_MS;
    a->dirty_ovs = true;        /* verify once the update is in */
    a->verifying = true;
    if (!cache_reflects(a)) {
        a->settle_until = now + SETTLE_MS;
    }
    if (a->report) {
        a->report(a->report_aux, &r);
    }
}

static void
tx_failed(struct applier *a, const char *why, uint64_t duration_us, uint64_t now)
{
    struct applier_report r = {
        .type = APPLIER_APPLY_FAILED, .config = &a->tx_config, .message = why,
        .duration_us = duration_us,
    };

    a->stats.transactions_failed++;
    metrics_add(a->m.tx_error, 1);
    metrics_add(a->m.err_tx, 1);
    a->retry_at = now + a->retry_ms;
    a->retry_ms = a->retry_ms >= RETRY_MAX_MS / 2 ? RETRY_MAX_MS : a->retry_ms * 2;
    a->dirty_ovs = true;
    if (a->report) {
        a->report(a->report_aux, &r);
    }
}

static void
got_tx_reply(struct applier *a, const struct ovsdb_event *ev, uint64_t now)
{
    uint64_t duration_us = clock_monotonic_us() - a->tx_start_us;
    struct errmsg err;

    a->in_flight = false;
    if (ev->error_json) {
        char *text = json_dumps(ev->error_json, JSON_COMPACT | JSON_ENCODE_ANY);
        errmsg_set(&err, -EIO, "transaction refused: %s", text ? text : "?");
        free(text);
        tx_failed(a, err.text, duration_us, now);
    } else if (ovsdb_transact_check(ev->result, &err) < 0) {
        tx_failed(a, err.text, duration_us, now);
    } else {
        tx_succeeded(a, duration_us, now);
    }
}

static void
handle_event(struct applier *a, const struct ovsdb_event *ev, uint64_t now)
{
    switch (ev->type) {
    case OVSDB_EVENT_CONNECTED:
        a->stats.connected = true;
        metrics_set(a->m.connected, 1);
        report(a, APPLIER_OVSDB_CONNECTED, NULL, NULL);
        send_monitor(a, now);
        break;
    case OVSDB_EVENT_CONNECT_FAILED:
        lost_connection(a);
        metrics_add(a->m.err_ovsdb, 1);
        report(a, APPLIER_OVSDB_CONNECT_FAILED, NULL, ev->error.text);
        break;
    case OVSDB_EVENT_DISCONNECTED:
        lost_connection(a);
        metrics_add(a->m.err_ovsdb, 1);
        report(a, APPLIER_OVSDB_DISCONNECTED, NULL, ev->error.text);
        break;
    case OVSDB_EVENT_REPLY:
        if (ev->id == a->monitor_req) {
            got_monitor_reply(a, ev, now);
        } else if (a->in_flight && ev->id == a->tx_req) {
            got_tx_reply(a, ev, now);
        }
        break;
    case OVSDB_EVENT_NOTIFY:
        got_update(a, ev, now);
        break;
    }
}

/* ---- reconcile ---- */

/* Reports a plan error once per distinct message. */
static void
plan_error(struct applier *a, int rc, const struct errmsg *err)
{
    bool waiting = rc == -ENOENT;

    set_in_sync(a, false);
    if (!strcmp(a->last_plan_error.text, err->text)) {
        return;
    }
    a->last_plan_error = *err;
    a->waiting_bridge = waiting;
    if (!waiting) {
        metrics_add(a->m.err_plan, 1);
    }
    report(a, waiting ? APPLIER_WAITING_BRIDGE : APPLIER_PLAN_FAILED, NULL, err->text);
}

static void
found_in_sync(struct applier *a, const struct flowconfig *config)
{
    bool news = a->dirty_config || !a->stats.in_sync;

    if (a->verifying && !a->dirty_config) {
        a->verifying = false;   /* our own commit showed up: not a resync */
        set_in_sync(a, true);
        return;
    }
    a->verifying = false;
    a->has_applied = true;
    a->applied = *config;
    a->stats.has_applied = true;
    a->stats.applied_generation = config->has_generation ? config->generation : -1;
    metrics_set(a->m.generation, (double) a->stats.applied_generation);
    a->stats.noop_resyncs++;
    metrics_add(a->m.noop, 1);
    set_in_sync(a, true);
    if (news) {
        report(a, APPLIER_IN_SYNC, config, NULL);
    }
}

static void
send_transaction(struct applier *a, const struct flowconfig *config, json_t *ops,
                 unsigned changed, uint64_t now)
{
    struct errmsg err;

    a->tx_config = *config;
    a->tx_clear = a->stats.clearing;
    a->tx_changed = changed;
    a->tx_drift = a->has_applied && flowconfig_same(&a->applied, config);
    a->tx_start_us = clock_monotonic_us();
    set_in_sync(a, false);
    if (ovsdb_client_transact(a->client, ops, now, &a->tx_req, &err) < 0) {
        tx_failed(a, err.text, 0, now);
        return;
    }
    a->in_flight = true;
}

/* True when a plan is due as soon as the retry and settle times allow. */
static bool
wants_plan(const struct applier *a)
{
    if (!a->synced || a->in_flight) {
        return false;
    } else if (a->stats.clearing) {
        return a->dirty_ovs && !a->stats.cleared;
    }
    return (a->dirty_config || a->dirty_ovs) && configsource_current(a->source);
}

static bool
may_reconcile(const struct applier *a, uint64_t now)
{
    return wants_plan(a) && now >= a->retry_at;
}

static void
clear_done(struct applier *a, unsigned foreign_kept)
{
    struct applier_report r = {
        .type = APPLIER_CLEARED, .changed = a->cleared_changed,
        .foreign_kept = foreign_kept,
    };

    a->stats.cleared = true;
    if (a->report) {
        a->report(a->report_aux, &r);
    }
}

/* applier_clear()'s reconcile: plan the clearing, send it, or see it done. */
static void
reconcile_clear(struct applier *a, uint64_t now)
{
    static const struct flowconfig all_off;
    struct ovsplan_summary summary;
    struct errmsg err;
    json_t *ops = NULL;
    int rc;

    if (!may_reconcile(a, now)) {
        return;
    }
    rc = ovsplan_clear(a->has_clear_last ? &a->clear_last : NULL, a->bridge,
                       a->has_node_ip ? &a->node_ip : NULL, a->cache, &ops, &summary,
                       &err);
    if (rc == -ENOENT) {
        clear_done(a, 0);       /* no bridge: nothing of ours on it */
        return;
    } else if (rc < 0) {
        a->dirty_ovs = false;
        plan_error(a, rc, &err);
        return;
    }
    if (ops && now < a->settle_until) {
        json_decref(ops);       /* our clearing is not in the cache yet */
        return;
    }
    a->dirty_ovs = false;
    if (!ops) {
        clear_done(a, summary.foreign_kept);
    } else {
        send_transaction(a, &all_off, ops, summary.changed, now);
    }
}

static void
reconcile(struct applier *a, uint64_t now)
{
    const struct flowconfig *config = configsource_current(a->source);
    struct ovsplan_summary summary;
    struct errmsg err;
    json_t *ops = NULL;
    int rc;

    if (a->stats.clearing) {
        reconcile_clear(a, now);
        return;
    }
    if (!may_reconcile(a, now)) {
        return;
    }
    rc = ovsplan_build(config, a->has_applied ? &a->applied : NULL, a->bridge,
                       a->has_node_ip ? &a->node_ip : NULL, a->cache, &ops, &summary,
                       &err);
    if (rc < 0) {
        a->dirty_config = a->dirty_ovs = false;
        plan_error(a, rc, &err);
        return;
    }
    a->last_plan_error.text[0] = '\0';
    a->waiting_bridge = false;
    if (ops && now < a->settle_until) {
        json_decref(ops);       /* our own change is not in the cache yet */
        return;
    }
    if (!ops) {
        found_in_sync(a, config);
    } else {
        send_transaction(a, config, ops, summary.changed, now);
    }
    a->dirty_config = a->dirty_ovs = false;
}

void
applier_run(struct applier *a, uint64_t now)
{
    struct ovsdb_event ev;

    run_source(a, now);
    while (ovsdb_client_recv(a->client, now, &ev) == 0) {
        handle_event(a, &ev, now);
        ovsdb_event_release(&ev);
    }
    reconcile(a, now);
}

static void
lower_timeout(int *timeout_ms, uint64_t now, uint64_t deadline)
{
    int t = deadline <= now ? 0 : (deadline - now > 86400000 ? 86400000
                                   : (int) (deadline - now));

    if (*timeout_ms < 0 || t < *timeout_ms) {
        *timeout_ms = t;
    }
}

void
applier_wait(const struct applier *a, uint64_t now,
             struct pollfd pfds[APPLIER_N_POLLFDS], int *timeout_ms)
{
    configsource_wait(a->source, now, &pfds[0], timeout_ms);
    ovsdb_client_wait(a->client, now, &pfds[1], timeout_ms);
    if (wants_plan(a)) {
        uint64_t at = a->retry_at;
        if (a->settle_until > at) {
            at = a->settle_until;
        }
        lower_timeout(timeout_ms, now, at);
    }
}

/* ---- reports as node status ---- */

/* Copies 'msg' as printable ASCII (anything else becomes '?'): annotation
 * values must be valid UTF-8 and a one-line error reads best. */
static void
copy_message(char dst[ERRMSG_MAX], const char *msg)
{
    size_t i = 0;

    for (; msg && msg[i] && i < ERRMSG_MAX - 1; i++) {
        unsigned char c = (unsigned char) msg[i];
        dst[i] = c >= 0x20 && c < 0x7f ? (char) c : '?';
    }
    dst[i] = '\0';
}

static void
set_applied(struct nodestatus_state *s, const struct flowconfig *c, int64_t now)
{
    char hash[FLOWCONFIG_HASH_SIZE];

    s->has_applied = true;
    snprintf(s->hash, sizeof s->hash, "%s", flowconfig_hash_of(c, hash));
    s->has_generation = c->has_generation;
    s->generation = c->has_generation ? c->generation : 0;
    s->last_apply_time = now;
    s->in_sync = true;
    s->last_error[0] = '\0';
}

bool
applier_report_fold(struct nodestatus_state *s, const struct applier_report *r,
                    int64_t now)
{
    struct nodestatus_state before = *s;

    switch (r->type) {
    case APPLIER_CONFIG_LOADED:
    case APPLIER_OVSDB_CONNECTED:
        /* Nothing is known yet: the next APPLIED or IN_SYNC says it. */
        return false;
    case APPLIER_CLEARED:
        /* Only at an uninstall: the Lease goes with the pod. */
        return false;
    case APPLIER_APPLIED:
    case APPLIER_IN_SYNC:
        if (!r->config) {
            return false;
        }
        set_applied(s, r->config, now);
        break;
    case APPLIER_CONFIG_REFUSED:
    case APPLIER_OVSDB_CONNECT_FAILED:
    case APPLIER_OVSDB_DISCONNECTED:
    case APPLIER_OVSDB_ERROR:
    case APPLIER_WAITING_BRIDGE:
    case APPLIER_PLAN_FAILED:
    case APPLIER_APPLY_FAILED:
        s->in_sync = false;
        copy_message(s->last_error, r->message ? r->message : "unknown error");
        break;
    }
    return !nodestatus_state_equal(&before, s);
}
