/* ovsplan — desired flow export (a struct flowconfig) + the OVS rows the applier
 * monitors -> the one OVSDB transaction that makes OVS match, or nothing.
 *
 * The transaction (DESIGN.md "What the applier writes"), for bridge B:
 *   1. {"op":"wait", "table":"Bridge", "where":[["name","==",B]], "timeout":0,
 *       "until":"==", "columns":["netflow","sflow","ipfix"], "rows":[<current>]}
 *      so that a concurrent change by someone else makes the whole transaction
 *      fail instead of being overwritten blindly; the applier then replans from
 *      the monitor update that change causes.
 *   2. one {"op":"insert", "uuid-name":"exportflows_<proto>"} per protocol to
 *      (re)write, with every column the applier manages and the owner mark
 *      external_ids {"exportflows-owner": "exportflows"};
 *   3. one {"op":"update", "table":"Bridge"} setting each changed column to its
 *      ["named-uuid", ...] or clearing it (["set", []]).  The replaced rows are not
 *      root rows, so OVSDB deletes them when nothing references them any more.
 *
 * Ownership (who may touch a bridge's netflow/sflow/ipfix row):
 *   - protocol on: the config is the desired state.  A row whose managed
 *     columns equal it is in sync whoever wrote it: ovnkube-node writes the same
 *     rows, without our owner mark, at every start, and rewriting them would make
 *     the two writers take turns.  Any other row is replaced by ours.
 *   - protocol off: the row is cleared when it carries our owner mark, or when
 *     it equals the row the config last applied ('last') asked for: that is our
 *     config, written by ovnkube-node.  Any other foreign row is left alone:
 *     export off means "exportflows does not export", not "nobody may", so a
 *     setting made by hand or by another tool survives.
 *
 * A protocol's row matches when its targets (as a set) and every managed tuning
 * column are equal (external_ids are not compared); when all three protocols
 * match, no transaction is built (a no-op resync costs nothing).
 *
 * Values, from the installed vswitch.ovsschema: a tuning key that is set is
 * written as the plain integer; one that is not is written as ["set", []] so
 * that OVS's default applies (struct flowtuning), except NetFlow active_timeout,
 * which cannot be empty (0: OVS's default).  Targets are "IP:PORT", IPv6 as
 * "[addr]:port"; ":PORT" collectors get the node IP.  A ":PORT" NetFlow
 * collector on a node whose IP is IPv6 is an error (NetFlow v5 carries IPv4
 * only): nothing at all is planned, so the node reports the whole config Failed
 * rather than applying part of it under the config's hash. */
#ifndef EXPORTFLOWS_OVSPLAN_H
#define EXPORTFLOWS_OVSPLAN_H

#include <jansson.h>
#include <stdbool.h>

#include "exportflows/admission/collector.h"
#include "exportflows/base/errmsg.h"
#include "exportflows/admission/flowconfig.h"

#define OVSPLAN_OWNER_KEY "exportflows-owner"
#define OVSPLAN_OWNER_VALUE "exportflows"

/* The "monitor" requests ({table: {"columns": [...]}}) for the tables and columns
 * ovsplan_build() reads: Bridge name/netflow/sflow/ipfix and the managed columns
 * of NetFlow, sFlow and IPFIX.  New reference; NULL on ENOMEM. */
json_t *ovsplan_monitor_requests(void);

struct ovsplan_summary {
    unsigned changed;           /* protocols written or cleared: bits 1u << FLOWPROTO_* */
    unsigned foreign_kept;      /* protocols off whose foreign row was left alone */
};

/* Plans the transaction for 'bridge' from 'config' and 'rows' (borrowed, the
 * monitor cache {table: {uuid: row}} kept with ovsdb_cache_update()).  'last' is
 * the config last applied to this bridge (NULL: none known); see "protocol off"
 * above.  'node_ip' (from collector_parse_ip(); NULL when unknown) replaces
 * ":PORT" collectors.
 * Returns 0 and writes '*ret_ops' (a new reference to the operations array for
 * ovsdb_client_transact(), or NULL when OVS already matches) and '*summary' (may
 * be NULL).  -ENOENT when the bridge is not among 'rows' (wait for it), -EINVAL
 * when a ":PORT" collector has no node IP or is a NetFlow collector on an IPv6
 * node, -EPROTO for malformed rows, -ENOMEM; a message in 'err' each time. */
int ovsplan_build(const struct flowconfig *config, const struct flowconfig *last,
                  const char *bridge, const struct collector *node_ip,
                  const json_t *rows, json_t **ret_ops,
                  struct ovsplan_summary *summary, struct errmsg *err);

/* The transaction that clears everything this applier owns on 'bridge' at once,
 * for an uninstall: ovsplan_build() with every protocol off, so the rows that
 * carry the owner mark and the rows equal to what 'last' (the config last
 * applied; NULL: none known) asked for are cleared, in one transaction, and any
 * other foreign row stays.  Same results and errors as ovsplan_build();
 * '*ret_ops' is NULL when nothing of ours is left. */
int ovsplan_clear(const struct flowconfig *last, const char *bridge,
                  const struct collector *node_ip, const json_t *rows,
                  json_t **ret_ops, struct ovsplan_summary *summary,
                  struct errmsg *err);

/* For `exportflows render`: what the applier would write to 'bridge' when it has
 * no flow export yet.  Writes '*ret_ops' (new reference: the operations array as
 * ovsplan_build() makes it, or an empty array when every protocol is off) and
 * '*ret_vsctl' (caller free()s it) — the equivalent single command line, shell-
 * quoted, for example:
 *   ovs-vsctl -- --id=@netflow create netflow 'targets=["10.0.0.1:2056"]'
 *   active_timeout=60 external_ids:exportflows-owner=exportflows
 *   -- set bridge br-int netflow=@netflow -- clear bridge br-int sflow ipfix
 * (one line; the "clear" part lists the protocols that are off, which the applier
 * clears when they hold a row it owns).  Same errors as ovsplan_build(), plus
 * -E2BIG when the line would exceed 8 KiB. */
int ovsplan_render(const struct flowconfig *config, const char *bridge,
                   const struct collector *node_ip, json_t **ret_ops,
                   char **ret_vsctl, struct errmsg *err);

#endif
