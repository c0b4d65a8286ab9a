# lib-collectors.sh — real flow collectors for system tests.
#
# Source it from a test script.  NetFlow v5 and IPFIX are received by nfcapd
# (Debian nfdump) and read back with nfdump; every datagram sent to a collector
# port is also captured with tcpdump, and sFlow datagrams are decoded from that
# capture with tshark.  The collectors listen on 127.0.0.1 inside a network
# namespace given by the test, so fixed ports cannot clash with anything on the
# host.  collectors_stop ends them all; the test calls it from its EXIT trap.

COLLECTOR_PIDS=()

# collector_wait_udp NS PORT: waits up to 10 s until something listens on UDP
# PORT in namespace NS.
collector_wait_udp() {
    local ns=$1 port=$2 _
    for _ in $(seq 100); do
        ip netns exec "$ns" ss -Hlun "sport = :$port" | grep -q . && return 0
        sleep 0.1
    done
    echo "nothing listens on udp port $port in $ns" >&2
    return 1
}

# nfcapd_start NS DIR PORT: runs nfcapd on 127.0.0.1:PORT in NS, writing to DIR
# (its messages go to DIR.log).  Files rotate every 2 s, nfcapd's minimum, so
# records can be read with nfdump about 2 s after they arrive.
nfcapd_start() {
    local ns=$1 dir=$2 port=$3
    mkdir -p "$dir" || return 1
    ip netns exec "$ns" nfcapd -b 127.0.0.1 -p "$port" -w "$dir" -t 2 \
        >"$dir.log" 2>&1 &
    COLLECTOR_PIDS+=($!)
    collector_wait_udp "$ns" "$port"
}

# nfcapd_flows DIR [FILTER]: prints the flow records nfcapd stored in DIR that
# match the nfdump FILTER, one per line: "PROTO SRCADDR SRCPORT DSTADDR DSTPORT
# PACKETS BYTES" (for ICMP, DSTPORT is type.code as nfdump prints it).  Only
# closed files are read: the one nfcapd is writing is not complete yet.
nfcapd_flows() {
    local dir=$1 filter=${2:-any} files
    files=$(cd "$dir" && printf '%s\n' nfcapd.2* | grep -v '\*' | sort)
    [ -n "$files" ] || return 0
    nfdump -q -N -R "$dir/$(head -n 1 <<<"$files"):$(tail -n 1 <<<"$files")" \
        -o 'fmt:%pr %sa %sp %da %dp %pkt %byt' "$filter" |
        awk 'NF == 7 { print $1, $2, $3, $4, $5, $6, $7 }'
}

# udp_sink_start NS PORT: binds 127.0.0.1:PORT in NS and discards what arrives.
# Without a listener the kernel answers with port unreachable, and OVS loses the
# next datagram it sends there (the send fails with ECONNREFUSED).
udp_sink_start() {
    local ns=$1 port=$2
    ip netns exec "$ns" "${PYTHON:-python3}" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    s.recv(65536)
' "$port" &
    COLLECTOR_PIDS+=($!)
    collector_wait_udp "$ns" "$port"
}

# flows_count FLOWS PROTO SRCADDR SRCPORT DSTADDR DSTPORT: how many lines of
# FLOWS (nfcapd_flows output) match; "*" matches anything.
flows_count() {
    awk -v p="$2" -v sa="$3" -v sp="$4" -v da="$5" -v dp="$6" '
        (p == "*" || $1 == p) && (sa == "*" || $2 == sa) && (sp == "*" || $3 == sp) &&
        (da == "*" || $4 == da) && (dp == "*" || $5 == dp) { n++ }
        END { print n + 0 }' <<<"$1"
}

# flows_has FLOWS PROTO SRCADDR SRCPORT DSTADDR DSTPORT: true when flows_count
# finds at least one.
flows_has() {
    [ "$(flows_count "$@")" -gt 0 ]
}

# flows_bytes FLOWS PROTO SRCADDR SRCPORT DSTADDR DSTPORT: the bytes of the
# matching records added up (an active timeout splits one connection into
# several records).
flows_bytes() {
    awk -v p="$2" -v sa="$3" -v sp="$4" -v da="$5" -v dp="$6" '
        (p == "*" || $1 == p) && (sa == "*" || $2 == sa) && (sp == "*" || $3 == sp) &&
        (da == "*" || $4 == da) && (dp == "*" || $5 == dp) { n += $7 }
        END { print n + 0 }' <<<"$1"
}

# udp_capture_start NS FILE PORT...: captures the UDP datagrams sent to any of
# the PORTs on the loopback of NS into the pcap FILE, written packet by packet
# (its messages go to FILE.log).
udp_capture_start() {
    local ns=$1 file=$2 filter='' port _
    shift 2
    for port in "$@"; do
        filter="${filter:+$filter or }udp dst port $port"
    done
    ip netns exec "$ns" tcpdump -i lo -U -n -w "$file" "$filter" >"$file.log" 2>&1 &
    COLLECTOR_PIDS+=($!)
    # tcpdump says "listening on" once the capture is live.
    for _ in $(seq 100); do
        grep -q 'listening on' "$file.log" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "tcpdump did not start: $(cat "$file.log")" >&2
    return 1
}

# udp_capture_count FILE PORT [SINCE]: prints how many datagrams to PORT were
# captured, counting only those captured after the epoch time SINCE when given.
udp_capture_count() {
    local file=$1 port=$2 since=${3:-0}
    [ -s "$file" ] || { echo 0; return 0; }
    tshark -n -r "$file" -Y "udp.dstport == $port && frame.time_epoch > $since" \
        -T fields -e frame.number 2>/dev/null | wc -l
}

# sflow_samples FILE PORT [DISPLAYFILTER]: decodes the sFlow datagrams sent to
# PORT and prints one line per sampled IPv4 header: "AGENT SRCADDR DSTADDR
# PROTO".  DISPLAYFILTER (tshark syntax) narrows the datagrams looked at.
sflow_samples() {
    local file=$1 port=$2 extra=${3:-}
    [ -s "$file" ] || return 0
    # ip.src lists the outer header (to the collector) first, then the headers
    # of the sampled packets.
    tshark -n -r "$file" -d "udp.port==$port,sflow" \
        -Y "udp.dstport == $port && sflow${extra:+ && ($extra)}" \
        -T fields -E occurrence=a -E aggregator=, \
        -e sflow_245.agent -e ip.src -e ip.dst -e ip.proto 2>/dev/null |
        awk -F'\t' '{
            n = split($2, src, ","); split($3, dst, ","); split($4, proto, ",")
            for (i = 2; i <= n; i++) print $1, src[i], dst[i], proto[i]
        }'
}

# sflow_counter_samples FILE PORT: prints how many counter samples (interface
# statistics, sent every polling interval) the sFlow datagrams carried.
sflow_counter_samples() {
    local file=$1 port=$2
    [ -s "$file" ] || { echo 0; return 0; }
    tshark -n -r "$file" -d "udp.port==$port,sflow" -Y "udp.dstport == $port && sflow" \
        -T fields -E occurrence=a -E aggregator=' ' \
        -e sflow.counters_sample.sequence_number 2>/dev/null | wc -w
}

# sflow_count SAMPLES AGENT SRCADDR DSTADDR PROTO: how many lines of SAMPLES
# (sflow_samples output) match; "*" matches anything.
sflow_count() {
    awk -v ag="$2" -v sa="$3" -v da="$4" -v p="$5" '
        (ag == "*" || $1 == ag) && (sa == "*" || $2 == sa) && (da == "*" || $3 == da) &&
        (p == "*" || $4 == p) { n++ }
        END { print n + 0 }' <<<"$1"
}

# collectors_stop: ends the collectors started here.  SIGTERM lets nfcapd close
# its current file.
collectors_stop() {
    local pid
    for pid in "${COLLECTOR_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${COLLECTOR_PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    COLLECTOR_PIDS=()
}
