#!/usr/bin/env bash
# applier-ovsdb.sh — exportflows-applier against a real ovsdb-server (no
# ovs-vswitchd needed): waits for br-int, applies, changes and removes each
# protocol, repairs drift, leaves foreign rows alone when off, keeps the last good
# config on a corrupt payload, costs zero transactions on no-op resyncs, and
# survives ovsdb-server restarts.  The config is a kubelet-style ConfigMap volume:
# config.json -> ..data/config.json, updated by swapping the ..data symlink.
# Every wait polls with a deadline.  EXPORTFLOWS_APPLIER_LOG=FILE keeps a copy of
# the applier's log.
set -u
cd "$(dirname "$0")/../.."
. tests/system/lib-ovs.sh
. tests/system/lib-applier.sh

BIN=${EXPORTFLOWS_BIN_DIR:-bin}
dir=$(mktemp -d)
applier_log=$dir/applier.log
applier_pid=
cleanup() {
    [ -n "${EXPORTFLOWS_APPLIER_LOG:-}" ] && cp "$dir/applier.log" "$EXPORTFLOWS_APPLIER_LOG"
    [ -n "$applier_pid" ] && kill -TERM "$applier_pid" 2>/dev/null && wait "$applier_pid"
    ovs_db_stop
    rm -rf "$dir"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    echo "--- applier log" >&2
    cat "$dir/applier.log" >&2
    exit 1
}
pass() { echo "ok: $*"; }

version=0
# set_config JSON: publishes JSON as kubelet does: a new timestamped directory,
# then an atomic rename of the ..data symlink.
set_config() {
    version=$((version + 1))
    mkdir -p "$dir/cm/..v$version"
    printf '%s\n' "$1" >"$dir/cm/..v$version/config.json"
    ln -s "..v$version" "$dir/cm/..data_tmp"
    mv -T "$dir/cm/..data_tmp" "$dir/cm/..data"
    [ -e "$dir/cm/config.json" ] || ln -s ..data/config.json "$dir/cm/config.json"
}

bridge_col_empty() { [ "$(ovs_vsctl get bridge br-int "$1")" = "[]" ]; }
log_count_is() { [ "$(log_count "$1")" = "$2" ]; }
log_count_gt() { [ "$(log_count "$1")" -gt "$2" ]; }

expect() {  # expect DESCRIPTION COMMAND...: waits up to 10 s for COMMAND
    local what=$1
    shift
    ovs_wait_for "$what" 10 "$@" || fail "$what"
    pass "$what"
}

ovs_db_start "$dir" || fail "cannot start ovsdb-server"

# Applier first, br-int later.
set_config '{"generation": 1, "netFlow": {"collectors": ["172.30.158.150:2056"], "activeTimeout": 60}}'
"$BIN/exportflows-applier" --config-file "$dir/cm/config.json" --ovsdb "$OVS_DB" \
    --node-ip 10.0.0.9 --health-listen 127.0.0.1:0 --log-level debug \
    >"$dir/applier.log" 2>&1 &
applier_pid=$!

expect "health server port logged" log_has "listening address=.* server=health"
metrics_port=$(applier_metrics_port)
expect "applier waits for br-int" log_has "waiting for bridge"
ovs_vsctl add-br br-int || fail "add-br"
expect "netflow applied once br-int exists" col_is netflow targets '["172.30.158.150:2056"]'
col_is netflow external_ids '{exportflows-owner=exportflows}' || fail "owner mark"
expect "/healthz answers" sh -c "curl -sf http://127.0.0.1:$metrics_port/healthz >/dev/null"
expect "/readyz ready" sh -c "curl -sf http://127.0.0.1:$metrics_port/readyz >/dev/null"

# All three protocols, with ':port' and IPv6, with the publisher's default
# tuning: the columns ovnkube-node writes, OVS's defaults for the rest.  A key
# this applier does not know is ignored (a newer publisher may add one).
set_config '{"version": 1, "generation": 2,
  "netFlow": {"collectors": ["172.30.158.150:2056"], "activeTimeout": 60},
  "sFlow": {"collectors": ["172.30.158.150:6343"], "agent": "ovn-k8s-mp0", "someFutureKey": 1},
  "ipfix": {"collectors": ["172.30.158.150:2055", "[fd00::5]:4739", ":4739"], "cacheActiveTimeout": 60}}'
expect "sflow applied" col_is sflow targets '["172.30.158.150:6343"]'
col_is sflow agent ovn-k8s-mp0 && col_is sflow sampling '[]' && col_is sflow header '[]' &&
    col_is sflow polling '[]' || fail "sflow columns"
expect "ipfix applied with node IP and IPv6" \
    col_is ipfix targets '["10.0.0.9:4739", "172.30.158.150:2055", "[fd00::5]:4739"]'
col_is ipfix sampling '[]' && col_is ipfix obs_domain_id '[]' && col_is ipfix obs_point_id '[]' &&
    col_is ipfix cache_active_timeout 60 && col_is ipfix cache_max_flows '[]' ||
    fail "ipfix columns"
expect "generation 2 reported" metric_is exportflows_applier_applied_generation 2
log_has 'config has keys this version does not know, ignored count=1 first=sFlow.someFutureKey' ||
    fail "no warning about the ignored key"

# Change each protocol.
set_config '{"generation": 3,
  "netFlow": {"collectors": ["172.30.158.150:2056", "10.1.1.1:9995"], "activeTimeout": 30},
  "sFlow": {"collectors": ["172.30.158.150:6343"], "agent": "ovn-k8s-mp0", "header": 256, "sampling": 32, "polling": 20},
  "ipfix": {"collectors": ["172.30.158.150:2055"], "sampling": 100,
            "cacheActiveTimeout": 30, "cacheMaxFlows": 5000, "obsDomainID": 7, "obsPointID": 8}}'
expect "netflow changed" col_is netflow targets '["10.1.1.1:9995", "172.30.158.150:2056"]'
col_is netflow active_timeout 30 || fail "netflow active_timeout"
expect "sflow changed" col_is sflow sampling 32
col_is sflow header 256 && col_is sflow polling 20 || fail "sflow columns changed"
expect "ipfix changed" col_is ipfix cache_max_flows 5000
col_is ipfix targets '["172.30.158.150:2055"]' && col_is ipfix sampling 100 &&
    col_is ipfix obs_domain_id 7 || fail "ipfix columns changed"
[ "$(ovs_vsctl --columns=_uuid --bare list netflow | grep -c .)" = 1 ] ||
    fail "replaced netflow rows were not garbage collected"

# Drift: someone clears a column and edits a row; both are undone.
drift_before=$(metric exportflows_applier_drift_repairs_total)
ovs_vsctl clear bridge br-int netflow
expect "cleared netflow restored" col_is netflow active_timeout 30
ovs_vsctl set ipfix "$(ovs_vsctl get bridge br-int ipfix)" sampling=1
expect "edited ipfix sampling restored" col_is ipfix sampling 100
expect "drift repairs counted" metric_is exportflows_applier_drift_repairs_total \
    $((drift_before + 2))

# Remove a protocol: its column is cleared and the row collected.
set_config '{"generation": 4,
  "netFlow": {"collectors": ["172.30.158.150:2056", "10.1.1.1:9995"], "activeTimeout": 30},
  "ipfix": {"collectors": ["172.30.158.150:2055"], "sampling": 100,
            "cacheActiveTimeout": 30, "cacheMaxFlows": 5000, "obsDomainID": 7, "obsPointID": 8}}'
expect "sflow removed" bridge_col_empty sflow
expect "sflow row collected" sh -c "[ -z \"\$(ovs-vsctl --db=$OVS_DB --no-wait list sflow)\" ]"

# A foreign sFlow row, set by hand while sFlow is off, is left alone.
ovs_vsctl -- --id=@s create sflow targets='"192.0.2.1:6343"' -- set bridge br-int sflow=@s >/dev/null
set_config '{"generation": 5,
  "netFlow": {"collectors": ["172.30.158.150:2056"], "activeTimeout": 30},
  "ipfix": {"collectors": ["172.30.158.150:2055"], "sampling": 100,
            "cacheActiveTimeout": 30, "cacheMaxFlows": 5000, "obsDomainID": 7, "obsPointID": 8}}'
expect "generation 5 applied" col_is netflow targets '["172.30.158.150:2056"]'
col_is sflow targets '["192.0.2.1:6343"]' || fail "foreign sflow row was touched"
pass "foreign sflow row left alone"

# Corrupt and invalid payloads are refused; the last good config stays.
tx_before=$(metric "$tx_ok")
set_config '{"generation": 6, "netFlow": {"collectors": ["172.30.158.150:2056"'
expect "corrupt payload refused" log_has "config refused"
set_config '{"generation": 7, "netFlow": {"collectors": ["10.0.0.1:70000"]}}'
expect "invalid payload refused" log_count_is "config refused" 2
expect "config errors counted" metric_is 'exportflows_applier_errors_total{kind="config"}' 2
col_is netflow targets '["172.30.158.150:2056"]' || fail "last good config lost"
[ "$(metric "$tx_ok")" = "$tx_before" ] || fail "a refused payload caused a transaction"
pass "last good config kept"

# No-op resync: the same config again (new generation) costs no transaction.
noop_before=$(metric exportflows_applier_noop_resyncs_total)
set_config '{"generation": 8,
  "netFlow": {"collectors": ["172.30.158.150:2056"], "activeTimeout": 30},
  "ipfix": {"collectors": ["172.30.158.150:2055"], "sampling": 100,
            "cacheActiveTimeout": 30, "cacheMaxFlows": 5000, "obsDomainID": 7, "obsPointID": 8}}'
expect "no-op resync counted" metric_is exportflows_applier_noop_resyncs_total \
    $((noop_before + 1))
expect "generation 8 reported" metric_is exportflows_applier_applied_generation 8
[ "$(metric "$tx_ok")" = "$tx_before" ] || fail "no-op resync sent a transaction"
pass "zero transactions on a no-op resync"

# A second applier over tcp: finds everything in place and sends nothing.
tcp_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ovs-appctl -t "$dir/ovsdb-server.ctl" ovsdb-server/add-remote "ptcp:$tcp_port:127.0.0.1" ||
    fail "cannot add a tcp remote"
"$BIN/exportflows-applier" --config-file "$dir/cm/config.json" --ovsdb "tcp:127.0.0.1:$tcp_port" \
    --node-ip 10.0.0.9 --health-listen none >"$dir/applier-tcp.log" 2>&1 &
tcp_pid=$!
expect "tcp applier in sync" grep -q "flow export already in place" "$dir/applier-tcp.log"
kill -TERM "$tcp_pid"
wait "$tcp_pid" || fail "tcp applier exit status $?"
grep -q "applied flow export" "$dir/applier-tcp.log" && fail "tcp applier sent a transaction"
pass "no transaction from a second applier over tcp"

# ovsdb-server restart, same database: reconnect, resync, zero transactions.
connects=$(log_count "connected to ovsdb")
ovs_db_restart || fail "cannot restart ovsdb-server"
expect "reconnected after restart" log_count_gt "connected to ovsdb" "$connects"
expect "resync after restart" metric_is exportflows_applier_noop_resyncs_total \
    $((noop_before + 2))
[ "$(metric "$tx_ok")" = "$tx_before" ] || fail "restart resync sent a transaction"
pass "zero transactions after a restart with the same database"

# ovsdb-server restart with an empty database: waits for br-int, re-applies.
ovs_db_stop
rm -f "$dir/conf.db"
ovs_db_start "$dir" || fail "cannot start a fresh ovsdb-server"
ovs_vsctl add-br br-int
expect "re-applied on a fresh database" col_is netflow targets '["172.30.158.150:2056"]'
expect "ipfix re-applied" col_is ipfix cache_max_flows 5000

# SIGTERM: clean exit 0.  With --config-file there is no DaemonSet to ask
# whether this is an uninstall, so "--clear-on-exit=auto" leaves OVS as it is.
kill -TERM "$applier_pid"
wait "$applier_pid"
rc=$?
applier_pid=
[ $rc = 0 ] || fail "exit status $rc on SIGTERM"
pass "exit 0 on SIGTERM"
col_is netflow targets '["172.30.158.150:2056"]' && col_is ipfix cache_max_flows 5000 ||
    fail "SIGTERM with --clear-on-exit=auto and --config-file changed OVS"
log_has 'leaving the flow export in place bridge=br-int reason="no --daemonset' ||
    fail "no log line saying why the rows stay"
pass "--config-file, auto: the rows stay after SIGTERM"

# --clear-on-exit=always: SIGTERM clears the rows this applier owns; a foreign
# sFlow row (sFlow is off in this config) stays.
ovs_vsctl -- --id=@s create sflow targets='"192.0.2.1:6343"' -- set bridge br-int sflow=@s >/dev/null
applier_log=$dir/applier-clear.log
"$BIN/exportflows-applier" --config-file "$dir/cm/config.json" --ovsdb "$OVS_DB" \
    --node-ip 10.0.0.9 --health-listen none --clear-on-exit=always >"$applier_log" 2>&1 &
applier_pid=$!
expect "applier with --clear-on-exit=always in sync" log_has "flow export already in place"
kill -TERM "$applier_pid"
wait "$applier_pid"
rc=$?
applier_pid=
[ $rc = 0 ] || fail "exit status $rc on SIGTERM with --clear-on-exit=always"
bridge_col_empty netflow && bridge_col_empty ipfix || fail "netflow or ipfix not cleared on exit"
col_is sflow targets '["192.0.2.1:6343"]' || fail "the foreign sflow row was cleared on exit"
log_has 'cleared flow export bridge=br-int cleared=netFlow,ipfix foreign_kept=sFlow' ||
    fail "no 'cleared flow export' line naming netflow,ipfix and the foreign sflow"
pass "--clear-on-exit=always: netflow and ipfix cleared on SIGTERM, foreign sflow kept, exit 0"
echo "applier-ovsdb: all passed"
