#!/usr/bin/env bash
# k8s-summary.sh — "is every node exporting?" at one glance, on a real control
# plane (tests/system/lib-cluster.sh: etcd, kube-apiserver, the manifests' RBAC,
# exportflows-webhook with its publisher, as the ServiceAccounts).
#
# Three appliers (Kubernetes source), each with its own ovsdb-server; n3's has
# no br-int, so its applier fails ("bridge 'br-int' does not exist").  Then:
#   1. the summary on the ConfigMap exportflows-status (created by the
#      publisher, as the webhook's ServiceAccount with the manifests' RBAC),
#      read with the kubectl line of docs/DEPLOY.md "Is every node exporting?",
#      says 2/3 applied, 1 failed, and names n3 with its error; an Event about
#      exportflows-status (NodesFailing) says the same; the webhook's gauges
#      count 2 in sync and 1 failed;
#   2. br-int is created on n3: its applier recovers, the summary says 3/3 with
#      no failing node, an Event NodesApplied says so, the gauges follow;
#   3. a new config: the summary names the hash and comes back to 3/3;
#   4. the summary writes stay bounded: at most one per 5 s and one per change;
#      and none of them touched the published exportflows-config (which every
#      applier watches): its resourceVersion is the one it was published with.
# EXPORTFLOWS_KEEP_TMP=1 keeps the work dir (kept on failure).
# Needs: openvswitch-switch (ovsdb-server, ovsdb-client, ovs-vsctl), jq, curl,
# openssl, python3.  About 30 s once the control plane is built.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-check.sh
. "$here/lib-check.sh"
# shellcheck source=tests/system/lib-cluster.sh
. "$here/lib-cluster.sh"

NODES=(n1 n2 n3)
declare -A NODE_IP=([n1]=192.0.2.11 [n2]=192.0.2.12 [n3]=192.0.2.13)
declare -A NODE_DB=()
# A node's change shows in the summary within SUMMARY_BOUND_MS by design (Lease
# rate limit 2 s + summary settle 1 s + at most 5 s between writes); the chain
# runs through four processes (applier, kube-apiserver, webhook, kubectl), which
# on a loaded 2-core machine may each wait for a core: twice the bound, plus 4 s
# for kubectl's own start-up there.
SUMMARY_BOUND_MS=8000
SUMMARY_MS=$(( 2 * SUMMARY_BOUND_MS + 4000 ))

check_tools ovsdb-tool ovsdb-server ovsdb-client ovs-vsctl jq curl openssl

WORK=$(mktemp -d /tmp/exportflows-k8s-summary.XXXXXX) || die "mktemp failed"
trap cluster_cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers


configmap_hash() {
    cluster_kubectl -n exportflows get configmap exportflows-config \
        -o jsonpath='{.data.config\.json}' 2>/dev/null | jq -r '.hash // empty' 2>/dev/null
}

configmap_version() {
    cluster_kubectl -n exportflows get configmap exportflows-config \
        -o jsonpath='{.metadata.resourceVersion}' 2>/dev/null
}

# The summary command exactly as docs/DEPLOY.md gives it (continuation lines
# joined), with the control plane's kubectl.
SUMMARY_CMD=$(sed -n '/^    kubectl -n exportflows get configmap exportflows-status \\$/,/custom-columns/p' \
    "$CLUSTER_ROOT/docs/DEPLOY.md" | sed 's/^ *//; s/ *\\$//' | tr '\n' ' ')
case "$SUMMARY_CMD" in
    "kubectl -n exportflows get configmap exportflows-status"*"custom-columns="*) ;;
    *) die "the summary command is not in docs/DEPLOY.md: '$SUMMARY_CMD'" ;;
esac

# summary_is APPLIED FAILED PENDING FAILING_PREFIX: true when the documented
# command's row shows these (FAILING compared as a prefix, "<none>" when
# empty).  The row last seen is in SUMMARY_SEEN.
SUMMARY_SEEN=
summary_is() {
    local out row
    out=$(eval "${SUMMARY_CMD/kubectl/cluster_kubectl}" 2>&1) || { SUMMARY_SEEN=$out; return 1; }
    case "$(head -n 1 <<<"$out")" in
        APPLIED*FAILED*PENDING*OLDEST-APPLY*FAILING) ;;
        *) SUMMARY_SEEN="header: $out"; return 1 ;;
    esac
    row=$(sed -n 2p <<<"$out" | tr -s ' ')
    SUMMARY_SEEN=$row
    read -r applied failed pending _ failing <<<"$row"
    [ -n "$failing" ] || failing="<none>"
    [ "$applied" = "$1" ] && [ "$failed" = "$2" ] && [ "$pending" = "$3" ] &&
        [ "${failing#"$4"}" != "$failing" ]
}

# expect_summary DESCRIPTION APPLIED FAILED PENDING FAILING_PREFIX
expect_summary() {
    local what=$1 start
    shift
    start=$(cluster_now_ms)
    if cluster_wait_ms "$what" $SUMMARY_MS summary_is "$@"; then
        pass "$what: summary '$SUMMARY_SEEN' after $(( $(cluster_now_ms) - start )) ms"
    else
        fail "$what: summary is '$SUMMARY_SEEN', wants '$1 $2 $3 $4...'"
    fi
}

# event_says REASON TEXT: an Event about exportflows-status with REASON whose
# message contains TEXT.
event_says() {
    cluster_kubectl -n exportflows get events \
        --field-selector "involvedObject.kind=ConfigMap,involvedObject.name=exportflows-status,reason=$1" \
        -o jsonpath='{range .items[*]}{.message}{"\n"}{end}' 2>/dev/null | grep -qF -- "$2"
}

expect_event() {
    if cluster_wait_ms "event $1" $SUMMARY_MS event_says "$1" "$2"; then
        pass "Event $1 about configmap exportflows-status: ...$2..."
    else
        fail "no Event $1 about configmap exportflows-status saying '$2'"
        cluster_kubectl -n exportflows get events >&2
    fi
}

# gauges_are IN_SYNC OUT_OF_SYNC FAILED: the webhook's exportflows_publisher_nodes.
GAUGES_SEEN=
gauges_are() {
    local i o f
    i=$(cluster_metric webhook 'exportflows_publisher_nodes{state="in_sync"}')
    o=$(cluster_metric webhook 'exportflows_publisher_nodes{state="out_of_sync"}')
    f=$(cluster_metric webhook 'exportflows_publisher_nodes{state="failed"}')
    GAUGES_SEEN="in_sync=$i out_of_sync=$o failed=$f"
    [ "$GAUGES_SEEN" = "in_sync=$1 out_of_sync=$2 failed=$3" ]
}

expect_gauges() {
    if cluster_wait_ms "gauges" $SUMMARY_MS gauges_are "$@"; then
        pass "webhook gauges: $GAUGES_SEEN"
    else
        fail "webhook gauges: $GAUGES_SEEN, wants in_sync=$1 out_of_sync=$2 failed=$3"
    fi
}

# ---------------------------------------------------------------- set-up

log "work dir $WORK, identity $CLUSTER_IDENTITY"
cluster_up "$WORK" || die "could not bring up the control plane and the webhook"
pass "kube-apiserver at $APISERVER_URL, exportflows-webhook publishing"

for node in "${NODES[@]}"; do
    if [ "$node" = n3 ]; then
        cluster_ovsdb_start "$node" || die "ovsdb-server for $node did not start"
    else
        cluster_ovsdb_start "$node" br-int || die "ovsdb-server for $node did not start"
    fi
    NODE_DB[$node]=$CLUSTER_OVSDB
    cluster_applier_start "$node" "${NODE_IP[$node]}" "${NODE_DB[$node]}" br-int ||
        die "applier $node did not start"
done
for node in "${NODES[@]}"; do
    cluster_applier_health "$node" || die "applier $node did not come up"
done
pass "appliers ${NODES[*]} up; n3's ovsdb-server has no br-int"

cluster_apply_network '{netFlow: {collectors: ["172.30.158.150:2056"]}}' || die "kubectl apply of the Network failed"
cluster_wait_ms "the ConfigMap" 10000 configmap_hash >/dev/null || die "nothing was published"
HASH=$(configmap_hash)
VERSION=$(configmap_version)

# ---------------------------------------------------------------- 1. one node failing

log "1. n3 has no br-int"
expect_summary "one node failing" 2/3 1 0 "n3: bridge 'br-int' does not exist"
got=$(cluster_kubectl -n exportflows get configmap exportflows-status \
    -o jsonpath='{.metadata.annotations.exportflows\.io/nodes-hash}')
if [ "$got" = "$HASH" ]; then
    pass "the summary counts against the published hash ${HASH:0:19}..."
else
    fail "the summary's nodes-hash is '$got', the ConfigMap publishes '$HASH'"
fi
expect_event NodesFailing "2 of 3 nodes applied $HASH, 1 failing: n3: bridge 'br-int' does not exist"
if [ "$(cluster_kubectl -n exportflows get events --field-selector reason=NodesFailing \
        -o jsonpath='{.items[0].type}')" = Warning ]; then
    pass "NodesFailing is a Warning"
else
    fail "NodesFailing is not a Warning"
fi
expect_gauges 2 0 1
secs=$(cluster_metric webhook exportflows_publisher_nodes_out_of_sync_seconds)
if [ -n "$secs" ] && [ "${secs%.*}" -ge 0 ]; then
    pass "exportflows_publisher_nodes_out_of_sync_seconds is $secs"
else
    fail "exportflows_publisher_nodes_out_of_sync_seconds missing ('$secs')"
fi

# ---------------------------------------------------------------- 2. recovered

log "2. br-int appears on n3"
OVS_DB=${NODE_DB[n3]} ovs_vsctl add-br br-int || fail "cannot add br-int on n3"
expect_summary "n3 recovered" 3/3 0 0 "<none>"
expect_event NodesApplied "3 of 3 nodes applied $HASH"
expect_gauges 3 0 0
if [ "$(configmap_version)" = "$VERSION" ]; then
    pass "exportflows-config untouched by the summary writes (resourceVersion $VERSION)"
else
    fail "exportflows-config changed without a new config: resourceVersion $VERSION -> $(configmap_version)"
fi
secs=$(cluster_metric webhook exportflows_publisher_nodes_out_of_sync_seconds)
if [ "$secs" = 0 ]; then
    pass "exportflows_publisher_nodes_out_of_sync_seconds back to 0"
else
    fail "exportflows_publisher_nodes_out_of_sync_seconds is '$secs' with every node in sync"
fi

# ---------------------------------------------------------------- 3. a new config

log "3. a new config"
cluster_apply_network '{netFlow: {collectors: ["172.30.158.151:2056"]}}' || fail "kubectl apply of the Network failed"
new_hash() { [ "$(configmap_hash)" != "$HASH" ]; }
cluster_wait_ms "the new config" 10000 new_hash || fail "the new config was not published"
HASH2=$(configmap_hash)
summary_hash_is() {
    [ "$(cluster_kubectl -n exportflows get configmap exportflows-status \
        -o jsonpath='{.metadata.annotations.exportflows\.io/nodes-hash}')" = "$1" ]
}
if cluster_wait_ms "the summary of the new config" $SUMMARY_MS summary_hash_is "$HASH2"; then
    pass "the summary counts against the new hash ${HASH2:0:19}... after $CLUSTER_WAITED_MS ms"
else
    fail "the summary never referred to the new hash $HASH2"
fi
expect_summary "after the new config" 3/3 0 0 "<none>"
summary_hash_is "$HASH2" || fail "the summary went back to another hash than $HASH2"

# ---------------------------------------------------------------- 4. bounded writes

log "4. summary writes"
writes=$(cluster_metric webhook exportflows_publisher_nodes_annotation_writes_total)
elapsed_s=$(( SECONDS - t0 ))
log "summary writes during the test: $writes in ${elapsed_s} s"
# One per 5 s at most, and nothing changes more often than that here.
if [ -n "$writes" ] && [ "${writes%.*}" -ge 3 ] && [ "${writes%.*}" -le $(( elapsed_s / 5 + 1 )) ]; then
    pass "summary writes bounded: $writes in ${elapsed_s} s"
else
    fail "summary writes: '$writes' in ${elapsed_s} s"
fi

check_verdict k8s-summary
