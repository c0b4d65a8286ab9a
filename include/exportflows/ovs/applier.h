/* applier — the node loop: keeps OVS's flow export on one bridge equal to the
 * config from a configsource.
 *
 * It monitors the bridge and the NetFlow/sFlow/IPFIX tables over an ovsdb_client,
 * and replans (ovsplan_build()) whenever the config or the monitored rows change:
 * a config change is applied, a change made by someone else is undone (drift
 * repair), a bridge that does not exist yet is waited for, and after a
 * reconnection (ovsdb-server restart) the fresh monitor contents are compared and
 * fixed if needed.  A plan that changes nothing sends nothing.  At most one
 * transaction is in flight; a failed one is retried with backoff.
 *
 * The module does not log: every noteworthy event goes to the 'report' callback,
 * in the loop's thread, and counters go to 'metrics' when given:
 *   exportflows_applier_applied_generation           gauge
 *   exportflows_applier_transactions_total{result}   counter, "ok" | "error"
 *   exportflows_applier_errors_total{kind}           counter, "config" | "ovsdb" | "plan" | "transaction"
 *   exportflows_applier_last_apply_timestamp_seconds gauge (wall clock)
 *   exportflows_applier_drift_repairs_total          counter
 *   exportflows_applier_noop_resyncs_total           counter
 *   exportflows_applier_ovsdb_connected              gauge
 *   exportflows_applier_in_sync                      gauge */
#ifndef EXPORTFLOWS_APPLIER_H
#define EXPORTFLOWS_APPLIER_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "exportflows/admission/collector.h"
#include "exportflows/ovs/configsource.h"
#include "exportflows/base/errmsg.h"
#include "exportflows/admission/flowconfig.h"
#include "exportflows/base/metrics.h"

enum applier_report_type {
    APPLIER_CONFIG_LOADED,      /* a new valid config: 'config' */
    APPLIER_CONFIG_REFUSED,     /* 'message'; the last good config stays applied */
    APPLIER_OVSDB_CONNECTED,
    APPLIER_OVSDB_CONNECT_FAILED,   /* 'message'; retried with backoff */
    APPLIER_OVSDB_DISCONNECTED,     /* 'message'; reconnects */
    APPLIER_OVSDB_ERROR,        /* 'message': a monitor or protocol error */
    APPLIER_WAITING_BRIDGE,     /* 'message'; reported once until the bridge appears */
    APPLIER_PLAN_FAILED,        /* 'message' (e.g. ":PORT" without --node-ip) */
    APPLIER_APPLIED,            /* transaction committed: 'config', 'changed',
                                 * 'drift', 'duration_us' */
    APPLIER_APPLY_FAILED,       /* 'message', 'config', 'duration_us'; retried */
    APPLIER_IN_SYNC,            /* OVS already matched 'config': nothing sent */
    APPLIER_CLEARED,            /* after applier_clear(): nothing of ours is left;
                                 * 'changed' the protocols our transaction cleared
                                 * (0: none was left), 'foreign_kept' those whose
                                 * row someone else wrote and that stay */
};

struct applier_report {
    enum applier_report_type type;
    const struct flowconfig *config;    /* borrowed, or NULL */
    const char *message;                /* borrowed, or NULL */
    unsigned changed;                   /* APPLIED: 1u << FLOWPROTO_* written */
    bool drift;                         /* APPLIED: undid someone else's change */
    unsigned foreign_kept;              /* CLEARED: 1u << FLOWPROTO_* */
    uint64_t duration_us;               /* APPLIED, APPLY_FAILED: send to reply */
};

typedef void applier_report_fn(void *aux, const struct applier_report *report);

struct applier_config {
    const char *ovsdb;              /* OVSDB remote; NULL: OVSDB_DEFAULT_ADDRESS */
    const char *bridge;             /* NULL: "br-int"; copied */
    const struct collector *node_ip;/* copied; NULL when unknown */
    unsigned timeout_ms;            /* OVSDB connect/reply deadline; 0: 10000 */
    struct metrics *metrics;        /* borrowed, may be NULL */
    applier_report_fn *report;      /* may be NULL */
    void *report_aux;
};

/* Counters for tests and readiness. */
struct applier_stats {
    uint64_t transactions_ok;
    uint64_t transactions_failed;
    uint64_t drift_repairs;
    uint64_t noop_resyncs;
    uint64_t config_errors;
    bool connected;
    bool in_sync;                   /* OVS matches the current config */
    bool has_applied;
    int64_t applied_generation;     /* -1 when none */
    bool clearing;                  /* applier_clear() was called */
    bool cleared;                   /* ... and nothing of ours is left */
};

struct applier;
struct nodestatus_state;

/* Number of pollfds applier_wait() fills. */
#define APPLIER_N_POLLFDS 2

/* Creates the applier and its OVSDB client; takes ownership of 'source' on
 * success only.  Nothing is done before the first applier_run().  Caller destroys
 * '*ret' with applier_destroy().  -EINVAL (bad OVSDB address) or -ENOMEM with a
 * message in 'err'. */
int applier_create(const struct applier_config *config, struct configsource *source,
                   struct applier **ret, struct errmsg *err);

/* Frees everything, including the source; accepts NULL. */
void applier_destroy(struct applier *applier);

/* Does all pending work; 'now_ms' is CLOCK_MONOTONIC milliseconds. */
void applier_run(struct applier *applier, uint64_t now_ms);

/* Fills 'pfds' and lowers '*timeout_ms' (-1: infinite) to the next deadline. */
void applier_wait(const struct applier *applier, uint64_t now_ms,
                  struct pollfd pfds[APPLIER_N_POLLFDS], int *timeout_ms);

/* For an uninstall: stops following the config and clears, in one guarded
 * transaction (ovsplan_clear()), the rows this applier owns on the bridge: those
 * carrying its owner mark and those equal to the config it last applied (or,
 * when it never saw OVS match one, the current config), which ovnkube-node may
 * have written.  Foreign rows stay.  Keep calling applier_run() and
 * applier_wait(): once the monitor shows nothing of ours left (or the bridge
 * gone), APPLIER_CLEARED is reported and stats.cleared becomes true; a failed
 * transaction is retried as usual.  The caller bounds this with its own deadline
 * (OVS may be unreachable).  Cannot be undone; a second call does nothing. */
void applier_clear(struct applier *applier);

void applier_get_stats(const struct applier *applier, struct applier_stats *ret);

/* Folds one report into this node's status (nodestatus.h): an applied or
 * in-sync config sets the hash, generation and apply time and clears the error;
 * a failure keeps the last good config and sets the error (as printable ASCII);
 * reports that say nothing yet change nothing.  'now' is the wall clock in Unix
 * seconds.  Returns true when 'state' changed. */
bool applier_report_fold(struct nodestatus_state *state,
                         const struct applier_report *report, int64_t now);

#endif
