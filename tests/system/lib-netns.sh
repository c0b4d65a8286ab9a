# lib-netns.sh — network namespaces and veth pairs for system tests.
#
# Source it from a test script.  Every namespace made with netns_create() is
# remembered and removed by netns_cleanup(), which the test calls from its EXIT
# trap; removing a namespace also removes the veth ends, tap devices and sockets
# inside it, so a failed run leaves nothing behind on the host.  Names carry a
# random suffix (netns_suffix) so parallel runs and leftovers never clash.

NETNS_CREATED=()

# Prints a short random hex suffix for namespace and interface names.  Interface
# names are limited to 15 characters, so it is kept to 6.
netns_suffix() {
    od -An -N3 -tx1 /dev/urandom | tr -d ' \n'
}

# netns_create NAME: makes namespace NAME with its loopback up.
netns_create() {
    local name=$1
    ip netns add "$name" || return 1
    NETNS_CREATED+=("$name")
    ip -n "$name" link set lo up
}

# netns_exec NAME CMD...: runs CMD inside namespace NAME.
netns_exec() {
    local name=$1
    shift
    ip netns exec "$name" "$@"
}

# netns_veth NS_A IF_A NS_B IF_B: makes a veth pair with end IF_A in NS_A and
# IF_B in NS_B, both up.  The ends are created directly inside the namespaces, so
# their names only need to be unique there.
netns_veth() {
    local ns_a=$1 if_a=$2 ns_b=$3 if_b=$4
    ip link add name "$if_a" netns "$ns_a" type veth \
        peer name "$if_b" netns "$ns_b" || return 1
    ip -n "$ns_a" link set "$if_a" up &&
        ip -n "$ns_b" link set "$if_b" up
}

# netns_addr NS IF CIDR: gives IF in NS the address CIDR and brings it up.
netns_addr() {
    local ns=$1 ifname=$2 cidr=$3
    ip -n "$ns" addr add "$cidr" dev "$ifname" &&
        ip -n "$ns" link set "$ifname" up
}

# netns_no_offload NS IF: turns checksum and segmentation offloads off on IF.
# The userspace datapath reads veth frames through AF_PACKET and forwards them
# as they are; with tx checksum offload on, TCP segments leave with a partial
# checksum that the receiving namespace drops.
netns_no_offload() {
    local ns=$1 ifname=$2
    ip netns exec "$ns" ethtool -K "$ifname" tx off rx off tso off gso off gro off \
        >/dev/null 2>&1 ||
        ip netns exec "$ns" ethtool -K "$ifname" tx off >/dev/null
}

# netns_cleanup: ends the processes still running in the namespaces this test
# made (they are the test's own daemons), then deletes the namespaces.  Safe to
# call more than once.
netns_cleanup() {
    local name pids
    for name in "${NETNS_CREATED[@]}"; do
        pids=$(ip netns pids "$name" 2>/dev/null)
        # shellcheck disable=SC2086
        [ -n "$pids" ] && kill $pids 2>/dev/null
    done
    for name in "${NETNS_CREATED[@]}"; do
        netns_wait_empty "$name"
        ip netns del "$name" 2>/dev/null
    done
    NETNS_CREATED=()
}

# netns_wait_empty NAME: waits up to 5 s for the processes in NAME to exit, then
# kills what is left.
netns_wait_empty() {
    local name=$1 pids i
    for i in $(seq 50); do
        pids=$(ip netns pids "$name" 2>/dev/null)
        [ -z "$pids" ] && return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    return 0
}
