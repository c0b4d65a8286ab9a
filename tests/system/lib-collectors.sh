# lib-collectors.sh — real flow collectors for system tests.
#
# Source it from a test script.  NetFlow v5 and IPFIX are received by nfcapd
# (Debian nfdump) and read back with nfdump; sFlow datagrams are captured with
# tcpdump and decoded with tshark.  Every collector listens on 127.0.0.1 inside a
# network namespace given by the test, so fixed ports cannot clash with anything
# on the host.  collectors_stop ends them all; the test calls it from its EXIT
# trap.

COLLECTOR_PIDS=()

# collector_wait_udp NS PORT: waits up to 10 s until something listens on UDP
# PORT in namespace NS.
collector_wait_udp() {
    local ns=$1 port=$2 i
    for i in $(seq 100); do
        ip netns exec "$ns" ss -Hlun "sport = :$port" | grep -q . && return 0
        sleep 0.1
    done
    echo "nothing listens on udp port $port in $ns" >&2
    return 1
}

# nfcapd_start NS DIR PORT: runs nfcapd on 127.0.0.1:PORT in NS, writing to DIR.
# Files rotate every 2 s (nfcapd's minimum), so records are readable by nfdump
# within about 2 s of arriving.
nfcapd_start() {
    local ns=$1 dir=$2 port=$3
    mkdir -p "$dir" || return 1
    ip netns exec "$ns" nfcapd -b 127.0.0.1 -p "$port" -w "$dir" -t 2 \
        >"$dir.log" 2>&1 &
    COLLECTOR_PIDS+=($!)
    collector_wait_udp "$ns" "$port"
}

# nfcapd_flows DIR FILTER: prints the flows nfcapd stored in DIR that match the
# nfdump FILTER, one per line: "PROTO SRCADDR DSTADDR PACKETS BYTES FIRSTSEEN".
# Only rotated files are read, so a record shows up once its file is closed.
nfcapd_flows() {
    local dir=$1 filter=$2
    ls "$dir"/nfcapd.2* >/dev/null 2>&1 || return 0
    nfdump -q -R "$dir" -N -o 'fmt:%pr %sa %da %pkt %byt %ts' "$filter" 2>/dev/null |
        awk 'NF >= 5 { print $1, $2, $3, $4, $5, $6 " " $7 }'
}

# sflow_capture_start NS FILE PORT: captures the UDP datagrams sent to PORT on
# the loopback of NS into the pcap FILE, written packet by packet.
sflow_capture_start() {
    local ns=$1 file=$2 port=$3 i
    ip netns exec "$ns" tcpdump -i lo -U -n -w "$file" "udp dst port $port" \
        >"$file.log" 2>&1 &
    COLLECTOR_PIDS+=($!)
    # tcpdump says "listening on" once the capture is live.
    for i in $(seq 100); do
        grep -q 'listening on' "$file.log" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "tcpdump did not start: $(cat "$file.log")" >&2
    return 1
}

# sflow_samples FILE PORT: decodes the captured sFlow datagrams and prints one
# line per flow sample: "AGENT SRCADDR DSTADDR PROTO" for the sampled IPv4
# header (fields empty when the sample is not IPv4).
sflow_samples() {
    local file=$1 port=$2
    [ -s "$file" ] || return 0
    tshark -n -r "$file" -d "udp.port==$port,sflow" -V -Y sflow 2>/dev/null |
        awk '
            /^ *Agent address:/          { agent = $NF }
            /^ *Flow sample,/            { insample = 1; src = dst = proto = "" }
            /^ *Counters sample,/        { insample = 0 }
            insample && /^ *Source Address:/      && src == ""   { src = $NF }
            insample && /^ *Destination Address:/ && dst == ""   { dst = $NF }
            insample && /^ *Protocol:/            && proto == "" { proto = $2 }
            insample && /^ *Flow sample,/ && seen { print agent, psrc, pdst, pproto }
            insample { seen = 1; psrc = src; pdst = dst; pproto = proto }
            END { if (seen) print agent, psrc, pdst, pproto }
        '
}

# sflow_datagrams FILE PORT: prints the number of sFlow datagrams captured.
sflow_datagrams() {
    local file=$1 port=$2
    [ -s "$file" ] || { echo 0; return 0; }
    tshark -n -r "$file" -d "udp.port==$port,sflow" -Y sflow 2>/dev/null | wc -l
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
