#!/usr/bin/env bash
# k8s-e2e.sh — exportflows end to end on a real Kubernetes control plane.
#
# tests/system/lib-cluster.sh brings up etcd and kube-apiserver (built from the
# pinned Go modules, cached), the test Network CRD, the manifests' RBAC, and
# exportflows-webhook registered by URL with its publisher on.  Then:
#   1. admission: `kubectl apply` and `kubectl apply --dry-run=server` of invalid
#      Networks fail with the exact field errors on stderr (duplicate, bad port,
#      host name, leading zero, IPv6 under netFlow, too many collectors, wrong
#      network type, several at once), nothing is stored; valid ones pass, a
#      loopback collector passes with a warning, a dry run stores nothing;
#   2. three appliers, each with its own ovsdb-server and br-int, run as
#      processes with kubeconfigs; after each valid apply every node's OVS rows
#      match within 2 s (":PORT" collectors get each node's own IP), and each
#      node's status Lease reports the ConfigMap's hash; an edit changes the
#      rows, an invalid update changes nothing, removing exportNetworkFlows
#      clears them;
#   3. kube-apiserver is restarted, then a change is applied; a change is
#      applied and kube-apiserver restarted at once: every node gets both;
#   4. the ConfigMap is deleted: the publisher recreates it, nodes still match;
#   5. the appliers and the webhook exit 0 on SIGTERM.
# Runs as the ServiceAccounts of manifests/base (CLUSTER_IDENTITY=admin: as the
# admin).  EXPORTFLOWS_KEEP_TMP=1 keeps the work dir (kept on failure).
# Needs: openvswitch-switch (ovsdb-server, ovsdb-client, ovs-vsctl), jq, python3,
# Go for the first build of the control plane.  About a minute.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-check.sh
. "$here/lib-check.sh"
# shellcheck source=tests/system/lib-cluster.sh
. "$here/lib-cluster.sh"

DEADLINE_MS=2000          # every node matches the Network this soon after apply
RESTART_DEADLINE_MS=15000 # ... after a kube-apiserver restart (watches back off)
NODES=(n1 n2 n3)
declare -A NODE_IP=([n1]=192.0.2.11 [n2]=192.0.2.12 [n3]=192.0.2.13)
declare -A NODE_DB=()

check_tools ovsdb-tool ovsdb-server ovsdb-client ovs-vsctl jq curl openssl

WORK=$(mktemp -d /tmp/exportflows-k8s-e2e.XXXXXX) || die "mktemp failed"
cleanup() {
    local rc=$?
    cluster_down
    check_finish "$WORK" $rc cluster_show_logs 20
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

# network EXPORT_YAML [DEFAULT_NETWORK_TYPE]: the Network "cluster" with
# spec.exportNetworkFlows set to EXPORT_YAML (flow style, one line; "" leaves
# the field out).
network() {
    cat <<EOF
apiVersion: operator.openshift.io/v1
kind: Network
metadata:
  name: cluster
spec:
  clusterNetwork:
  - {cidr: 10.128.0.0/14, hostPrefix: 23}
  serviceNetwork: [172.30.0.0/16]
  defaultNetwork: {type: ${2:-OVNKubernetes}}
EOF
    [ -n "$1" ] && echo "  exportNetworkFlows: $1"
}

# apply_network EXPORT_YAML: kubectl apply of a valid Network, stderr kept in
# $WORK/apply.err; sets APPLIED_AT (ms) when it returns.
apply_network() {
    network "$1" | cluster_kubectl apply -f - >/dev/null 2>"$WORK/apply.err" || {
        fail "kubectl apply of a valid Network failed: $(cat "$WORK/apply.err")"
        return 1
    }
    APPLIED_AT=$(cluster_now_ms)
}

# expect_refused DESCRIPTION EXPORT_YAML NETWORK_TYPE WANT_STDERR: kubectl apply
# and kubectl apply --dry-run=server both fail with exactly WANT_STDERR.
expect_refused() {
    local what=$1 spec=$2 type=$3 want=$4 mode got
    for mode in apply dry-run; do
        local args=(apply -f -)
        [ $mode = dry-run ] && args=(apply --dry-run=server -f -)
        if network "$spec" "$type" | cluster_kubectl "${args[@]}" >/dev/null 2>"$WORK/refused.err"; then
            fail "$what: kubectl $mode accepted it"
            continue
        fi
        got=$(cat "$WORK/refused.err")
        if [ "$got" = "$want" ]; then
            pass "$what: kubectl $mode refused: $(tail -n 1 <<<"$got")"
        else
            fail "$what: kubectl $mode stderr differs"
            diff <(echo "$want") <(echo "$got") | sed 's/^/    /'
        fi
    done
}

# sorted LIST: a comma separated list sorted as cluster_bridges sorts targets.
sorted() { tr , '\n' <<<"$1" | LC_ALL=C sort | paste -sd, -; }

# want_line NODE NETFLOW SFLOW IPFIX: the cluster_bridges line (without the
# bridge name) for NODE when the Network has these collectors (comma lists, ""
# = off, ":PORT" = the node's IP) with the publisher's default tuning.
want_line() {
    local node=$1 nf sf ix
    nf=$(node_targets "$node" "$2")
    sf=$(node_targets "$node" "$3")
    ix=$(node_targets "$node" "$4")
    printf 'netflow=%s sflow=%s ipfix=%s' \
        "$( [ -n "$nf" ] && echo "$(sorted "$nf")/60" || echo - )" \
        "$( [ -n "$sf" ] && echo "$(sorted "$sf")/64/128/10/ovn-k8s-mp0" || echo - )" \
        "$( [ -n "$ix" ] && echo "$(sorted "$ix")/400/60/123/456" || echo - )"
}

# node_targets NODE LIST: LIST with every ":PORT" made NODE_IP:PORT.
node_targets() {
    # shellcheck disable=SC2001 # a regex anchored on list items, not a plain substitution
    sed "s/\(^\|,\):\([0-9]*\)/\1${NODE_IP[$1]}:\2/g" <<<"$2"
}

# all_nodes_match NETFLOW SFLOW IPFIX: true when every node's br-int is as
# want_line says.  MISMATCH names the first node that is not.
MISMATCH=
all_nodes_match() {
    local node
    for node in "${NODES[@]}"; do
        if ! cluster_bridge_is "${NODE_DB[$node]}" br-int "$(want_line "$node" "$@")"; then
            MISMATCH="$node has '$CLUSTER_BRIDGE_SEEN', wants 'br-int $(want_line "$node" "$@")'"
            return 1
        fi
    done
}

# expect_nodes DESCRIPTION DEADLINE_MS NETFLOW SFLOW IPFIX: every node matches
# within DEADLINE_MS of APPLIED_AT, the time of the event SINCE names.
SINCE="kubectl apply returned"
expect_nodes() {
    local what=$1 limit=$2 left
    shift 2
    left=$((APPLIED_AT + limit - $(cluster_now_ms)))
    [ $left -gt 0 ] || left=1
    if cluster_wait_ms "$what" $left all_nodes_match "$@"; then
        pass "$what: all ${#NODES[@]} nodes match $(( $(cluster_now_ms) - APPLIED_AT )) ms after $SINCE"
    else
        fail "$what: not every node matches ${limit} ms after $SINCE: $MISMATCH"
    fi
    SINCE="kubectl apply returned"
}

# configmap_hash: the hash in the published ConfigMap ("" when absent).
configmap_hash() {
    cluster_kubectl -n exportflows get configmap exportflows-config \
        -o jsonpath='{.data.config\.json}' 2>/dev/null | jq -r '.hash // empty' 2>/dev/null
}

# leases_report HASH: true when every node's status Lease says Applied with HASH.
leases_report() {
    local node got
    for node in "${NODES[@]}"; do
        got=$(cluster_kubectl -n exportflows get lease "exportflows-node-$node" -o \
            jsonpath='{.metadata.annotations.exportflows\.io/state} {.metadata.annotations.exportflows\.io/applied-hash}' 2>/dev/null)
        [ "$got" = "Applied $1" ] || { MISMATCH="lease of $node: '$got'"; return 1; }
    done
}

# expect_status DESCRIPTION: the ConfigMap has a hash and every node's Lease
# reports it within 5 s.
expect_status() {
    local hash
    hash=$(configmap_hash)
    if [ -z "$hash" ]; then
        fail "$1: the ConfigMap has no hash"
    elif cluster_wait_ms "leases" 5000 leases_report "$hash"; then
        pass "$1: every node's Lease says Applied ${hash:0:19}..."
    else
        fail "$1: node status does not report the ConfigMap's hash $hash: $MISMATCH"
    fi
}

generation() {
    cluster_kubectl get network cluster -o jsonpath='{.metadata.generation}' 2>/dev/null
}

# ---------------------------------------------------------------- control plane

log "work dir $WORK, identity $CLUSTER_IDENTITY"
cluster_up "$WORK" || die "could not bring up the control plane and the webhook"
pass "kube-apiserver at $APISERVER_URL calls exportflows-webhook at $CLUSTER_WEBHOOK_URL/validate"

# ---------------------------------------------------------------- 1. admission

log "1. admission: invalid Networks are refused with their field errors"
INV='The Network "cluster" is invalid: '
expect_refused "duplicate collector" \
    '{netFlow: ["172.30.158.150:2056", "10.0.0.1:2056", "172.30.158.150:2056"]}' "" \
    "${INV}spec.exportNetworkFlows.netFlow[2]: Duplicate value: \"172.30.158.150:2056\" (same as netFlow[0])"
expect_refused "port out of range" '{ipfix: {collectors: ["10.0.0.1:70000"]}}' "" \
    "${INV}spec.exportNetworkFlows.ipfix.collectors[0]: Invalid value: \"10.0.0.1:70000\": port must be between 1 and 65535"
expect_refused "host name" '{sFlow: ["collector.example.com:6343"]}' "" \
    "${INV}spec.exportNetworkFlows.sFlow[0]: Invalid value: \"collector.example.com:6343\": host names are not allowed: use an IP address"
expect_refused "leading zero" '{ipfix: ["010.1.2.3:4739"]}' "" \
    "${INV}spec.exportNetworkFlows.ipfix[0]: Invalid value: \"010.1.2.3:4739\": IPv4 octets must not have leading zeros"
expect_refused "IPv6 under netFlow" '{netFlow: {collectors: ["[fd00::1]:2056"]}}' "" \
    "${INV}spec.exportNetworkFlows.netFlow.collectors[0]: Invalid value: \"[fd00::1]:2056\": NetFlow v5 carries IPv4 only: use an IPv4 address or :PORT"
eleven=$(printf '"10.0.0.1:%d", ' $(seq 2001 2011))
expect_refused "too many collectors" "{ipfix: [${eleven%, }]}" "" \
    "${INV}spec.exportNetworkFlows.ipfix: Too many: 11: must have at most 10 items"
expect_refused "wrong network type" '{netFlow: ["10.0.0.1:2056"]}' OpenShiftSDN \
    "${INV}spec.defaultNetwork.type: Unsupported value: \"OpenShiftSDN\": supported values: \"OVNKubernetes\" when spec.exportNetworkFlows is set"
expect_refused "several errors at once" \
    '{netFlow: ["[fd00::1]:2056", "10.0.0.1:020"], ipfix: ["collector.example.com:4739"]}' OpenShiftSDN \
    "${INV}
* spec.exportNetworkFlows.netFlow[0]: Invalid value: \"[fd00::1]:2056\": NetFlow v5 carries IPv4 only: use an IPv4 address or :PORT
* spec.exportNetworkFlows.netFlow[1]: Invalid value: \"10.0.0.1:020\": port must not have leading zeros
* spec.exportNetworkFlows.ipfix[0]: Invalid value: \"collector.example.com:4739\": host names are not allowed: use an IP address
* spec.defaultNetwork.type: Unsupported value: \"OpenShiftSDN\": supported values: \"OVNKubernetes\" when spec.exportNetworkFlows is set"
if cluster_kubectl get network cluster >/dev/null 2>&1; then
    fail "a refused create stored the Network anyway"
else
    pass "no refused Network was stored"
fi

# A valid Network passes a server dry run, which stores nothing.
if network '{netFlow: ["172.30.158.150:2056"]}' |
    cluster_kubectl apply --dry-run=server -f - >"$WORK/dry.out" 2>&1 &&
    ! cluster_kubectl get network cluster >/dev/null 2>&1; then
    pass "valid Network: kubectl apply --dry-run=server succeeds and stores nothing"
else
    fail "valid Network: dry run failed or stored it: $(cat "$WORK/dry.out")"
fi

# ---------------------------------------------------------------- 2. appliers

log "2. three appliers, each with its own ovsdb-server and br-int"
"$CLUSTER_BIN/exportflows-applier" --help 2>&1 | grep -q -- '--kubeconfig' ||
    die "exportflows-applier has no --kubeconfig"
for node in "${NODES[@]}"; do
    cluster_ovsdb_start "$node" br-int || die "ovsdb-server for $node did not start"
    NODE_DB[$node]=$CLUSTER_OVSDB
    cluster_applier_start "$node" "${NODE_IP[$node]}" "${NODE_DB[$node]}" br-int ||
        die "applier $node did not start"
done
for node in "${NODES[@]}"; do
    cluster_applier_health "$node" || die "applier $node did not come up"
done
pass "appliers ${NODES[*]} up ($(for n in "${NODES[@]}"; do printf '%s ' "${CLUSTER_HEALTH[applier-$n]}"; done| sed 's/ $//'))"

# A: NetFlow in the released shape, IPFIX in the proposal's, one ":PORT".
A_NF=172.30.158.150:2056 A_SF='' A_IX=172.30.158.150:2055,:4739
apply_network '{netFlow: {collectors: ["172.30.158.150:2056"]}, ipfix: ["172.30.158.150:2055", ":4739"]}' &&
    expect_nodes "first apply" $DEADLINE_MS "$A_NF" "$A_SF" "$A_IX"
expect_status "first apply"
if grep -q . "$WORK/apply.err"; then
    fail "a valid Network without warnings printed: $(cat "$WORK/apply.err")"
fi

# B: an edit: another NetFlow collector, sFlow with IPv6 on, IPFIX off.
B_NF=172.30.158.151:2056 B_SF='172.30.158.150:6343,[fd00::5]:6343' B_IX=''
apply_network '{netFlow: {collectors: ["172.30.158.151:2056"]}, sFlow: {collectors: ["172.30.158.150:6343", "[fd00::5]:6343"]}}' &&
    expect_nodes "edit" $DEADLINE_MS "$B_NF" "$B_SF" "$B_IX"
expect_status "edit"

# An invalid update is refused and leaves everything as it was.
gen=$(generation)
expect_refused "invalid update" '{netFlow: ["172.30.158.151:2056", "172.30.158.151:2056"]}' "" \
    "${INV}spec.exportNetworkFlows.netFlow[1]: Duplicate value: \"172.30.158.151:2056\" (same as netFlow[0])"
if [ "$(generation)" = "$gen" ] && all_nodes_match "$B_NF" "$B_SF" "$B_IX"; then
    pass "refused update: generation still $gen, nodes unchanged"
else
    fail "refused update changed something: generation $gen -> $(generation); $MISMATCH"
fi

# A loopback collector is allowed with a warning.
L_NF=127.0.0.1:2056
apply_network '{netFlow: ["127.0.0.1:2056"]}' &&
    expect_nodes "loopback collector" $DEADLINE_MS "$L_NF" "" ""
if grep -qx 'Warning: spec.exportNetworkFlows.netFlow\[0\]: 127.0.0.1:2056 is a loopback address' \
    "$WORK/apply.err"; then
    pass "loopback collector: kubectl printed the webhook's warning"
else
    fail "loopback collector: no warning, stderr: $(cat "$WORK/apply.err")"
fi

apply_network '' && expect_nodes "exportNetworkFlows removed" $DEADLINE_MS "" "" ""
expect_status "exportNetworkFlows removed"

# ---------------------------------------------------------------- 3. restarts

log "3. kube-apiserver restarts"
cluster_apiserver_restart || die "kube-apiserver did not come back"
pass "kube-apiserver restarted (pid $APISERVER_PID)"
C_NF=172.30.158.150:2057 C_IX=:4739
apply_network '{netFlow: ["172.30.158.150:2057"], ipfix: [":4739"]}' &&
    expect_nodes "change after the restart" $RESTART_DEADLINE_MS "$C_NF" "" "$C_IX"
expect_status "change after the restart"

D_NF=172.30.158.150:2058 D_SF=172.30.158.150:6343
apply_network '{netFlow: ["172.30.158.150:2058"], sFlow: ["172.30.158.150:6343"]}'
cluster_apiserver_restart || die "kube-apiserver did not come back"
APPLIED_AT=$(cluster_now_ms) SINCE="kube-apiserver was ready again"
expect_nodes "change just before a restart" $RESTART_DEADLINE_MS "$D_NF" "$D_SF" ""
expect_status "change just before a restart"

# ---------------------------------------------------------------- 4. ConfigMap deleted

log "4. the ConfigMap is deleted"
hash=$(configmap_hash)
cluster_kubectl -n exportflows delete configmap exportflows-config >/dev/null ||
    fail "cannot delete the ConfigMap"
configmap_has() { [ "$(configmap_hash)" = "$1" ]; }
if cluster_wait_ms "the ConfigMap to come back" 10000 configmap_has "$hash"; then
    pass "publisher recreated the ConfigMap in ${CLUSTER_WAITED_MS} ms, same hash"
else
    fail "publisher did not recreate the ConfigMap with hash $hash (now: '$(configmap_hash)')"
fi
APPLIED_AT=$(cluster_now_ms) SINCE="the ConfigMap came back"
expect_nodes "after the ConfigMap came back" $DEADLINE_MS "$D_NF" "$D_SF" ""
E_NF=172.30.158.150:2059
apply_network '{netFlow: ["172.30.158.150:2059"]}' &&
    expect_nodes "change after the ConfigMap came back" $DEADLINE_MS "$E_NF" "" ""

# ---------------------------------------------------------------- 5. shutdown

log "5. clean shutdown"
for node in "${NODES[@]}"; do
    cluster_alive "applier-$node" || { fail "applier $node died"; continue; }
    status=0
    cluster_stop_process "applier-$node" || status=$?
    if [ $status = 0 ]; then
        pass "applier $node exited 0 on SIGTERM"
    else
        fail "applier $node exited with status $status on SIGTERM"
    fi
done
if cluster_alive webhook; then
    status=0
    cluster_stop_process webhook || status=$?
    if [ $status = 0 ]; then
        pass "webhook exited 0 on SIGTERM"
    else
        fail "webhook exited with status $status on SIGTERM"
    fi
else
    fail "the webhook died"
fi

check_verdict k8s-e2e
