/* ovsplan — turns the desired flow export and the monitored OVS rows into one
 * guarded OVSDB transaction, or none when OVS already matches.  See ovsplan.h
 * for the transaction's shape and the ownership rules. */
#include "exportflows/ovs/ovsplan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/base/capbuf.h"
#include "exportflows/ovs/ovsdb_data.h"

#define VSCTL_MAX 8192

struct proto_desc {
    const char *table;          /* OVSDB table */
    const char *column;         /* Bridge column; also the ovs-vsctl table name */
    const char *uuid_name;      /* named-uuid of the inserted row */
};

static const struct proto_desc protos[FLOWPROTO_N] = {
    [FLOWPROTO_NETFLOW] = { "NetFlow", "netflow", "exportflows_netflow" },
    [FLOWPROTO_SFLOW] = { "sFlow", "sflow", "exportflows_sflow" },
    [FLOWPROTO_IPFIX] = { "IPFIX", "ipfix", "exportflows_ipfix" },
};

static json_t *
columns_array(const char *const *names)
{
    json_t *a = json_array();

    for (; a && *names; names++) {
        if (json_array_append_new(a, json_string(*names)) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *
ovsplan_monitor_requests(void)
{
    static const char *const bridge[] = { "name", "netflow", "sflow", "ipfix", NULL };
    static const char *const netflow[] = { "targets", "active_timeout",
                                           "external_ids", NULL };
    static const char *const sflow[] = { "targets", "agent", "header", "sampling",
                                         "polling", "external_ids", NULL };
    static const char *const ipfix[] = { "targets", "sampling", "cache_active_timeout",
                                         "cache_max_flows", "obs_domain_id",
                                         "obs_point_id", "external_ids", NULL };

    return json_pack("{s:{s:o}, s:{s:o}, s:{s:o}, s:{s:o}}",
                     "Bridge", "columns", columns_array(bridge),
                     "NetFlow", "columns", columns_array(netflow),
                     "sFlow", "columns", columns_array(sflow),
                     "IPFIX", "columns", columns_array(ipfix));
}

static json_t *
empty_set(void)
{
    return json_pack("[s, []]", "set");
}

static json_t *
optional_string(const char *value)
{
    return value[0] ? json_string(value) : empty_set();
}

static json_t *
owner_mark(void)
{
    return json_pack("[s, [[s, s]]]", "map", OVSPLAN_OWNER_KEY, OVSPLAN_OWNER_VALUE);
}

/* The target collector 'c' becomes on this node, written into 'text'. */
static int
resolve_target(const struct collector *c, enum flowproto p,
               const struct collector *node_ip, char text[COLLECTOR_TEXT_SIZE],
               struct errmsg *err)
{
    struct collector target;
    char ip[COLLECTOR_TEXT_SIZE];

    if (c->kind == COLLECTOR_NODE_IP && !node_ip) {
        return errmsg_set(err, -EINVAL, "collector '%s' of %s needs the node IP "
                          "(--node-ip)", collector_format(c, text), flowproto_name(p));
    }
    target = collector_resolve(c, node_ip);
    if (p == FLOWPROTO_NETFLOW && target.kind == COLLECTOR_IPV6) {
        return errmsg_set(err, -EINVAL, "netFlow collector '%s' would send to this "
                          "node's IPv6 address %s, and NetFlow v5 carries IPv4 only",
                          collector_format(c, text), collector_format(node_ip, ip));
    }
    collector_format(&target, text);
    return 0;
}

/* The targets of protocol 'p' as an OVSDB set of "IP:PORT" strings. */
static int
targets_datum(const struct flowconfig *config, enum flowproto p,
              const struct collector *node_ip, json_t **ret, struct errmsg *err)
{
    const struct flowspec_collectors *list = &config->spec.proto[p];
    json_t *elems = json_array();

    if (!elems) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < list->n; i++) {
        char text[COLLECTOR_TEXT_SIZE];
        int rc = resolve_target(&list->items[i], p, node_ip, text, err);

        if (rc < 0) {
            json_decref(elems);
            return rc;
        }
        if (json_array_append_new(elems, json_string(text)) < 0) {
            json_decref(elems);
            return errmsg_set(err, -ENOMEM, "out of memory");
        }
    }
    *ret = json_pack("[s, o]", "set", elems);
    return *ret ? 0 : errmsg_set(err, -ENOMEM, "out of memory");
}

/* A tuning column: the value when set; when not, empty so that OVS's default
 * applies (0, OVS's default, for NetFlow's active_timeout, which cannot be
 * empty). */
static json_t *
tuning_datum(const struct flowtuning *t, enum flowtuning_key key)
{
    if (flowtuning_is_set(t, key) || !flowtuning_key_info(key)->column_optional) {
        return json_integer(flowtuning_get(t, key));
    }
    return empty_set();
}

/* The row protocol 'p' should have: targets, the sFlow agent, one column per
 * tuning key of 'p', the owner mark.  Takes 'targets'. */
static json_t *
tuning_row(const struct flowtuning *t, enum flowproto p, json_t *targets)
{
    json_t *row = json_object();
    int rc = json_object_set_new(row, "targets", targets);

    if (p == FLOWPROTO_SFLOW) {
        rc |= json_object_set_new(row, "agent", optional_string(t->sflow_agent));
    }
    for (int k = 0; k < FLOWTUNING_N_KEYS; k++) {
        const struct flowtuning_key_info *info = flowtuning_key_info(k);

        if (info->proto == p) {
            rc |= json_object_set_new(row, info->column, tuning_datum(t, k));
        }
    }
    rc |= json_object_set_new(row, "external_ids", owner_mark());
    if (rc) {
        json_decref(row);
        return NULL;
    }
    return row;
}

/* The row protocol 'p' should have.  Caller json_decref()s '*ret'. */
static int
desired_row(const struct flowconfig *config, enum flowproto p,
            const struct collector *node_ip, json_t **ret, struct errmsg *err)
{
    json_t *targets;
    int rc = targets_datum(config, p, node_ip, &targets, err);

    if (rc < 0) {
        return rc;
    }
    *ret = tuning_row(&config->tuning, p, targets);
    return *ret ? 0 : errmsg_set(err, -ENOMEM, "out of memory");
}

static bool
row_owned(const json_t *row)
{
    const json_t *mark = ovsdb_map_get(json_object_get(row, "external_ids"),
                                       OVSPLAN_OWNER_KEY);

    return json_is_string(mark) && !strcmp(json_string_value(mark), OVSPLAN_OWNER_VALUE);
}

/* True when 'current' has every column of 'want' but external_ids: a row equal
 * to the desired state is in sync whoever wrote it (ovnkube-node writes the same
 * rows without the owner mark). */
static bool
row_matches(const json_t *current, const json_t *want)
{
    const char *column;
    json_t *value;

    json_object_foreach((json_t *) want, column, value) {
        if (strcmp(column, "external_ids")
            && !ovsdb_datum_equal(json_object_get(current, column), value)) {
            return false;
        }
    }
    return true;
}

/* True when 'current' equals the row protocol 'p' had in 'last', the config
 * last applied: a row we wrote, or its twin that ovnkube-node wrote. */
static bool
row_was_applied(const json_t *current, const struct flowconfig *last,
                enum flowproto p, const struct collector *node_ip)
{
    json_t *want = NULL;
    bool same;

    if (!last || last->spec.proto[p].n == 0
        || desired_row(last, p, node_ip, &want, NULL) < 0) {
        return false;
    }
    same = row_matches(current, want);
    json_decref(want);
    return same;
}

/* The monitored Bridge row named 'bridge', or NULL. */
static const json_t *
find_bridge(const json_t *rows, const char *bridge)
{
    const char *uuid;
    json_t *row;

    json_object_foreach(json_object_get(rows, "Bridge"), uuid, row) {
        const char *name = json_string_value(json_object_get(row, "name"));
        if (name && !strcmp(name, bridge)) {
            return row;
        }
    }
    return NULL;
}

/* The row a Bridge reference column points to, or NULL when it is empty or the
 * row is not (yet) in the cache. */
static const json_t *
referenced_row(const json_t *rows, const char *table, const json_t *ref)
{
    const json_t *atom = ovsdb_datum_size(ref) == 1 ? ovsdb_datum_at(ref, 0) : NULL;
    const char *uuid = json_string_value(json_array_get(atom, 1));

    return uuid ? json_object_get(json_object_get(rows, table), uuid) : NULL;
}

static json_t *
bridge_where(const char *bridge)
{
    return json_pack("[[s, s, s]]", "name", "==", bridge);
}

static json_t *
wait_op(const char *bridge, const json_t *br_row)
{
    return json_pack("{s:s, s:s, s:o, s:i, s:[s, s, s], s:s, s:[{s:O, s:O, s:O}]}",
                     "op", "wait", "table", "Bridge", "where", bridge_where(bridge),
                     "timeout", 0, "columns", "netflow", "sflow", "ipfix",
                     "until", "==", "rows",
                     "netflow", json_object_get(br_row, "netflow"),
                     "sflow", json_object_get(br_row, "sflow"),
                     "ipfix", json_object_get(br_row, "ipfix"));
}

struct plan {
    json_t *inserts;            /* insert operations */
    json_t *bridge_set;         /* Bridge columns to write */
    struct ovsplan_summary summary;
};

/* Adds what protocol 'p' needs to 'plan'. */
static int
plan_proto(const struct flowconfig *config, const struct flowconfig *last,
           enum flowproto p, const struct collector *node_ip, const json_t *rows,
           const json_t *br_row, struct plan *plan, struct errmsg *err)
{
    const struct proto_desc *d = &protos[p];
    const json_t *ref = json_object_get(br_row, d->column);
    const json_t *current = referenced_row(rows, d->table, ref);
    json_t *want;
    int rc;

    if (config->spec.proto[p].n == 0) {
        if (ovsdb_datum_size(ref) == 0) {
            return 0;
        } else if (!current || (!row_owned(current)
                                && !row_was_applied(current, last, p, node_ip))) {
            plan->summary.foreign_kept |= 1u << p;
            return 0;
        }
        plan->summary.changed |= 1u << p;
        return json_object_set_new(plan->bridge_set, d->column, empty_set()) < 0
               ? errmsg_set(err, -ENOMEM, "out of memory") : 0;
    }
    rc = desired_row(config, p, node_ip, &want, err);
    if (rc < 0) {
        return rc;
    }
    if (current && row_matches(current, want)) {
        json_decref(want);
        return 0;
    }
    plan->summary.changed |= 1u << p;
    if (json_array_append_new(plan->inserts, json_pack(
            "{s:s, s:s, s:s, s:o}", "op", "insert", "table", d->table,
            "uuid-name", d->uuid_name, "row", want)) < 0
        || json_object_set_new(plan->bridge_set, d->column,
                               json_pack("[s, s]", "named-uuid", d->uuid_name)) < 0) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

/* wait + inserts + update, from a plan that changes something. */
static json_t *
plan_ops(const char *bridge, const json_t *br_row, struct plan *plan)
{
    json_t *ops = json_array();

    if (!ops || json_array_append_new(ops, wait_op(bridge, br_row)) < 0
        || json_array_extend(ops, plan->inserts) < 0
        || json_array_append_new(ops, json_pack(
               "{s:s, s:s, s:o, s:O}", "op", "update", "table", "Bridge",
               "where", bridge_where(bridge), "row", plan->bridge_set)) < 0) {
        json_decref(ops);
        return NULL;
    }
    return ops;
}

/* A Bridge row from the monitor holds every column the plan reads: the wait
 * operation quotes them.  -EPROTO with a message when one is missing. */
static int
check_bridge_row(const char *bridge, const json_t *br_row, struct errmsg *err)
{
    for (int p = 0; p < FLOWPROTO_N; p++) {
        if (!json_object_get(br_row, protos[p].column)) {
            return errmsg_set(err, -EPROTO, "bridge '%s' row has no '%s' column", bridge,
                              protos[p].column);
        }
    }
    return 0;
}

int
ovsplan_build(const struct flowconfig *config, const struct flowconfig *last,
              const char *bridge, const struct collector *node_ip,
              const json_t *rows, json_t **ret_ops, struct ovsplan_summary *summary,
              struct errmsg *err)
{
    const json_t *br_row = find_bridge(rows, bridge);
    struct plan plan = { .inserts = json_array(), .bridge_set = json_object() };
    json_t *ops = NULL;
    int rc = 0;

    if (!br_row) {
        rc = errmsg_set(err, -ENOENT, "bridge '%s' does not exist", bridge);
        goto out;
    }
    rc = check_bridge_row(bridge, br_row, err);
    if (rc < 0) {
        goto out;
    }
    if (!plan.inserts || !plan.bridge_set) {
        rc = errmsg_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    for (int p = 0; p < FLOWPROTO_N && rc == 0; p++) {
        rc = plan_proto(config, last, (enum flowproto) p, node_ip, rows, br_row,
                        &plan, err);
    }
    if (rc == 0 && plan.summary.changed) {
        ops = plan_ops(bridge, br_row, &plan);
        if (!ops) {
            rc = errmsg_set(err, -ENOMEM, "out of memory");
        }
    }
    if (rc == 0) {
        *ret_ops = ops;
        if (summary) {
            *summary = plan.summary;
        }
    }
out:
    json_decref(plan.inserts);
    json_decref(plan.bridge_set);
    return rc;
}

int
ovsplan_clear(const struct flowconfig *last, const char *bridge,
              const struct collector *node_ip, const json_t *rows, json_t **ret_ops,
              struct ovsplan_summary *summary, struct errmsg *err)
{
    static const struct flowconfig all_off;     /* no collectors: every protocol off */

    return ovsplan_build(&all_off, last, bridge, node_ip, rows, ret_ops, summary, err);
}

/* ---- render ---- */

/* Appends " ARG", single-quoted unless every character is safe for a shell. */
static void
line_arg(struct capbuf *l, const char *arg)
{
    if (arg[0] && strspn(arg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789@%+=:,./_-") == strlen(arg)) {
        capbuf_printf(l, " %s", arg);
        return;
    }
    capbuf_printf(l, " '");
    for (const char *p = arg; *p; p++) {
        if (*p == '\'') {
            capbuf_printf(l, "'\\''");
        } else {
            capbuf_printf(l, "%c", *p);
        }
    }
    capbuf_printf(l, "'");
}

/* "column=value" in ovs-vsctl syntax: sets as [a,b], strings JSON-quoted.  An
 * argument cut at VSCTL_MAX makes the line pass its cap.  -ENOMEM. */
static int
line_column(struct capbuf *l, const char *column, const json_t *value)
{
    char arg[VSCTL_MAX];
    char *text;

    if (!strcmp(column, "external_ids")) {
        line_arg(l, "external_ids:" OVSPLAN_OWNER_KEY "=" OVSPLAN_OWNER_VALUE);
        return 0;
    }
    if (json_is_array(value) && ovsdb_datum_size(value) == 0) {
        return 0;               /* not set */
    }
    text = json_dumps(json_is_array(value) ? json_array_get(value, 1) : value,
                      JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
        return -ENOMEM;
    }
    snprintf(arg, sizeof arg, "%s=%s", column, text);
    line_arg(l, arg);
    free(text);
    return 0;
}

static int
render_vsctl(const struct flowconfig *config, const char *bridge,
             const struct collector *node_ip, char **ret, struct errmsg *err)
{
    struct capbuf l;
    int rc = 0;

    capbuf_init(&l, VSCTL_MAX - 1, 0);
    capbuf_printf(&l, "ovs-vsctl");
    for (int p = 0; p < FLOWPROTO_N && rc == 0; p++) {
        const char *column;
        json_t *want, *value;

        if (config->spec.proto[p].n == 0) {
            continue;
        }
        rc = desired_row(config, (enum flowproto) p, node_ip, &want, err);
        if (rc < 0) {
            break;
        }
        capbuf_printf(&l, " -- --id=@%s create %s", protos[p].column, protos[p].column);
        json_object_foreach(want, column, value) {
            if (rc == 0 && (rc = line_column(&l, column, value)) < 0) {
                errmsg_set(err, rc, "out of memory");
            }
        }
        json_decref(want);
    }
    if (rc == 0) {
        bool any_on = false, any_off = false;

        for (int p = 0; p < FLOWPROTO_N; p++) {
            bool on = config->spec.proto[p].n > 0;
            any_on |= on;
            any_off |= !on;
        }
        if (any_on) {
            capbuf_printf(&l, " -- set bridge");
            line_arg(&l, bridge);
            for (int p = 0; p < FLOWPROTO_N; p++) {
                if (config->spec.proto[p].n > 0) {
                    capbuf_printf(&l, " %s=@%s", protos[p].column, protos[p].column);
                }
            }
        }
        if (any_off) {
            capbuf_printf(&l, " -- clear bridge");
            line_arg(&l, bridge);
            for (int p = 0; p < FLOWPROTO_N; p++) {
                if (config->spec.proto[p].n == 0) {
                    capbuf_printf(&l, " %s", protos[p].column);
                }
            }
        }
        rc = capbuf_take(&l, ret, NULL);
        if (rc == -E2BIG) {
            errmsg_set(err, rc, "ovs-vsctl line over %d bytes", VSCTL_MAX);
        } else if (rc < 0) {
            errmsg_set(err, rc, "out of memory");
        }
    }
    capbuf_release(&l);
    return rc;
}

/* Monitor rows holding only 'bridge', with no flow export. */
static json_t *
empty_bridge_rows(const char *bridge)
{
    return json_pack("{s:{s:{s:s, s:o, s:o, s:o}}}", "Bridge",
                     "00000000-0000-0000-0000-000000000000", "name", bridge,
                     "netflow", empty_set(), "sflow", empty_set(), "ipfix", empty_set());
}

int
ovsplan_render(const struct flowconfig *config, const char *bridge,
               const struct collector *node_ip, json_t **ret_ops,
               char **ret_vsctl, struct errmsg *err)
{
    json_t *rows = empty_bridge_rows(bridge);
    json_t *ops = NULL;
    char *vsctl = NULL;
    int rc;

    if (!rows) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    rc = ovsplan_build(config, NULL, bridge, node_ip, rows, &ops, NULL, err);
    if (rc == 0 && !ops && !(ops = json_array())) {
        rc = errmsg_set(err, -ENOMEM, "out of memory");
    }
    if (rc == 0) {
        rc = render_vsctl(config, bridge, node_ip, &vsctl, err);
    }
    if (rc == 0) {
        *ret_ops = ops;
        *ret_vsctl = vsctl;
        ops = NULL;
    }
    json_decref(ops);
    json_decref(rows);
    return rc;
}
