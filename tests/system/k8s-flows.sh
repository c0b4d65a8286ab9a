#!/usr/bin/env bash
# k8s-flows.sh — from `kubectl apply` to flow records at real collectors.
#
# The control plane, webhook and publisher come from lib-cluster.sh; a node is
# built as in ovs-export.sh: ovs-vswitchd (userspace datapath) in a namespace
# of its own with br-int, veth ports into namespaces ns1 (10.99.0.1) and ns2
# (10.99.0.2) and the internal port ovn-k8s-mp0 (10.99.0.254, the sFlow agent),
# and the collectors on 127.0.0.1 of that namespace: nfcapd for NetFlow v5 and
# IPFIX, tcpdump + tshark for sFlow.  exportflows-applier runs in Kubernetes
# mode in the host's namespace (it needs the API server on the host's loopback
# and reaches OVS through the database's unix socket); the node's loopback,
# where the collectors listen, is what ovs-vswitchd sends to.
#
# The Network is applied with kubectl: NetFlow to 127.0.0.1:2056, sFlow to
# 127.0.0.1:6343, IPFIX to ":4739" (the applier's --node-ip, 127.0.0.1);
# loopback collectors pass the webhook with a warning.  The publisher runs with
# short timeouts, IPFIX sampling 1 and sFlow sampling 64 (its tuning flags,
# carried to the node in the ConfigMap; what is not set stays empty in OVS) so
# records arrive within seconds.  After a ping and a TCP
# transfer between the namespaces every collector must hold them.  Then
# exportNetworkFlows is removed with kubectl and br-int must lose all three.
# Needs root.  EXPORTFLOWS_KEEP_TMP=1 keeps the work dir (kept on failure).
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-check.sh
. "$here/lib-check.sh"
# shellcheck source=tests/system/lib-cluster.sh
. "$here/lib-cluster.sh"
# shellcheck source=tests/system/lib-netns.sh
. "$here/lib-netns.sh"
# shellcheck source=tests/system/lib-vswitchd.sh
. "$here/lib-vswitchd.sh"
# shellcheck source=tests/system/lib-collectors.sh
. "$here/lib-collectors.sh"
# shellcheck source=tests/system/lib-flownode.sh
. "$here/lib-flownode.sh"

NETFLOW_PORT=2056
IPFIX_PORT=4739
SFLOW_PORT=6343
NODE_IP=127.0.0.1
AGENT_IP=10.99.0.254
NS1_IP=10.99.0.1
NS2_IP=10.99.0.2
TCP_PORT=5001
TCP_BYTES=1000000
DEADLINE=30

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, ovs-vswitchd)"
check_tools ovsdb-tool ovsdb-server ovsdb-client ovs-vswitchd ovs-vsctl nfcapd nfdump \
    tshark tcpdump ethtool ping ip ss jq curl openssl
check_python

WORK=$(mktemp -d /tmp/exportflows-k8s-flows.XXXXXX) || die "mktemp failed"
SFX=$(netns_suffix)
NS_NODE=efk-node-$SFX
NS1=efk-ns1-$SFX
NS2=efk-ns2-$SFX
PORT1=efk1-$SFX
PORT2=efk2-$SFX

cleanup() {
    local rc=$?
    collectors_stop
    cluster_down
    vswitchd_stop
    netns_cleanup
    check_finish "$WORK" $rc show_failure_logs
}
show_failure_logs() {
    cluster_show_logs 15
    tail -n 15 "$WORK/ovs-node/ovs-vswitchd.log" 2>/dev/null | sed 's/^/  vswitchd| /'
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- control plane

log "work dir $WORK, namespaces $NS_NODE $NS1 $NS2"
# The loose stand-in CRD: the Network below uses the proposal's plain lists and
# a ":PORT" collector (the node's own IP), which the released schema refuses
# before the webhook is called; k8s-e2e.sh covers the released schema.
CLUSTER_CRD=loose
cluster_up "$WORK" --netflow-active-timeout 1 --ipfix-sampling 1 \
    --ipfix-cache-active-timeout 1 --sflow-sampling 64 || die "could not bring up the control plane and the webhook"
pass "kube-apiserver at $APISERVER_URL calls exportflows-webhook at $CLUSTER_WEBHOOK_URL/validate"

# ---------------------------------------------------------------- the node

for ns in "$NS_NODE" "$NS1" "$NS2"; do
    netns_create "$ns" || die "cannot create namespace $ns"
done
cluster_ovsdb_start node || die "ovsdb-server did not start"
vswitchd_start "$CLUSTER_DIR/ovs-node" "$CLUSTER_OVSDB" "$NS_NODE" ||
    die "ovs-vswitchd did not start: $(cat "$CLUSTER_DIR/ovs-node/ovs-vswitchd.stderr")"
flownode_up "$WORK"

cluster_applier_start node "$NODE_IP" "$CLUSTER_OVSDB" br-int || die "the applier did not start"
cluster_applier_health node || die "the applier did not come up"

# ---------------------------------------------------------------- kubectl apply

log "kubectl apply: NetFlow, sFlow and IPFIX to the node's collectors"
cluster_network "{netFlow: [\"127.0.0.1:$NETFLOW_PORT\"], sFlow: {collectors: [\"127.0.0.1:$SFLOW_PORT\"]}, ipfix: [\":$IPFIX_PORT\"]}" |
    cluster_kubectl apply -f - >"$WORK/apply.out" 2>&1 || die "kubectl apply failed: $(cat "$WORK/apply.out")"
pass "kubectl apply: $(grep -c '^Warning:' "$WORK/apply.out") warnings (loopback collectors), $(grep -v '^Warning:' "$WORK/apply.out")"

WANT="br-int netflow=127.0.0.1:$NETFLOW_PORT/1 sflow=127.0.0.1:$SFLOW_PORT/64///ovn-k8s-mp0 ipfix=$NODE_IP:$IPFIX_PORT/1/1//"
applied() { cluster_bridge_is "$CLUSTER_OVSDB" br-int "${WANT#br-int }" && vswitchd_sync; }
if wait_for 10 applied; then
    pass "br-int: ${CLUSTER_BRIDGE_SEEN#br-int }, applied by ovs-vswitchd"
else
    die "br-int did not get the collectors: '$CLUSTER_BRIDGE_SEEN', want '$WANT'"
fi

netns_exec "$NS1" ping -c 5 -i 0.2 "$NS2_IP" >/dev/null || fail "ping ns1 -> ns2 lost packets"
netns_tcp_transfer "$NS1" "$NS2" "$NS2_IP" $TCP_PORT $TCP_BYTES ||
    fail "TCP transfer ns1 -> ns2:$TCP_PORT failed"
log "sent 5 pings and $TCP_BYTES bytes over TCP ns1 -> ns2:$TCP_PORT"

netflow_seen() {
    NF=$(nfcapd_flows "$WORK/netflow" "host $NS1_IP and host $NS2_IP")
    flows_has "$NF" 1 "$NS1_IP" '*' "$NS2_IP" 8.0 &&
        flows_has "$NF" 1 "$NS2_IP" '*' "$NS1_IP" 0.0 &&
        [ "$(flows_bytes "$NF" 6 "$NS1_IP" '*' "$NS2_IP" $TCP_PORT)" -ge $TCP_BYTES ]
}
ipfix_seen() {
    IX=$(nfcapd_flows "$WORK/ipfix" "host $NS1_IP and host $NS2_IP")
    flows_has "$IX" 1 "$NS1_IP" '*' "$NS2_IP" '*' &&
        flows_has "$IX" 6 "$NS1_IP" '*' "$NS2_IP" $TCP_PORT &&
        flows_has "$IX" 6 "$NS2_IP" $TCP_PORT "$NS1_IP" '*'
}
sflow_seen() {
    SF=$(sflow_samples "$WORK/export.pcap" $SFLOW_PORT "tcp.port == $TCP_PORT")
    [ "$(sflow_count "$SF" "$AGENT_IP" "$NS1_IP" "$NS2_IP" 6)" -gt 0 ]
}
NF='' IX='' SF=''
if wait_for $DEADLINE netflow_seen; then
    pass "NetFlow v5 at nfcapd: ICMP both ways, $(flows_bytes "$NF" 6 "$NS1_IP" '*' "$NS2_IP" $TCP_PORT) bytes of TCP ns1 -> ns2:$TCP_PORT"
else
    fail "NetFlow v5 lacks the flows"
    show "nfdump NetFlow" "$NF"
fi
if wait_for $DEADLINE ipfix_seen; then
    pass "IPFIX at nfcapd: ICMP and TCP :$TCP_PORT both ways ($(grep -c . <<<"$IX") records)"
else
    fail "IPFIX lacks the flows"
    show "nfdump IPFIX" "$IX"
fi
if wait_for $DEADLINE sflow_seen; then
    pass "sFlow: $(grep -c . <<<"$SF") samples of TCP :$TCP_PORT ns1 -> ns2 from agent $AGENT_IP"
else
    fail "sFlow has no sample of TCP :$TCP_PORT from agent $AGENT_IP"
fi

# ---------------------------------------------------------------- kubectl removes it

log "kubectl apply without exportNetworkFlows"
cluster_network '' | cluster_kubectl apply -f - >"$WORK/apply.out" 2>&1 ||
    fail "kubectl apply failed: $(cat "$WORK/apply.out")"
WANT="br-int netflow=- sflow=- ipfix=-"
if wait_for 10 applied; then
    pass "br-int has no flow export any more"
else
    fail "br-int still exports: '$CLUSTER_BRIDGE_SEEN'"
fi

status=0
cluster_stop_process applier-node || status=$?
[ $status = 0 ] || fail "exportflows-applier exited with status $status on SIGTERM"

check_verdict k8s-flows
