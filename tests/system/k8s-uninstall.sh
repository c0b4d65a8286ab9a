#!/usr/bin/env bash
# k8s-uninstall.sh — uninstalling exportflows leaves OVS clean, on a real
# Kubernetes control plane (tests/system/lib-cluster.sh: etcd, kube-apiserver,
# the manifests' RBAC, the webhook registered by URL with its publisher on).
#
# Three nodes, each with its own ovsdb-server and br-int and an applier run as
# a process with a token bound to a Pod of its node (as the kubelet's projected
# token is), started as the DaemonSet starts it (--daemonset
# exportflows-applier).  The DaemonSet and the webhook's Deployment objects are
# created from manifests/base; no kube-controller-manager or kubelet runs here,
# so they make no pods: the test plays their part where it says "emulates".
#   1. every node applies a Network with NetFlow, sFlow and IPFIX; on n2 the
#      ovnkube-node stand-in (lib-ovnkube.sh) then replays its start-up
#      writes, so n2's rows are ovnkube-node's identical, unmarked rows;
#   2. a rolling update: n1's applier gets SIGTERM while the DaemonSet is
#      there; it exits 0 and n1's rows stay; a new applier takes over;
#   3. the uninstall: the command sequence of docs/DEPLOY.md "Uninstall", read
#      from the file and run line by line.  After the Deployment's deletion the
#      test stops the webhook (emulating its pods going) and checks that a
#      flow-export edit of the Network is admitted (the registration went
#      first).  After the DaemonSet's deletion it emulates the garbage
#      collector and the kubelets: SIGTERM to every applier at once, then,
#      once each has exited, the Pod deleted.  Asserted: every applier exits
#      0 saying the DaemonSet is gone, each node's Bridge changed in exactly
#      one transaction (an ovsdb-client monitor), and every node's netflow,
#      sflow and ipfix columns are empty with no NetFlow/sFlow/IPFIX row left,
#      n2's ovnkube-node rows included; the final `kubectl delete -k` removes
#      the cluster-scoped objects and marks both Namespaces (exportflows,
#      exportflows-nodes) for deletion.
# Runs as the ServiceAccounts of manifests/base.  EXPORTFLOWS_KEEP_TMP=1 keeps
# the work dir (kept on failure).  Needs: openvswitch-switch, python3, curl.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-check.sh
. "$here/lib-check.sh"
# shellcheck source=tests/system/lib-cluster.sh
. "$here/lib-cluster.sh"
# shellcheck source=tests/system/lib-ovnkube.sh
. "$here/lib-ovnkube.sh"

NODES=(n1 n2 n3)
declare -A NODE_IP=([n1]=192.0.2.11 [n2]=192.0.2.12 [n3]=192.0.2.13)
declare -A NODE_DB=() NODE_POD=() NODE_UID=()
NF=172.30.158.150:2056 SF=172.30.158.150:6343 IX=172.30.158.150:2055
EMPTY="netflow=- sflow=- ipfix=-"

check_tools ovsdb-tool ovsdb-server ovsdb-client ovs-vsctl curl
check_python

WORK=$(mktemp -d /tmp/exportflows-k8s-uninstall.XXXXXX) || die "mktemp failed"
MONITOR_PIDS=()
cleanup() {
    local rc=$? pid
    for pid in "${MONITOR_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    cluster_down
    check_finish "$WORK" $rc cluster_show_logs 20
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

# want_line: what cluster_bridges shows for br-int with NF, SF, IX and the
# publisher's default tuning (ovnkube-node's columns).
want_line() { echo "netflow=$NF/60 sflow=$SF////ovn-k8s-mp0 ipfix=$IX//60//"; }

# all_nodes_are LINE: every node's br-int is "br-int LINE"; MISMATCH says
# which is not.
MISMATCH=
all_nodes_are() {
    local node
    for node in "${NODES[@]}"; do
        cluster_bridge_is "${NODE_DB[$node]}" br-int "$1" ||
            { MISMATCH="$node has '$CLUSTER_BRIDGE_SEEN'"; return 1; }
    done
}

# owner_marks DB: how many of the rows br-int's three columns point to carry
# the applier's owner mark, and how many rows the three tables hold:
# "MARKED ROWS".
owner_marks() {
    ovsdb-client --timeout=10 transact "$1" '["Open_vSwitch",
        {"op": "select", "table": "Bridge", "where": [["name", "==", "br-int"]],
         "columns": ["netflow", "sflow", "ipfix"]},
        {"op": "select", "table": "NetFlow", "where": [], "columns": ["_uuid", "external_ids"]},
        {"op": "select", "table": "sFlow", "where": [], "columns": ["_uuid", "external_ids"]},
        {"op": "select", "table": "IPFIX", "where": [], "columns": ["_uuid", "external_ids"]}]' |
        "$PYTHON" -c '
import json, sys
res = json.load(sys.stdin)
br = res[0]["rows"][0]
rows = {r["_uuid"][1]: r for t in res[1:4] for r in t["rows"]}
marked = 0
for col in ("netflow", "sflow", "ipfix"):
    if br[col][0] == "uuid":
        ids = dict(rows[br[col][1]]["external_ids"][1])
        marked += ids.get("exportflows-owner") == "exportflows"
print(marked, len(rows))
'
}

n2_is_ovnkube_twins() {
    cluster_bridge_is "${NODE_DB[n2]}" br-int "$(want_line)" &&
        [ "$(owner_marks "${NODE_DB[n2]}")" = "0 3" ]
}

# monitor_bridge NODE: records every change of NODE's Bridge columns in
# $WORK/monitor-NODE.json, one JSON line per transaction (after the "initial"
# line), until the test ends.
monitor_bridge() {
    ovsdb-client monitor "${NODE_DB[$1]}" Open_vSwitch Bridge netflow,sflow,ipfix \
        --format=json >"$WORK/monitor-$1.json" 2>/dev/null &
    MONITOR_PIDS+=($!)
}
monitor_ready() { grep -q '"initial"' "$WORK/monitor-$1.json"; }
# monitor_transactions NODE: how many transactions changed NODE's Bridge.
monitor_transactions() { grep -c '"old"' "$WORK/monitor-$1.json"; }

# pid_exited PID: true once PID is gone (or a zombie).
pid_exited() { ! cluster_pid_alive "$1"; }

applier_start() {
    cluster_applier_start "$1" "${NODE_IP[$1]}" "${NODE_DB[$1]}" br-int \
        --daemonset exportflows-applier --pod-name "${NODE_POD[$1]}" \
        --pod-uid "${NODE_UID[$1]}" --log-level debug
}

applier_log_has() { grep -q -- "$2" "$CLUSTER_DIR/logs/applier-$1.log"; }

# ---------------------------------------------------------------- set-up

log "work dir $WORK"
cluster_up "$WORK" || die "could not bring up the control plane and the webhook"
# The objects the uninstall deletes that cluster_up does not make, as the
# manifests have them.  Without kube-controller-manager they make no pods.
cluster_kubectl apply -f "$CLUSTER_ROOT/manifests/base/applier-daemonset.yaml" \
    -f "$CLUSTER_ROOT/manifests/base/webhook-deployment.yaml" >/dev/null ||
    die "cannot create the DaemonSet and the Deployment"
pass "control plane, webhook at $CLUSTER_WEBHOOK_URL, DaemonSet and Deployment objects"

for node in "${NODES[@]}"; do
    NODE_POD[$node]=exportflows-applier-$node
    NODE_UID[$node]=$(cluster_node_pod "$node" "${NODE_POD[$node]}") ||
        die "cannot create the Pod of $node"
    CLUSTER_APPLIER_KUBECONFIG[$node]=$(cluster_pod_kubeconfig "${NODE_POD[$node]}" \
        "${NODE_UID[$node]}") || die "cannot make a token bound to the Pod of $node"
    cluster_ovsdb_start "$node" br-int || die "ovsdb-server for $node did not start"
    NODE_DB[$node]=$CLUSTER_OVSDB
    applier_start "$node" || die "applier $node did not start"
done
for node in "${NODES[@]}"; do
    cluster_applier_health "$node" || die "applier $node did not come up"
    cluster_wait_ms "applier $node's look at its DaemonSet" 10000 applier_log_has "$node" \
        'DaemonSet state when=start .* state=present' ||
        fail "applier $node did not find its DaemonSet at start"
done
pass "appliers ${NODES[*]} up, each found DaemonSet exportflows-applier at start"

# ---------------------------------------------------------------- 1. applied

log "1. flow export on every node; ovnkube-node's identical rows on n2"
cluster_network "{netFlow: {collectors: [\"$NF\"]}, sFlow: {collectors: [\"$SF\"]}, ipfix: {collectors: [\"$IX\"]}}" |
    cluster_kubectl apply -f - >/dev/null || die "kubectl apply of the Network failed"
if cluster_wait_ms "every node to apply" 10000 all_nodes_are "$(want_line)"; then
    pass "every node applied NetFlow, sFlow and IPFIX in ${CLUSTER_WAITED_MS} ms"
else
    die "not every node applied the Network: $MISMATCH"
fi
ovnkube_start "${NODE_DB[n2]}" "${NODE_IP[n2]}" "$NF" "$SF" "$IX" ||
    die "the ovnkube-node stand-in failed on n2"
# The applier may re-apply in ovnkube-node's window between its clear and its
# creates; ovnkube-node's creates come last and equal the config, so they stay.
if cluster_wait_ms "n2's rows to be ovnkube-node's" 10000 n2_is_ovnkube_twins; then
    pass "n2's three rows are ovnkube-node's: equal to the config, no owner mark"
else
    die "n2's rows are not ovnkube-node's unmarked twins: $CLUSTER_BRIDGE_SEEN, marked/rows $(owner_marks "${NODE_DB[n2]}")"
fi
for node in n1 n3; do
    [ "$(owner_marks "${NODE_DB[$node]}")" = "3 3" ] ||
        fail "$node's rows are not the applier's: marked/rows $(owner_marks "${NODE_DB[$node]}")"
done

# ---------------------------------------------------------------- 2. rolling update

log "2. a rolling update: SIGTERM with the DaemonSet still there"
status=0
cluster_stop_process applier-n1 || status=$?
if [ $status != 0 ]; then
    fail "applier n1 exited with status $status on SIGTERM"
elif ! applier_log_has n1 'leaving the flow export in place bridge=br-int reason="the DaemonSet is still there'; then
    fail "applier n1 did not say it leaves the flow export in place: $(tail -n 3 "$CLUSTER_DIR/logs/applier-n1.log")"
elif ! cluster_bridge_is "${NODE_DB[n1]}" br-int "$(want_line)" ||
    [ "$(owner_marks "${NODE_DB[n1]}")" != "3 3" ]; then
    fail "n1's rows changed when its applier stopped for a rolling update: $CLUSTER_BRIDGE_SEEN"
else
    pass "rolling update: applier n1 exited 0, n1's rows stay (DaemonSet still there)"
fi
# The DaemonSet's next pod on n1 (same Pod here: there is no controller).
applier_start n1 || die "applier n1 did not start again"
cluster_applier_health n1 || die "applier n1 did not come up again"
if cluster_wait_ms "the new applier n1 in sync" 10000 applier_log_has n1 'flow export already in place'; then
    pass "the new applier on n1 finds its rows in place"
else
    fail "the new applier on n1 did not find its rows in place"
fi

# ---------------------------------------------------------------- 3. uninstall

log "3. the uninstall sequence of docs/DEPLOY.md"
SEQUENCE=$(sed -n '/^<!-- uninstall-sequence/,/^<!-- end uninstall-sequence -->/p' \
    "$CLUSTER_ROOT/docs/DEPLOY.md" | sed -n 's/^    //p')
[ "$(grep -c '^kubectl ' <<<"$SEQUENCE")" -ge 4 ] ||
    die "no uninstall sequence in docs/DEPLOY.md: '$SEQUENCE'"
[ "$(grep -m1 '^kubectl ' <<<"$SEQUENCE")" = \
    "kubectl delete validatingwebhookconfiguration exportflows --ignore-not-found" ] ||
    fail "the uninstall sequence does not start by removing the webhook registration"

for node in "${NODES[@]}"; do
    monitor_bridge "$node"
    cluster_wait_ms "the monitor of $node" 10000 monitor_ready "$node" ||
        die "ovsdb-client monitor on $node did not start"
done

# emulate_deployment_gone: the Deployment's pods go: the webhook stops.  With
# the registration gone first, a flow-export edit is admitted without it.
emulate_deployment_gone() {
    local status=0
    cluster_stop_process webhook || status=$?
    [ $status = 0 ] || fail "the webhook exited with status $status"
    if cluster_network "{netFlow: {collectors: [\"$NF\", \"172.30.158.151:2056\"]}}" |
        cluster_kubectl apply -f - >/dev/null 2>"$WORK/edit.err"; then
        pass "webhook gone: a flow-export edit is admitted (the registration went first)"
    else
        fail "webhook gone: a flow-export edit is refused: $(cat "$WORK/edit.err")"
    fi
}

# emulate_daemonset_gone: the garbage collector deletes the DaemonSet's pods
# and each node's kubelet sends its applier SIGTERM (all at once, one each),
# waits for it to exit, then removes the Pod.
emulate_daemonset_gone() {
    local node pid status start ms
    declare -A pids=()
    start=$(cluster_now_ms)
    for node in "${NODES[@]}"; do
        pids[$node]=${CLUSTER_PID[applier-$node]}
        kill -TERM "${pids[$node]}"
    done
    for node in "${NODES[@]}"; do
        pid=${pids[$node]}
        if ! cluster_wait_ms "applier $node to exit" 15000 pid_exited "$pid"; then
            fail "applier $node still runs 15 s after SIGTERM"
            kill -KILL "$pid" 2>/dev/null
        fi
        ms=$(( $(cluster_now_ms) - start ))
        status=0
        wait "$pid" 2>/dev/null || status=$?
        unset "CLUSTER_PID[applier-$node]"
        if [ $status != 0 ]; then
            fail "applier $node exited with status $status after clearing"
        elif [ "$ms" -ge 6000 ]; then
            fail "applier $node took $ms ms to exit, over its --clear-timeout of 6 s"
        else
            pass "applier $node exited 0 within $ms ms of SIGTERM"
        fi
        cluster_kubectl -n exportflows-nodes delete pod "${NODE_POD[$node]}" --grace-period=0 \
            --force >/dev/null 2>&1 || fail "cannot delete the Pod of $node"
    done
}

# kubectl ARGS...: the sequence's kubectl, as the admin.  No namespace
# controller runs here, so the Namespace would stay Terminating and
# `kubectl delete -k` wait forever: that one line does not wait.
kubectl() {
    case " $* " in
    *" delete -k "*) cluster_kubectl "$@" --wait=false ;;
    *) cluster_kubectl "$@" ;;
    esac
}

hooks=""
while IFS= read -r line; do
    case $line in
    OVERLAY=*) OVERLAY=$CLUSTER_ROOT/manifests/base; continue ;;  # what was applied here
    kubectl\ *) ;;
    *) continue ;;
    esac
    log "\$ $line"
    if ! eval "$line" >"$WORK/step.out" 2>&1; then
        fail "'$line' failed: $(cat "$WORK/step.out")"
    fi
    case $line in
    *"delete deployment exportflows-webhook"*) emulate_deployment_gone; hooks+=D ;;
    *"delete daemonset exportflows-applier"*) emulate_daemonset_gone; hooks+=A ;;
    esac
done <<<"$SEQUENCE"
[ "$hooks" = DA ] || fail "the sequence does not delete the Deployment, then the DaemonSet (hooks '$hooks')"

for node in "${NODES[@]}"; do
    if ! applier_log_has "$node" 'clearing the flow export bridge=br-int reason="the DaemonSet is gone'; then
        fail "applier $node did not clear because its DaemonSet is gone: $(grep -E 'DaemonSet|clear|leaving' "$CLUSTER_DIR/logs/applier-$node.log" | tail -n 3)"
    elif ! applier_log_has "$node" 'cleared flow export bridge=br-int cleared=netFlow,sFlow,ipfix foreign_kept=""'; then
        fail "applier $node did not report clearing all three protocols: $(grep 'cleared' "$CLUSTER_DIR/logs/applier-$node.log")"
    else
        pass "applier $node: the DaemonSet is gone, cleared netFlow, sFlow and IPFIX"
    fi
    n=$(monitor_transactions "$node")
    if [ "$n" = 1 ]; then
        pass "$node: br-int changed in exactly one transaction"
    else
        fail "$node: br-int changed in $n transactions, want 1: $(cat "$WORK/monitor-$node.json")"
    fi
done
if all_nodes_are "$EMPTY"; then
    pass "every node's netflow, sflow and ipfix are empty (n2's ovnkube-node rows included)"
else
    fail "a node still exports after the uninstall: $MISMATCH"
fi
for node in "${NODES[@]}"; do
    got=$(owner_marks "${NODE_DB[$node]}")
    [ "$got" = "0 0" ] || fail "$node still holds NetFlow/sFlow/IPFIX rows: marked/rows $got"
done

# What the last line removed: every object of manifests/base, explicitly; the
# Namespaces stay Terminating here (no namespace controller).
left=$(cluster_kubectl get -k "$CLUSTER_ROOT/manifests/base" --ignore-not-found -o name 2>&1 | sort |
    tr '\n' ' ')
ns_deleting=$(for ns in exportflows exportflows-nodes; do
    [ -n "$(cluster_kubectl get namespace "$ns" -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null)" ] &&
        printf '%s ' "$ns"
done)
if [ "$left" = "namespace/exportflows namespace/exportflows-nodes " ] &&
    [ "$ns_deleting" = "exportflows exportflows-nodes " ]; then
    pass "delete -k: no object of manifests/base left but the two Namespaces, which are being deleted"
else
    fail "delete -k left '$left', namespaces being deleted: '$ns_deleting'"
fi

check_verdict k8s-uninstall
