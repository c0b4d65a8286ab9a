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

# netns_tcp_listening NS PORT: true when something listens on TCP PORT in NS.
netns_tcp_listening() {
    ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q .
}

# netns_tcp_transfer NS_SRC NS_DST DST_IP PORT BYTES: sends BYTES over one TCP
# connection from NS_SRC to a receiver it starts on DST_IP:PORT in NS_DST (both
# Python, so no netcat flavour matters); succeeds when the receiver got them all.
# Each side gives up after 20 s without progress.
netns_tcp_transfer() {
    local src=$1 dst=$2 ip=$3 port=$4 bytes=$5 out rpid _ got
    out=$(mktemp) || return 1
    ip netns exec "$dst" "${PYTHON:-python3}" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(20)
c, _ = s.accept()
c.settimeout(20)
n = 0
while True:
    b = c.recv(65536)
    if not b:
        break
    n += len(b)
print(n)
' "$ip" "$port" >"$out" 2>&1 &
    rpid=$!
    for _ in $(seq 100); do
        netns_tcp_listening "$dst" "$port" && break
        sleep 0.1
    done
    ip netns exec "$src" "${PYTHON:-python3}" -c '
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
left = int(sys.argv[3])
chunk = b"x" * 65536
while left > 0:
    left -= c.send(chunk[:min(left, len(chunk))])
c.shutdown(socket.SHUT_WR)
c.recv(1)
c.close()
' "$ip" "$port" "$bytes" || kill "$rpid" 2>/dev/null
    wait "$rpid"
    got=$(cat "$out")
    rm -f "$out"
    [ "$got" = "$bytes" ] || { echo "receiver got '$got' of $bytes bytes" >&2; return 1; }
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
    local name=$1 pids _
    for _ in $(seq 50); do
        pids=$(ip netns pids "$name" 2>/dev/null)
        [ -z "$pids" ] && return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    return 0
}
