#!/usr/bin/env bash
# k8s-e2e.sh — exportflows end to end on a real Kubernetes control plane.
#
# tests/system/lib-cluster.sh brings up etcd and kube-apiserver (built from the
# pinned Go modules, cached), the Network CRD with the released API's
# constraints on exportNetworkFlows (tests/k8s/crd-network-released.yaml), the
# manifests' RBAC, and exportflows-webhook registered by URL with the
# manifest's own ValidatingWebhookConfiguration (matchConditions included) and
# its publisher on.  Then:
#   1. admission on the released schema, each case asserting WHO answers: the
#      API server's schema (its own message; the webhook counts no review) or
#      the webhook (ours; it counts exactly one).  The webhook alone refuses a
#      leading-zero two-digit octet (01.2.3.4, which the pattern admits), the
#      unspecified and broadcast addresses, duplicates and a wrong network type;
#      the schema refuses 010.1.2.3, IPv6, ":PORT", bad ports, wrong counts,
#      plain lists and unknown keys.  `netFlow: {}` is allowed with a warning
#      that NetFlow export is off.  Nothing refused is stored; a dry run stores
#      nothing;
#   2. three appliers, each with its own ovsdb-server and br-int, run as
#      processes with kubeconfigs; after each valid apply every node's OVS rows
#      match within 2 s, and each node's status Lease reports the ConfigMap's
#      hash; an edit changes the rows, an invalid update changes nothing,
#      removing exportNetworkFlows clears them;
#   3. kube-apiserver is restarted, then a change is applied; a change is
#      applied and kube-apiserver restarted at once: every node gets both;
#   4. the ConfigMap is deleted: the publisher recreates it, nodes still match;
#   5. a webhook outage: an edit of spec.logLevel is never sent to the webhook
#      (matchConditions), so it is admitted with the webhook stopped, as is the
#      network operator's forced server-side apply; a flow-export edit and a
#      network type change while export is set are refused (failurePolicy
#      Fail); with the webhook back, an invalid flow-export edit is refused with
#      the webhook's message;
#   6. a looser API: the CRD is replaced by the loose stand-in
#      (tests/k8s/crd-network.yaml), the way a cluster whose Network API does not
#      type exportNetworkFlows behaves.  Only the cases that must reach the
#      webhook although the released schema refuses them run here (plain lists,
#      IPv6, ":PORT", bad ports, counts, host names): the webhook refuses the
#      bad ones with its messages, and a valid Network with ":PORT" and IPv6
#      collectors reaches every node (":PORT" as each node's own IP);
#   7. the appliers and the webhook exit 0 on SIGTERM.
# Runs as the ServiceAccounts of manifests/base (CLUSTER_IDENTITY=admin: as the
# admin).  EXPORTFLOWS_KEEP_TMP=1 keeps the work dir (kept on failure).
# Needs: openvswitch-switch (ovsdb-server, ovsdb-client, ovs-vsctl), jq, python3,
# Go for the first build of the control plane.  About a minute and a half.
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
trap cluster_cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

# apply_network EXPORT_YAML: kubectl apply of a valid Network, stderr kept in
# $WORK/apply.err; sets APPLIED_AT (ms) when it returns.
apply_network() {
    cluster_network "$1" | cluster_kubectl apply -f - >/dev/null 2>"$WORK/apply.err" || {
        fail "kubectl apply of a valid Network failed: $(cat "$WORK/apply.err")"
        return 1
    }
    APPLIED_AT=$(cluster_now_ms)
}

# expect_refused WHO DESCRIPTION EXPORT_YAML NETWORK_TYPE WANT_STDERR: kubectl
# apply and kubectl apply --dry-run=server both fail with exactly WANT_STDERR,
# and WHO answered: "schema" (the API server's schema: the webhook answers no
# review) or "webhook" (the webhook answers exactly one per request).
expect_refused() {
    local who=$1 what=$2 spec=$3 type=$4 want=$5 mode got before reviews
    for mode in apply dry-run; do
        local args=(apply -f -)
        [ $mode = dry-run ] && args=(apply --dry-run=server -f -)
        before=$(cluster_webhook_reviews)
        if cluster_network "$spec" "$type" | cluster_kubectl "${args[@]}" >/dev/null 2>"$WORK/refused.err"; then
            fail "$what: kubectl $mode accepted it"
            continue
        fi
        got=$(cat "$WORK/refused.err")
        reviews=$(( $(cluster_webhook_reviews) - before ))
        if [ "$got" != "$want" ]; then
            fail "$what: kubectl $mode stderr differs"
            diff <(echo "$want") <(echo "$got") | sed 's/^/    /'
        elif [ "$who" = schema ] && [ $reviews != 0 ]; then
            fail "$what: the schema should answer, but the webhook answered $reviews reviews"
        elif [ "$who" = webhook ] && [ $reviews != 1 ]; then
            fail "$what: the webhook should answer one review, it answered $reviews"
        else
            pass "$what: $who refused (kubectl $mode): $(tail -n 1 <<<"$got" | cut -c1-160)"
        fi
    done
}

# schema_pattern FIELD VALUE: the API server's message for a collector the
# released CRD's pattern refuses (the pattern read from the fixture).
PATTERN=$(sed -n "s/^ *pattern: '\(.*\)'\$/\1/p" "$here/../k8s/crd-network-released.yaml")
schema_pattern() {
    echo "$1: Invalid value: \"$2\": $1 in body should match '$PATTERN'"
}

# sorted LIST: a comma separated list sorted as cluster_bridges sorts targets.
sorted() { tr , '\n' <<<"$1" | LC_ALL=C sort | paste -sd, -; }

# want_line NODE NETFLOW SFLOW IPFIX: the cluster_bridges line (without the
# bridge name) for NODE when the Network has these collectors (comma lists, ""
# = off, ":PORT" = the node's IP) with the publisher's default tuning: what
# ovnkube-node writes, so sFlow sampling/header/polling and IPFIX sampling and
# observation ids are empty (OVS's defaults).
want_line() {
    local node=$1 nf sf ix
    nf=$(node_targets "$node" "$2")
    sf=$(node_targets "$node" "$3")
    ix=$(node_targets "$node" "$4")
    printf 'netflow=%s sflow=%s ipfix=%s' \
        "$( [ -n "$nf" ] && echo "$(sorted "$nf")/60" || echo - )" \
        "$( [ -n "$sf" ] && echo "$(sorted "$sf")////ovn-k8s-mp0" || echo - )" \
        "$( [ -n "$ix" ] && echo "$(sorted "$ix")//60//" || echo - )"
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
        got=$(cluster_kubectl -n exportflows-nodes get lease "exportflows-node-$node" -o \
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

log "1. admission on the released schema: who answers each invalid Network"
INV='The Network "cluster" is invalid: '
NF=spec.exportNetworkFlows.netFlow.collectors
IX=spec.exportNetworkFlows.ipfix.collectors
TYPE_ERR='spec.defaultNetwork.type: Unsupported value: "OpenShiftSDN": supported values: "OVNKubernetes" when spec.exportNetworkFlows is set'

# What the released schema admits and only the webhook refuses.  First the one
# that matters most: a two-digit octet with a leading zero matches the
# pattern's [0-9][0-9], and ovnkube-node then refuses its own flags and does
# not start, on every node.
expect_refused webhook "leading-zero two-digit octet" '{netFlow: {collectors: ["01.2.3.4:2056"]}}' "" \
    "${INV}${NF}[0]: Invalid value: \"01.2.3.4:2056\": IPv4 octets must not have leading zeros"
expect_refused webhook "unspecified and broadcast addresses" \
    '{ipfix: {collectors: ["0.0.0.0:4739", "255.255.255.255:4739"]}}' "" \
    "${INV}
* ${IX}[0]: Invalid value: \"0.0.0.0:4739\": must not be the unspecified address
* ${IX}[1]: Invalid value: \"255.255.255.255:4739\": must not be the broadcast address"
expect_refused webhook "duplicate collector" \
    '{netFlow: {collectors: ["172.30.158.150:2056", "10.0.0.1:2056", "172.30.158.150:2056"]}}' "" \
    "${INV}${NF}[2]: Duplicate value: \"172.30.158.150:2056\" (same as netFlow.collectors[0])"
expect_refused webhook "wrong network type" '{netFlow: {collectors: ["10.0.0.1:2056"]}}' OpenShiftSDN \
    "${INV}${TYPE_ERR}"
expect_refused webhook "several errors at once" \
    '{netFlow: {collectors: ["00.0.0.0:2056", "10.0.0.1:2056", "10.0.0.1:2056"]}, ipfix: {collectors: ["09.1.1.1:4739"]}}' \
    OpenShiftSDN "${INV}
* ${NF}[0]: Invalid value: \"00.0.0.0:2056\": IPv4 octets must not have leading zeros
* ${NF}[2]: Duplicate value: \"10.0.0.1:2056\" (same as netFlow.collectors[1])
* ${IX}[0]: Invalid value: \"09.1.1.1:4739\": IPv4 octets must not have leading zeros
* ${TYPE_ERR}"

# What the released schema refuses itself, before any webhook is called.
expect_refused schema "three-digit octet with a leading zero" \
    '{netFlow: {collectors: ["010.1.2.3:2056"]}}' "" "${INV}$(schema_pattern "${NF}[0]" 010.1.2.3:2056)"
expect_refused schema "port out of range" '{ipfix: {collectors: ["10.0.0.1:70000"]}}' "" \
    "${INV}$(schema_pattern "${IX}[0]" 10.0.0.1:70000)"
expect_refused schema "IPv6 and :PORT" '{ipfix: {collectors: ["[fd00::5]:4739", ":4739"]}}' "" \
    "${INV}
* $(schema_pattern "${IX}[0]" "[fd00::5]:4739")
* $(schema_pattern "${IX}[1]" :4739)"
eleven=$(printf '"10.0.0.1:%d", ' $(seq 2001 2011))
expect_refused schema "too many collectors" "{ipfix: {collectors: [${eleven%, }]}}" "" \
    "${INV}${IX}: Too many: 11: must have at most 10 items"
expect_refused schema "empty collector list" '{netFlow: {collectors: []}}' "" \
    "${INV}${NF}: Invalid value: 0: ${NF} in body should have at least 1 items"
expect_refused schema "plain list (the proposal's shape)" '{netFlow: ["10.0.0.1:2056"]}' "" \
    "${INV}spec.exportNetworkFlows.netFlow: Invalid value: \"array\": spec.exportNetworkFlows.netFlow in body must be of type object: \"array\""
expect_refused schema "unknown key" '{netflow: {collectors: ["10.0.0.1:2056"]}}' "" \
    'Error from server (BadRequest): error when creating "STDIN": Network in version "v1" cannot be handled as a Network: strict decoding error: unknown field "spec.exportNetworkFlows.netflow"'
# The schema's refusal comes alone: the webhook, which would also refuse the
# network type, is never called.
expect_refused schema "schema error and a wrong network type" \
    '{netFlow: {collectors: ["010.1.2.3:2056"]}}' OpenShiftSDN "${INV}$(schema_pattern "${NF}[0]" 010.1.2.3:2056)"
if cluster_kubectl get network cluster >/dev/null 2>&1; then
    fail "a refused create stored the Network anyway"
else
    pass "no refused Network was stored"
fi

# A valid Network passes a server dry run, which stores nothing.
if cluster_network '{netFlow: {collectors: ["172.30.158.150:2056"]}}' |
    cluster_kubectl apply --dry-run=server -f - >"$WORK/dry.out" 2>&1 &&
    ! cluster_kubectl get network cluster >/dev/null 2>&1; then
    pass "valid Network: kubectl apply --dry-run=server succeeds and stores nothing"
else
    fail "valid Network: dry run failed or stored it: $(cat "$WORK/dry.out")"
fi

# A protocol object without collectors is that protocol off, as the CRD and
# the network operator read it: allowed, with the webhook's warning.
OFF_WARNING='Warning: spec.exportNetworkFlows.netFlow: no collectors, so NetFlow export is off'
before=$(cluster_webhook_reviews)
if cluster_network '{netFlow: {}, ipfix: {collectors: ["172.30.158.150:2055"]}}' |
    cluster_kubectl apply --dry-run=server -f - >/dev/null 2>"$WORK/dry.err" &&
    [ "$(cat "$WORK/dry.err")" = "$OFF_WARNING" ] &&
    [ $(( $(cluster_webhook_reviews) - before )) = 1 ]; then
    pass "netFlow: {} allowed by the webhook with: $OFF_WARNING"
else
    fail "netFlow: {} not allowed with the warning: $(cat "$WORK/dry.err")"
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

# A: NetFlow and IPFIX.
A_NF=172.30.158.150:2056 A_SF='' A_IX=172.30.158.150:2055,172.30.158.151:4739
apply_network '{netFlow: {collectors: ["172.30.158.150:2056"]}, ipfix: {collectors: ["172.30.158.150:2055", "172.30.158.151:4739"]}}' &&
    expect_nodes "first apply" $DEADLINE_MS "$A_NF" "$A_SF" "$A_IX"
expect_status "first apply"
if grep -q . "$WORK/apply.err"; then
    fail "a valid Network without warnings printed: $(cat "$WORK/apply.err")"
fi

# B: an edit: another NetFlow collector, sFlow on, IPFIX off as "ipfix: {}".
B_NF=172.30.158.151:2056 B_SF='172.30.158.150:6343,172.30.158.152:6343' B_IX=''
apply_network '{netFlow: {collectors: ["172.30.158.151:2056"]}, sFlow: {collectors: ["172.30.158.150:6343", "172.30.158.152:6343"]}, ipfix: {}}' &&
    expect_nodes "edit" $DEADLINE_MS "$B_NF" "$B_SF" "$B_IX"
expect_status "edit"
if [ "$(cat "$WORK/apply.err")" = 'Warning: spec.exportNetworkFlows.ipfix: no collectors, so IPFIX export is off' ]; then
    pass "ipfix: {} turned IPFIX off, and kubectl printed the webhook's warning"
else
    fail "ipfix: {}: not the warning that IPFIX export is off: $(cat "$WORK/apply.err")"
fi

# An invalid update is refused and leaves everything as it was.
gen=$(generation)
expect_refused webhook "invalid update" '{netFlow: {collectors: ["172.30.158.151:2056", "172.30.158.151:2056"]}}' "" \
    "${INV}${NF}[1]: Duplicate value: \"172.30.158.151:2056\" (same as netFlow.collectors[0])"
if [ "$(generation)" = "$gen" ] && all_nodes_match "$B_NF" "$B_SF" "$B_IX"; then
    pass "refused update: generation still $gen, nodes unchanged"
else
    fail "refused update changed something: generation $gen -> $(generation); $MISMATCH"
fi

# A loopback collector is allowed with a warning.
L_NF=127.0.0.1:2056
apply_network '{netFlow: {collectors: ["127.0.0.1:2056"]}}' &&
    expect_nodes "loopback collector" $DEADLINE_MS "$L_NF" "" ""
if grep -qx 'Warning: spec.exportNetworkFlows.netFlow.collectors\[0\]: 127.0.0.1:2056 is a loopback address' \
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
C_NF=172.30.158.150:2057 C_IX=172.30.158.150:4739
apply_network '{netFlow: {collectors: ["172.30.158.150:2057"]}, ipfix: {collectors: ["172.30.158.150:4739"]}}' &&
    expect_nodes "change after the restart" $RESTART_DEADLINE_MS "$C_NF" "" "$C_IX"
expect_status "change after the restart"

D_NF=172.30.158.150:2058 D_SF=172.30.158.150:6343
apply_network '{netFlow: {collectors: ["172.30.158.150:2058"]}, sFlow: {collectors: ["172.30.158.150:6343"]}}'
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
E_SPEC='{netFlow: {collectors: ["172.30.158.150:2059"]}}'
apply_network "$E_SPEC" &&
    expect_nodes "change after the ConfigMap came back" $DEADLINE_MS "$E_NF" "" ""

# ---------------------------------------------------------------- 5. webhook outage

log "5. a webhook outage blocks flow-export edits only (matchConditions)"

# expect_admitted DESCRIPTION COMMAND...: COMMAND (a write of the Network)
# succeeds and bumps the generation; the webhook, up or not, answers nothing.
expect_admitted() {
    local what=$1 gen before after
    shift
    gen=$(generation)
    before=$(cluster_webhook_reviews 2>/dev/null)
    if ! "$@" >/dev/null 2>"$WORK/admitted.err"; then
        fail "$what: refused: $(cat "$WORK/admitted.err")"
        return
    fi
    after=$(cluster_webhook_reviews 2>/dev/null)
    if [ "$(generation)" -le "$gen" ]; then
        fail "$what: admitted, but the generation is still $gen"
    elif [ "$before" != "$after" ]; then
        fail "$what: admitted, but the webhook was called ($before -> $after reviews)"
    else
        pass "$what: admitted without the webhook (generation $gen -> $(generation))"
    fi
}

# expect_outage DESCRIPTION EXPORT_YAML NETWORK_TYPE: kubectl apply is refused
# because the webhook cannot be called (failurePolicy Fail); nothing changes.
expect_outage() {
    local gen
    gen=$(generation)
    if cluster_network "$2" "$3" | cluster_kubectl apply -f - >/dev/null 2>"$WORK/outage.err"; then
        fail "$1: admitted while the webhook is down"
    elif ! grep -q 'failed calling webhook "exportnetworkflows.exportflows.io"' "$WORK/outage.err"; then
        fail "$1: refused, but not for want of the webhook: $(cat "$WORK/outage.err")"
    elif [ "$(generation)" != "$gen" ]; then
        fail "$1: refused, but the generation moved from $gen to $(generation)"
    else
        pass "$1: refused while the webhook is down: $(grep -o 'failed calling webhook.*' "$WORK/outage.err" | cut -c1-120)"
    fi
}

apply_log_level() { cluster_network "$E_SPEC" "" "$1" | cluster_kubectl apply -f -; }
operator_apply() {
    cluster_kubectl apply --server-side --force-conflicts \
        --field-manager cluster-network-operator -f - <<EOF
apiVersion: operator.openshift.io/v1
kind: Network
metadata:
  name: cluster
spec:
  logLevel: $1
EOF
}

expect_admitted "spec.logLevel edit, webhook up" apply_log_level Debug
status=0
cluster_stop_process webhook || status=$?
if [ $status = 0 ]; then
    pass "webhook stopped (exit 0 on SIGTERM)"
else
    fail "webhook exited with status $status on SIGTERM"
fi
expect_admitted "spec.logLevel edit, webhook down" apply_log_level Trace
expect_admitted "the network operator's forced server-side apply, webhook down" operator_apply Normal
expect_outage "flow-export edit" '{netFlow: {collectors: ["172.30.158.150:2060"]}}' ""
expect_outage "network type change while export is set" "$E_SPEC" OpenShiftSDN
if all_nodes_match "$E_NF" "" ""; then
    pass "nodes unchanged during the outage"
else
    fail "nodes changed during the outage: $MISMATCH"
fi

cluster_webhook_start || die "the webhook did not come back"
pass "webhook back at $CLUSTER_WEBHOOK_URL"
expect_refused webhook "invalid flow-export edit after the outage" \
    '{netFlow: {collectors: ["172.30.158.150:2059", "01.2.3.4:2056"]}}' "" \
    "${INV}${NF}[1]: Invalid value: \"01.2.3.4:2056\": IPv4 octets must not have leading zeros"
F_NF=172.30.158.150:2060
apply_network '{netFlow: {collectors: ["172.30.158.150:2060"]}}' &&
    expect_nodes "flow-export edit after the outage" $DEADLINE_MS "$F_NF" "" ""

# ---------------------------------------------------------------- 6. a looser API

log "6. a looser API: the stand-in CRD leaves exportNetworkFlows to the webhook"
# Every case in this section is refused by the released schema before the
# webhook is called (section 1).  A cluster whose Network API does not type
# exportNetworkFlows (here the loose stand-in, tests/k8s/crd-network.yaml,
# replacing the released CRD) lets them through to the webhook, which must
# then answer alone.
cluster_crd_apply loose || die "cannot replace the CRD with the loose stand-in"
loose_in_force() {
    cluster_network '{netFlow: ["01.0.0.1:2056"]}' | cluster_kubectl apply --dry-run=server -f - 2>&1 |
        grep -q 'spec.exportNetworkFlows.netFlow\[0\]: Invalid value: "01.0.0.1:2056": IPv4'
}
if cluster_wait_ms "the loose CRD to be in force" 15000 loose_in_force; then
    pass "loose CRD in force after ${CLUSTER_WAITED_MS} ms: a plain list reaches the webhook"
else
    die "the loose CRD is not in force: a plain list does not reach the webhook"
fi

# Released schema: "must be of type object" (the proposal's plain lists).
expect_refused webhook "looser API: duplicate in a plain list" \
    '{netFlow: ["172.30.158.150:2056", "10.0.0.1:2056", "172.30.158.150:2056"]}' "" \
    "${INV}spec.exportNetworkFlows.netFlow[2]: Duplicate value: \"172.30.158.150:2056\" (same as netFlow[0])"
# Released schema: the pattern (port over 65535).
expect_refused webhook "looser API: port out of range" '{ipfix: {collectors: ["10.0.0.1:70000"]}}' "" \
    "${INV}${IX}[0]: Invalid value: \"10.0.0.1:70000\": port must be between 1 and 65535"
# Released schema: the pattern (a host name).
expect_refused webhook "looser API: host name" '{sFlow: {collectors: ["collector.example.com:6343"]}}' "" \
    "${INV}spec.exportNetworkFlows.sFlow.collectors[0]: Invalid value: \"collector.example.com:6343\": host names are not allowed: use an IP address"
# Released schema: the pattern (a three-digit octet starting with 0) and "must be of type object".
expect_refused webhook "looser API: three-digit octet with a leading zero" '{ipfix: ["010.1.2.3:4739"]}' "" \
    "${INV}spec.exportNetworkFlows.ipfix[0]: Invalid value: \"010.1.2.3:4739\": IPv4 octets must not have leading zeros"
# Released schema: the pattern (IPv6).
expect_refused webhook "looser API: IPv6 under netFlow" '{netFlow: {collectors: ["[fd00::1]:2056"]}}' "" \
    "${INV}${NF}[0]: Invalid value: \"[fd00::1]:2056\": NetFlow v5 carries IPv4 only: use an IPv4 address or :PORT"
# Released schema: maxItems and "must be of type object".
expect_refused webhook "looser API: too many collectors" "{ipfix: [${eleven%, }]}" "" \
    "${INV}spec.exportNetworkFlows.ipfix: Too many: 11: must have at most 10 items"
# Released schema: the pattern and "must be of type object".
expect_refused webhook "looser API: several errors at once" \
    '{netFlow: ["[fd00::1]:2056", "10.0.0.1:020"], ipfix: ["collector.example.com:4739"]}' OpenShiftSDN \
    "${INV}
* spec.exportNetworkFlows.netFlow[0]: Invalid value: \"[fd00::1]:2056\": NetFlow v5 carries IPv4 only: use an IPv4 address or :PORT
* spec.exportNetworkFlows.netFlow[1]: Invalid value: \"10.0.0.1:020\": port must not have leading zeros
* spec.exportNetworkFlows.ipfix[0]: Invalid value: \"collector.example.com:4739\": host names are not allowed: use an IP address
* ${TYPE_ERR}"

# Released schema: the pattern (":PORT" and IPv6) and "must be of type object";
# valid for the webhook, and ":PORT" becomes each node's own IP.
G_NF=172.30.158.150:2056 G_SF='172.30.158.150:6343,[fd00::5]:6343' G_IX=172.30.158.150:2055,:4739
apply_network '{netFlow: {collectors: ["172.30.158.150:2056"]}, sFlow: {collectors: ["172.30.158.150:6343", "[fd00::5]:6343"]}, ipfix: ["172.30.158.150:2055", ":4739"]}' &&
    expect_nodes "looser API: :PORT and IPv6 collectors" $DEADLINE_MS "$G_NF" "$G_SF" "$G_IX"
expect_status "looser API: :PORT and IPv6 collectors"

# ---------------------------------------------------------------- 7. shutdown

log "7. clean shutdown"
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
