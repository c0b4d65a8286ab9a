#!/usr/bin/env bash
# ovs-export.sh — end-to-end flow export through a real Open vSwitch to real
# collectors, driven by exportflows-applier.
#
# A private ovsdb-server and ovs-vswitchd (userspace datapath) run with br-int,
# two veth ports into namespaces ns1 (10.99.0.1) and ns2 (10.99.0.2) and an
# internal port ovn-k8s-mp0 (10.99.0.254, the sFlow agent).  exportflows-applier
# is given a config file with NetFlow v5, sFlow and IPFIX pointing at collectors
# on 127.0.0.1: nfcapd for NetFlow and IPFIX, tcpdump + tshark for sFlow.  After
# a ping and a TCP transfer between the namespaces, each collector must hold the
# test's flows.  Then NetFlow is removed from the config file: after new traffic
# that sFlow and IPFIX do see, NetFlow must have sent nothing more.
#
# ovs-vswitchd, its tap devices, the applier and the collectors live in a
# namespace of their own (the "node"), so nothing here touches the host's
# interfaces or ports, and parallel runs cannot clash.  Needs root.
#
# EXPORTFLOWS_OVS_EXPORT_MODE=vsctl configures OVS with ovs-vsctl as the original
# proposal did instead of running the applier: it tells a harness problem from an
# applier problem.  EXPORTFLOWS_KEEP_TMP=1 keeps the temp dir (kept on failure).
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-check.sh
. "$here/lib-check.sh"
# shellcheck source=tests/system/lib-netns.sh
. "$here/lib-netns.sh"
# shellcheck source=tests/system/lib-ovs.sh
. "$here/lib-ovs.sh"
# shellcheck source=tests/system/lib-vswitchd.sh
. "$here/lib-vswitchd.sh"
# shellcheck source=tests/system/lib-collectors.sh
. "$here/lib-collectors.sh"
# shellcheck source=tests/system/lib-flownode.sh
. "$here/lib-flownode.sh"

BIN_DIR=${EXPORTFLOWS_BIN_DIR:-bin}
MODE=${EXPORTFLOWS_OVS_EXPORT_MODE:-applier}

NETFLOW_PORT=2056
IPFIX_PORT=4739
SFLOW_PORT=6343
NODE_IP=127.0.0.1   # the applier's --node-ip: IPFIX is configured as ":4739"
AGENT_IP=10.99.0.254
NS1_IP=10.99.0.1
NS2_IP=10.99.0.2
TCP_PORT1=5001      # phase 1 transfer: all three protocols on
TCP_PORT2=5002      # phase 2 transfer: NetFlow off
TCP_BYTES=1000000   # per transfer; sFlow samples 1 in 64 packets of it
DEADLINE=30         # seconds for a collector to show what it must show
QUIET_WINDOW=6      # seconds after phase 2 traffic in which NetFlow must stay silent

# ---------------------------------------------------------------- preconditions

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, ovs-vswitchd)"
check_tools ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl nfcapd nfdump tshark \
    tcpdump ethtool ping ip ss
check_python
APPLIER=$(realpath -e "$BIN_DIR/exportflows-applier" 2>/dev/null)
if [ "$MODE" = applier ] && [ ! -x "$APPLIER" ]; then
    die "$BIN_DIR/exportflows-applier is missing (build it, or set EXPORTFLOWS_OVS_EXPORT_MODE=vsctl)"
fi

TMP=$(mktemp -d /tmp/exportflows-ovs-export.XXXXXX) || die "mktemp failed"
SFX=$(netns_suffix)
NS_NODE=efx-node-$SFX
NS1=efx-ns1-$SFX
NS2=efx-ns2-$SFX
PORT1=efx1-$SFX     # node ends of the veth pairs, ports of br-int
PORT2=efx2-$SFX
APPLIER_PID=

cleanup() {
    local rc=$?
    [ -n "$APPLIER_PID" ] && kill -TERM "$APPLIER_PID" 2>/dev/null && wait "$APPLIER_PID"
    collectors_stop
    vswitchd_stop
    ovs_db_stop
    netns_cleanup
    check_finish "$TMP" $rc show_failure_logs
}
show_failure_logs() {
    tail -n 15 "$TMP/ovs-vswitchd.log" 2>/dev/null | sed 's/^/  vswitchd| /'
    [ -f "$TMP/applier.log" ] && tail -n 15 "$TMP/applier.log" | sed 's/^/  applier| /'
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- export config

# config_json yes|no GENERATION: the applier's input (DESIGN.md "What the
# applier writes") with or without NetFlow.  The tuning gets records out of OVS
# within seconds: NetFlow active timeout 1 s; IPFIX samples every packet and
# caches records for 1 s.  sFlow keeps the proposal's values.
config_json() {
    local netflow=''
    [ "$1" = yes ] && netflow='
 "netFlow": {"collectors": ["127.0.0.1:'$NETFLOW_PORT'"], "activeTimeout": 1},'
    cat <<EOF
{"generation": $2,$netflow
 "sFlow": {"collectors": ["127.0.0.1:$SFLOW_PORT"], "agent": "ovn-k8s-mp0",
           "header": 128, "sampling": 64, "polling": 10},
 "ipfix": {"collectors": [":$IPFIX_PORT"], "sampling": 1, "cacheActiveTimeout": 1,
           "obsDomainID": 123, "obsPointID": 456}}
EOF
}

# export_configure yes|no GENERATION: asks for NetFlow (yes or no) besides sFlow
# and IPFIX: a new config file for the applier (renamed into place, as kubelet
# swaps ConfigMap volumes), or ovs-vsctl commands in vsctl mode.
export_configure() {
    if [ "$MODE" = applier ]; then
        config_json "$1" "$2" >"$TMP/config.json.new" &&
            mv -f "$TMP/config.json.new" "$TMP/config.json"
    elif [ "$1" = yes ]; then
        vswitchd_vsctl -- --id=@sflow create sflow agent=ovn-k8s-mp0 \
            targets=\"127.0.0.1:$SFLOW_PORT\" header=128 sampling=64 polling=10 \
            -- --id=@ipfix create ipfix targets=\"$NODE_IP:$IPFIX_PORT\" \
            sampling=1 cache_active_timeout=1 obs_domain_id=123 obs_point_id=456 \
            -- --id=@netflow create netflow targets=\"127.0.0.1:$NETFLOW_PORT\" \
            active_timeout=1 \
            -- set bridge br-int sflow=@sflow ipfix=@ipfix netflow=@netflow >/dev/null
    else
        vswitchd_vsctl clear bridge br-int netflow
    fi
}

# applier_start: runs the applier in the node namespace on the first config.
applier_start() {
    [ "$MODE" = applier ] || return 0
    ip netns exec "$NS_NODE" "$APPLIER" --config-file "$TMP/config.json" \
        --ovsdb "$OVS_DB" --bridge br-int --node-ip "$NODE_IP" \
        --node-name "$NS_NODE" --health-listen none >"$TMP/applier.log" 2>&1 &
    APPLIER_PID=$!
}

# bridge_column COLUMN TABLECOLUMN: the value of TABLECOLUMN in the row br-int's
# COLUMN points to ("" when COLUMN is empty).
bridge_column() {
    local uuid
    uuid=$(vswitchd_vsctl get bridge br-int "$1") || return 1
    [ "$uuid" = "[]" ] && return 0
    vswitchd_vsctl get "$1" "$uuid" "$2"
}

# export_applied yes|no: true once br-int points at the collectors that
# export_configure asked for, and ovs-vswitchd has applied it.
export_applied() {
    local want_netflow=''
    [ "$1" = yes ] && want_netflow="[\"127.0.0.1:$NETFLOW_PORT\"]"
    [ "$(bridge_column netflow targets)" = "$want_netflow" ] &&
        [ "$(bridge_column sflow targets)" = "[\"127.0.0.1:$SFLOW_PORT\"]" ] &&
        [ "$(bridge_column ipfix targets)" = "[\"$NODE_IP:$IPFIX_PORT\"]" ] &&
        vswitchd_sync
}

# ---------------------------------------------------------------- collector checks

# NetFlow and IPFIX: nfcapd_flows lines "PROTO SRC SRCPORT DST DSTPORT PKTS BYTES";
# nfdump shows an ICMP type.code as the destination port.
NF=''
IX=''
SF=''

# phase1_netflow_seen: NetFlow v5 carries the echo requests ns1 -> ns2, the
# replies, and both directions of the TCP transfer with every byte sent (OVS's
# NetFlow is not sampled).
phase1_netflow_seen() {
    NF=$(nfcapd_flows "$TMP/netflow" "host $NS1_IP and host $NS2_IP")
    flows_has "$NF" 1 "$NS1_IP" '*' "$NS2_IP" 8.0 &&
        flows_has "$NF" 1 "$NS2_IP" '*' "$NS1_IP" 0.0 &&
        flows_has "$NF" 6 "$NS2_IP" $TCP_PORT1 "$NS1_IP" '*' &&
        [ "$(flows_bytes "$NF" 6 "$NS1_IP" '*' "$NS2_IP" $TCP_PORT1)" -ge $TCP_BYTES ]
}

# phase1_ipfix_seen: IPFIX carries ICMP both ways and both directions of the TCP
# transfer.  OVS's IPFIX records carry no ICMP type nfdump shows, so requests and
# replies are told apart by direction only.
phase1_ipfix_seen() {
    IX=$(nfcapd_flows "$TMP/ipfix" "host $NS1_IP and host $NS2_IP")
    flows_has "$IX" 1 "$NS1_IP" '*' "$NS2_IP" '*' &&
        flows_has "$IX" 1 "$NS2_IP" '*' "$NS1_IP" '*' &&
        flows_has "$IX" 6 "$NS1_IP" '*' "$NS2_IP" $TCP_PORT1 &&
        flows_has "$IX" 6 "$NS2_IP" $TCP_PORT1 "$NS1_IP" '*'
}

# phase2_ipfix_seen: IPFIX carries both directions of the second transfer and
# more ICMP records than when NetFlow was removed (the ping from ns2).
phase2_ipfix_seen() {
    IX=$(nfcapd_flows "$TMP/ipfix" "host $NS1_IP and host $NS2_IP")
    flows_has "$IX" 6 "$NS1_IP" '*' "$NS2_IP" $TCP_PORT2 &&
        flows_has "$IX" 6 "$NS2_IP" $TCP_PORT2 "$NS1_IP" '*' &&
        [ "$(flows_count "$IX" 1 '*' '*' '*' '*')" -gt "$ix_icmp_before" ]
}

# sflow_seen PORT: flow samples of the TCP transfer to PORT from the agent
# address of ovn-k8s-mp0.
sflow_seen() {
    SF=$(sflow_samples "$TMP/export.pcap" $SFLOW_PORT "tcp.port == $1")
    [ "$(sflow_count "$SF" "$AGENT_IP" "$NS1_IP" "$NS2_IP" 6)" -gt 0 ]
}

# ---------------------------------------------------------------- setup

log "temp dir $TMP, namespaces $NS_NODE $NS1 $NS2, mode $MODE"
for ns in "$NS_NODE" "$NS1" "$NS2"; do
    netns_create "$ns" || die "cannot create namespace $ns"
done
ovs_db_start "$TMP" || die "ovsdb-server did not start"
vswitchd_start "$TMP" "$OVS_DB" "$NS_NODE" ||
    die "ovs-vswitchd did not start: $(cat "$TMP/ovs-vswitchd.stderr")"

flownode_up "$TMP"

# ---------------------------------------------------------------- phase 1

log "phase 1: NetFlow, sFlow and IPFIX on"
export_configure yes 1 || die "cannot configure export"
applier_start
if wait_for 20 export_applied yes; then
    pass "br-int exports NetFlow to $(bridge_column netflow targets), sFlow to $(bridge_column sflow targets), IPFIX to $(bridge_column ipfix targets)"
else
    die "br-int did not get the NetFlow, sFlow and IPFIX collectors"
fi

netns_exec "$NS1" ping -c 5 -i 0.2 "$NS2_IP" >/dev/null || fail "ping ns1 -> ns2 lost packets"
netns_tcp_transfer "$NS1" "$NS2" "$NS2_IP" $TCP_PORT1 $TCP_BYTES ||
    fail "TCP transfer ns1 -> ns2:$TCP_PORT1 failed"
log "sent 5 pings ns1 -> ns2 and $TCP_BYTES bytes over TCP ns1 -> ns2:$TCP_PORT1"

if wait_for $DEADLINE phase1_netflow_seen; then
    pass "NetFlow v5 recorded ICMP both ways and TCP :$TCP_PORT1 both ways, $(flows_bytes "$NF" 6 "$NS1_IP" '*' "$NS2_IP" $TCP_PORT1) bytes ns1 -> ns2"
else
    fail "NetFlow v5 lacks the phase 1 flows (TCP bytes ns1 -> ns2: $(flows_bytes "$NF" 6 "$NS1_IP" '*' "$NS2_IP" $TCP_PORT1) of $TCP_BYTES)"
    show "nfdump NetFlow" "$NF"
fi
if wait_for $DEADLINE phase1_ipfix_seen; then
    pass "IPFIX recorded ICMP both ways and TCP :$TCP_PORT1 both ways ($(grep -c . <<<"$IX") records)"
else
    fail "IPFIX lacks the phase 1 flows"
    show "nfdump IPFIX" "$IX"
fi
if wait_for $DEADLINE sflow_seen $TCP_PORT1; then
    pass "sFlow carried $(grep -c . <<<"$SF") samples of TCP :$TCP_PORT1 ns1 -> ns2 from agent $AGENT_IP"
else
    fail "sFlow has no sample of TCP :$TCP_PORT1 ns1 -> ns2 from agent $AGENT_IP"
    show "sFlow samples" "$(sflow_samples "$TMP/export.pcap" $SFLOW_PORT)"
fi

# ---------------------------------------------------------------- phase 2

log "phase 2: NetFlow removed, sFlow and IPFIX on"
export_configure no 2 || die "cannot reconfigure export"
if wait_for 20 export_applied no; then
    pass "br-int has no NetFlow, still sFlow and IPFIX"
else
    die "br-int still has NetFlow, or lost sFlow or IPFIX"
fi
# From here on NetFlow must be silent: ovs-vswitchd has applied the removal.
off_at=$(date +%s.%N)
ix_icmp_before=$(flows_count "$(nfcapd_flows "$TMP/ipfix" "host $NS1_IP and host $NS2_IP")" 1 '*' '*' '*' '*')

netns_exec "$NS2" ping -c 5 -i 0.2 "$NS1_IP" >/dev/null || fail "ping ns2 -> ns1 lost packets"
netns_tcp_transfer "$NS1" "$NS2" "$NS2_IP" $TCP_PORT2 $TCP_BYTES ||
    fail "TCP transfer ns1 -> ns2:$TCP_PORT2 failed"
sent_at=$SECONDS
log "sent 5 pings ns2 -> ns1 and $TCP_BYTES bytes over TCP ns1 -> ns2:$TCP_PORT2"

if wait_for $DEADLINE phase2_ipfix_seen; then
    pass "IPFIX goes on: TCP :$TCP_PORT2 both ways, ICMP records $ix_icmp_before -> $(flows_count "$IX" 1 '*' '*' '*' '*')"
else
    fail "IPFIX lacks the phase 2 flows"
    show "nfdump IPFIX" "$IX"
fi
if wait_for $DEADLINE sflow_seen $TCP_PORT2; then
    pass "sFlow goes on: $(grep -c . <<<"$SF") samples of TCP :$TCP_PORT2"
else
    fail "sFlow has no sample of TCP :$TCP_PORT2"
fi

# With NetFlow on, phase 1 records were out within about 3 s of the traffic
# (active and idle timeouts of 1 s, 2 s file rotation); wait twice that before
# concluding that nothing more comes.
window_over() { [ $SECONDS -ge $((sent_at + QUIET_WINDOW)) ]; }
wait_for $((QUIET_WINDOW + 1)) window_over
# The capture is the witness of what was sent; nfdump shows whether nfcapd got
# any record of the phase 2 traffic (TCP :5002, echo requests ns2 -> ns1).
nf_datagrams=$(udp_capture_count "$TMP/export.pcap" $NETFLOW_PORT "$off_at")
quiet_secs=$(($(date +%s) - ${off_at%.*}))
NF=$(nfcapd_flows "$TMP/netflow")
nf_phase2=$(($(flows_count "$NF" 6 '*' '*' '*' $TCP_PORT2) +
    $(flows_count "$NF" 6 '*' $TCP_PORT2 '*' '*') +
    $(flows_count "$NF" 1 "$NS2_IP" '*' "$NS1_IP" 8.0)))
if [ "$nf_datagrams" = 0 ] && [ $nf_phase2 = 0 ]; then
    pass "NetFlow stopped: no datagram in the $quiet_secs s since its removal, no record of phase 2 among $(grep -c . <<<"$NF")"
else
    fail "NetFlow still exports: $nf_datagrams datagrams since its removal, $nf_phase2 records of phase 2"
    show "nfdump NetFlow" "$NF"
fi

# Counter samples come every polling interval (10 s) after sFlow was set up.
counters_seen() {
    counters=$(sflow_counter_samples "$TMP/export.pcap" $SFLOW_PORT)
    [ "$counters" -gt 0 ]
}
counters=0
if wait_for 15 counters_seen; then
    pass "sFlow sent $counters counter samples (polling every 10 s)"
else
    fail "sFlow sent no counter samples"
fi

# The applier must still run, and exit cleanly when asked to (under the
# sanitizers a leak or an error report makes the exit status non-zero).
if [ "$MODE" = applier ]; then
    if kill -TERM "$APPLIER_PID" 2>/dev/null; then
        wait "$APPLIER_PID"
        status=$?
        APPLIER_PID=
        if [ $status = 0 ]; then
            pass "exportflows-applier exited cleanly on SIGTERM"
        else
            fail "exportflows-applier exited with status $status on SIGTERM"
        fi
    else
        APPLIER_PID=
        fail "exportflows-applier was no longer running"
    fi
fi

# ---------------------------------------------------------------- verdict

check_verdict ovs-export
