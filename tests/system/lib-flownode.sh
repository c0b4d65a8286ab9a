# lib-flownode.sh — the "node" of the flow-export system tests (ovs-export,
# k8s-flows): br-int on a running ovs-vswitchd, with an internal port
# ovn-k8s-mp0 (the sFlow agent) and two veth ports into namespaces ns1 and ns2,
# and the collectors listening inside the node namespace.
#
# Source it after lib-check.sh, lib-netns.sh, lib-vswitchd.sh and
# lib-collectors.sh.  It reads the test's NS_NODE, NS1, NS2, PORT1, PORT2,
# NS1_IP, NS2_IP, AGENT_IP, NETFLOW_PORT, IPFIX_PORT and SFLOW_PORT; a step that
# fails ends the test with die.

# flownode_up DIR: builds br-int and the namespaces' ports on the ovs-vswitchd
# of vswitchd_start, starts nfcapd for NetFlow (DIR/netflow) and IPFIX
# (DIR/ipfix), the sFlow listener and the capture of every export datagram
# (DIR/export.pcap), and passes once ns1 reaches ns2 through br-int.
flownode_up() {
    local dir=$1 pair
    # Datapath flows idle out after 1 s instead of 10 s, so OVS hands their
    # final counts to NetFlow soon after traffic stops.
    vswitchd_vsctl -- set Open_vSwitch . other_config:max-idle=1000 \
        -- add-br br-int -- set bridge br-int datapath_type=netdev \
        -- add-port br-int ovn-k8s-mp0 -- set interface ovn-k8s-mp0 type=internal ||
        die "cannot create br-int"

    netns_veth "$NS1" eth0 "$NS_NODE" "$PORT1" || die "cannot create the veth pair for ns1"
    netns_veth "$NS2" eth0 "$NS_NODE" "$PORT2" || die "cannot create the veth pair for ns2"
    for pair in "$NS1 eth0" "$NS2 eth0" "$NS_NODE $PORT1" "$NS_NODE $PORT2"; do
        # shellcheck disable=SC2086
        netns_no_offload $pair || die "cannot turn offloads off on $pair"
    done
    vswitchd_vsctl add-port br-int "$PORT1" -- add-port br-int "$PORT2" ||
        die "cannot add the veth ports to br-int"
    netns_addr "$NS1" eth0 "$NS1_IP/24" || die "cannot address ns1"
    netns_addr "$NS2" eth0 "$NS2_IP/24" || die "cannot address ns2"

    # The userspace datapath makes ovn-k8s-mp0 a tap device, which appears
    # shortly after the port is added.  sFlow takes its agent address from it.
    wait_for 10 flownode_mp0_exists || die "ovn-k8s-mp0 did not appear"
    netns_addr "$NS_NODE" ovn-k8s-mp0 "$AGENT_IP/24" || die "cannot address ovn-k8s-mp0"
    ip -n "$NS_NODE" link set br-int up

    nfcapd_start "$NS_NODE" "$dir/netflow" "$NETFLOW_PORT" || die "nfcapd (NetFlow) did not start"
    nfcapd_start "$NS_NODE" "$dir/ipfix" "$IPFIX_PORT" || die "nfcapd (IPFIX) did not start"
    udp_sink_start "$NS_NODE" "$SFLOW_PORT" || die "the sFlow listener did not start"
    udp_capture_start "$NS_NODE" "$dir/export.pcap" "$NETFLOW_PORT" "$IPFIX_PORT" \
        "$SFLOW_PORT" || die "tcpdump did not start"

    wait_for 15 flownode_ping_ok || die "ns1 cannot reach ns2 through br-int"
    pass "ns1 reaches ns2 through br-int"
}

flownode_mp0_exists() { ip -n "$NS_NODE" link show ovn-k8s-mp0 >/dev/null 2>&1; }
flownode_ping_ok() { netns_exec "$NS1" ping -c 1 -W 1 "$NS2_IP" >/dev/null; }
