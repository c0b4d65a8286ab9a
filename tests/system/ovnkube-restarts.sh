#!/usr/bin/env bash
# ovnkube-restarts.sh — exportflows-applier and ovnkube-node writing the same
# three br-int columns, as on OpenShift.
#
# Three nodes, each with its own ovsdb-server and an applier fed by
# --config-file (one file for all, as the ConfigMap is), and the ovnkube-node
# stand-in of lib-ovnkube.sh.  Twenty rounds restart the stand-in on every
# node at once (a network operator roll), with config edits between them; each
# edit is followed by restarts with the new collectors, as the operator rolls
# ovnkube-node after an edit.  Asserted:
#   - after every round each node's three rows equal, column for column, the
#     rows ovnkube-node alone writes for that config (a reference ovsdb-server);
#   - from exportflows_applier_transactions_total{result="ok"}: at most one
#     apply per restart (the stand-in's cleared window) plus one per edit and
#     the first apply, i.e. an equal row is never rewritten;
#   - no flip-flop: after the last restart, the row uuids and the transaction
#     count stay the same for 3 s;
#   - export off after ovnkube-node wrote identical rows: the applier clears
#     them (they equal what it last applied); a different foreign row of a
#     protocol that is off stays;
#   - a ":PORT" NetFlow collector on a node whose IP is IPv6 is a plan error
#     naming the cause, and nothing is written.
# Every wait polls with a deadline.
set -u

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib-check.sh"
. "$here/lib-cluster.sh"
. "$here/lib-ovnkube.sh"

ROUNDS=${OVNKUBE_ROUNDS:-20}
NODES=(n1 n2 n3)
declare -A NODE_IP=([n1]=10.0.0.1 [n2]=10.0.0.2 [n3]=10.0.0.3)
declare -A NODE_DB=()
TX_OK='exportflows_applier_transactions_total{result="ok"}'

check_tools ovsdb-tool ovsdb-server ovsdb-client ovs-vsctl curl
check_python

WORK=$(mktemp -d /tmp/exportflows-ovnkube.XXXXXX) || die "mktemp failed"
cleanup() {
    local rc=$?
    cluster_down
    check_finish "$WORK" $rc cluster_show_logs 20
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CLUSTER_DIR=$WORK
CLUSTER_BIN=$(cd "${EXPORTFLOWS_BIN_DIR:-$CLUSTER_ROOT/bin}" && pwd) || die "no bin dir"
mkdir -p "$WORK/logs"

# ---------------------------------------------------------------- configs

# The configs the edits go through, as "NETFLOW|SFLOW|IPFIX|IPFIX_SAMPLING|
# IPFIX_CACHE_MAX_FLOWS" (collector lists as in the spec; "" = off or unset).
# The IPFIX settings are those the network operator merges from ovs-flows-config:
# both writers get them.
CONFIGS=(
    "172.30.158.150:2056|172.30.158.150:6343|172.30.158.150:2055,:4739||"
    "172.30.158.150:2056,10.1.1.1:9995|172.30.158.150:6343|172.30.158.150:2055,:4739||"
    "172.30.158.150:2056|:6343,172.30.158.150:6343|:4739|100|5000"
    "|172.30.158.150:6343|172.30.158.150:2055||"
    "10.1.1.1:9995|172.30.158.150:6343|172.30.158.150:2055,:4739|64|"
)
CUR=

# json_list LIST: ["A","B"].
json_list() {
    local out='' t
    local -a items
    IFS=, read -r -a items <<<"$1"
    for t in "${items[@]}"; do out="$out${out:+,}\"$t\""; done
    printf '[%s]' "$out"
}

# set_config SPEC: the appliers' config.json for SPEC (a CONFIGS entry), with
# the publisher's default tuning, renamed into place.
set_config() {
    local nf sf ix samp maxf ipfix_extra=''
    IFS='|' read -r nf sf ix samp maxf <<<"$1"
    CUR=$1
    [ -n "$samp" ] && ipfix_extra="$ipfix_extra, \"sampling\": $samp"
    [ -n "$maxf" ] && ipfix_extra="$ipfix_extra, \"cacheMaxFlows\": $maxf"
    {
        printf '{"version": 1'
        [ -n "$nf" ] && printf ', "netFlow": {"collectors": %s, "activeTimeout": 60}' "$(json_list "$nf")"
        [ -n "$sf" ] && printf ', "sFlow": {"collectors": %s, "agent": "ovn-k8s-mp0"}' "$(json_list "$sf")"
        [ -n "$ix" ] && printf ', "ipfix": {"collectors": %s, "cacheActiveTimeout": 60%s}' \
            "$(json_list "$ix")" "$ipfix_extra"
        printf '}\n'
    } >"$WORK/config.json.new" && mv -f "$WORK/config.json.new" "$WORK/config.json"
}

# ovnkube NODE [SPEC]: the stand-in's start on NODE with SPEC (default: the
# current config).
ovnkube() {
    local nf sf ix samp maxf
    IFS='|' read -r nf sf ix samp maxf <<<"${2:-$CUR}"
    OVNKUBE_IPFIX_SAMPLING=$samp OVNKUBE_IPFIX_CACHE_MAX_FLOWS=$maxf \
        ovnkube_start "${NODE_DB[$1]}" "${NODE_IP[$1]}" "$nf" "$sf" "$ix"
}

# ovnkube_ref NODE: the stand-in for the current config with NODE's IP, on the
# reference database, where nothing else writes.
ovnkube_ref() {
    local nf sf ix samp maxf
    IFS='|' read -r nf sf ix samp maxf <<<"$CUR"
    OVNKUBE_IPFIX_SAMPLING=$samp OVNKUBE_IPFIX_CACHE_MAX_FLOWS=$maxf \
        ovnkube_start "$REF_DB" "${NODE_IP[$1]}" "$nf" "$sf" "$ix"
}

declare -A WANT=()
# compute_want: WANT[node], the rows ovnkube-node alone writes on each node for
# the current config.
compute_want() {
    local node
    for node in "${NODES[@]}"; do
        ovnkube_ref "$node" || return 1
        WANT[$node]=$(ovnkube_rows "$REF_DB") || return 1
    done
}
node_matches() { [ "$(ovnkube_rows "${NODE_DB[$1]}")" = "${WANT[$1]}" ]; }
all_match() {
    local node
    for node in "${NODES[@]}"; do node_matches "$node" || return 1; done
}
tx_ok() { cluster_metric "applier-$1" "$TX_OK"; }
in_sync() { [ "$(cluster_metric "applier-$1" exportflows_applier_in_sync)" = 1 ]; }
all_in_sync() {
    local node
    for node in "${NODES[@]}"; do in_sync "$node" || return 1; done
}
show_mismatch() {
    local node
    for node in "${NODES[@]}"; do
        node_matches "$node" && continue
        log "  $node has:"; ovnkube_rows "${NODE_DB[$node]}" | sed 's/^/    /'
        log "  $node wants:"; sed 's/^/    /' <<<"${WANT[$node]}"
    done
}

# ---------------------------------------------------------------- start

cluster_ovsdb_start ref br-int || die "reference ovsdb-server"
REF_DB=$CLUSTER_OVSDB
set_config "${CONFIGS[0]}"
for node in "${NODES[@]}"; do
    cluster_ovsdb_start "$node" br-int || die "ovsdb-server of $node"
    NODE_DB[$node]=$CLUSTER_OVSDB
    cluster_spawn "applier-$node" "$CLUSTER_BIN/exportflows-applier" \
        --config-file "$WORK/config.json" --ovsdb "${NODE_DB[$node]}" \
        --node-name "$node" --node-ip "${NODE_IP[$node]}" --health-listen 127.0.0.1:0
done
for node in "${NODES[@]}"; do
    cluster_wait_ms "applier $node's health address" 10000 \
        cluster_listen_addr "applier-$node" health >/dev/null || die "applier $node did not start"
    CLUSTER_HEALTH[applier-$node]=$(cluster_listen_addr "applier-$node" health)
done
compute_want || die "reference rows"
cluster_wait_ms "first apply on every node" 10000 all_match || { show_mismatch; die "first apply"; }
pass "first config applied on ${#NODES[@]} nodes, equal to ovnkube-node's rows"
[ "$(OVS_DB=${NODE_DB[n1]} ovs_vsctl get netflow "$(OVS_DB=${NODE_DB[n1]} ovs_vsctl get bridge br-int netflow)" external_ids)" \
    = '{exportflows-owner=exportflows}' ] || fail "the applier's row lacks its owner mark"

# ---------------------------------------------------------------- rounds

declare -A TX0=()
for node in "${NODES[@]}"; do TX0[$node]=$(tx_ok "$node"); done
edits=0
restarts=0
round_fail=0
for round in $(seq 1 "$ROUNDS"); do
    # An edit every fourth round: the appliers apply it, then the next rounds
    # restart ovnkube-node with the new collectors (the operator's roll).
    if [ $((round % 4)) = 0 ] && [ $((round / 4)) -lt ${#CONFIGS[@]} ]; then
        set_config "${CONFIGS[$((round / 4))]}"
        edits=$((edits + 1))
        compute_want || die "reference rows"
        cluster_wait_ms "edit $edits applied" 10000 all_match ||
            { show_mismatch; fail "round $round: edit $edits not applied"; round_fail=1; }
    fi
    pids=()
    for node in "${NODES[@]}"; do
        ovnkube "$node" & pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || fail "round $round: the stand-in failed"; done
    restarts=$((restarts + 1))
    cluster_wait_ms "round $round converged" 10000 all_match ||
        { show_mismatch; fail "round $round: a node is not in the desired state"; round_fail=1; }
    cluster_wait_ms "round $round in sync" 10000 all_in_sync ||
        fail "round $round: an applier is not in sync"
done
[ $round_fail = 0 ] && pass "$restarts restarts on ${#NODES[@]} nodes with $edits edits: every node in the desired state after each"

# The transaction budget: one per restart (the cleared window) and one per edit.
budget=$((restarts + edits))
total=0
over=0
for node in "${NODES[@]}"; do
    used=$(( $(tx_ok "$node") - TX0[$node] ))
    total=$((total + used))
    log "$node: $used transactions for $restarts restarts and $edits edits"
    [ "$used" -le "$budget" ] || {
        over=1
        fail "$node: $used transactions, more than $budget: an equal row was rewritten"
    }
done
[ $over = 0 ] && pass "transactions per simulated restart: $(awk -v t="$total" \
    -v n="$((restarts * ${#NODES[@]}))" -v e="$((edits * ${#NODES[@]}))" \
    'BEGIN { printf "%.2f", (t - e) / n }') (at most 1 allowed)"

# No flip-flop: nothing moves for 3 s after the last restart.
declare -A UUIDS=() TX_END=()
for node in "${NODES[@]}"; do
    UUIDS[$node]=$(ovnkube_row_uuids "${NODE_DB[$node]}")
    TX_END[$node]=$(tx_ok "$node")
done
stable_until=$((SECONDS + 3))
moved=
while [ $SECONDS -lt $stable_until ] && [ -z "$moved" ]; do
    for node in "${NODES[@]}"; do
        [ "$(ovnkube_row_uuids "${NODE_DB[$node]}")" = "${UUIDS[$node]}" ] || moved="$node's rows"
        [ "$(tx_ok "$node")" = "${TX_END[$node]}" ] || moved="$node's transactions"
    done
    sleep 0.2
done
[ -z "$moved" ] && pass "no flip-flop: row uuids and transaction counts stable for 3 s" ||
    fail "flip-flop: $moved changed after the last restart"

# ---------------------------------------------------------------- export off

# ovnkube-node's rows for the full config; then sFlow and IPFIX are turned off.
set_config "${CONFIGS[0]}"
compute_want
cluster_wait_ms "back to the first config" 10000 all_match || fail "first config again"
for node in "${NODES[@]}"; do ovnkube "$node" || fail "stand-in on $node"; done
cluster_wait_ms "ovnkube-node's rows in sync" 10000 all_in_sync || fail "not in sync"
db1=${NODE_DB[n1]}
[ "$(OVS_DB=$db1 ovs_vsctl get sflow "$(OVS_DB=$db1 ovs_vsctl get bridge br-int sflow)" external_ids)" = '{}' ] ||
    fail "the sFlow row is not ovnkube-node's"
tx_before=$(tx_ok n1)
set_config "172.30.158.150:2056|||"
compute_want
cluster_wait_ms "sFlow and IPFIX cleared" 10000 all_match ||
    { show_mismatch; fail "rows equal to the last applied config were not cleared"; }
[ "$(OVS_DB=$db1 ovs_vsctl get netflow "$(OVS_DB=$db1 ovs_vsctl get bridge br-int netflow)" external_ids)" = '{}' ] ||
    fail "ovnkube-node's NetFlow row, equal to the desired one, was rewritten"
if [ $(( $(tx_ok n1) - tx_before )) = 1 ]; then
    pass "export off: ovnkube-node's identical sFlow and IPFIX rows cleared in one transaction, its NetFlow row kept"
else
    fail "clearing took $(( $(tx_ok n1) - tx_before )) transactions, not 1"
fi

# A different foreign sFlow row, while sFlow is off, stays; so when all is off.
OVS_DB=$db1 ovs_vsctl -- --id=@s create sflow targets='"192.0.2.1:6343"' sampling=1 \
    -- set bridge br-int sflow=@s >/dev/null || fail "foreign sflow row"
set_config "|||"
cluster_wait_ms "NetFlow cleared on n1" 10000 \
    sh -c "[ \"\$(ovs-vsctl --db=$db1 --no-wait get bridge br-int netflow)\" = '[]' ]" ||
    fail "NetFlow row not cleared when export is off"
cluster_wait_ms "n1 in sync" 10000 in_sync n1 || fail "n1 not in sync with export off"
if [ "$(OVS_DB=$db1 ovs_vsctl get sflow "$(OVS_DB=$db1 ovs_vsctl get bridge br-int sflow)" targets)" = '["192.0.2.1:6343"]' ]; then
    pass "export off: a different foreign sFlow row stays"
else
    fail "the foreign sFlow row was touched"
fi

# ---------------------------------------------------------------- IPv6 node

cluster_ovsdb_start v6 br-int || die "ovsdb-server of v6"
V6_DB=$CLUSTER_OVSDB
printf '%s\n' '{"version": 1, "netFlow": {"collectors": [":2056"]}, "ipfix": {"collectors": [":4739"]}}' \
    >"$WORK/v6.json"
cluster_spawn applier-v6 "$CLUSTER_BIN/exportflows-applier" --config-file "$WORK/v6.json" \
    --ovsdb "$V6_DB" --node-name v6 --node-ip fd00::9 --health-listen 127.0.0.1:0
cluster_wait_ms "the IPv6 node's plan error" 10000 \
    grep -q "NetFlow v5 carries IPv4 only" "$WORK/logs/applier-v6.log" ||
    fail "no plan error for ':2056' on an IPv6 node"
CLUSTER_HEALTH[applier-v6]=$(cluster_listen_addr applier-v6 health)
[ "$(cluster_metric applier-v6 'exportflows_applier_errors_total{kind="plan"}')" = 1 ] ||
    fail "the plan error is not counted"
if [ "$(ovnkube_row_uuids "$V6_DB")" = "- - -" ]; then
    pass "':2056' NetFlow on an IPv6 node: nothing written, $(grep -o "netFlow collector.*IPv4 only" "$WORK/logs/applier-v6.log" | head -1)"
else
    fail "something was written on the IPv6 node"
fi

check_verdict ovnkube-restarts
