#!/usr/bin/env bash
# bench/ovnkube-restart.sh — what an ovnkube-node restart costs when
# exportflows-applier manages the same bridge, against the same restart on a
# node without it, in the same run.
#
# Two private ovsdb-servers (tests/system/lib-ovs.sh), each with br-int: "node"
# has an applier fed by --config-file with the publisher's default tuning, and
# "alone" has none.  Each round runs the ovnkube-node stand-in
# (tests/system/lib-ovnkube.sh: one clear, then one create-and-set per
# protocol, all three protocols on) on both, then waits until the node's rows
# equal the alone node's and the applier reports in sync.  Prints:
#   - the applier's committed and failed transactions per restart (from
#     exportflows_applier_transactions_total), beside ovnkube-node's own
#     transactions per restart (the baseline: 1 clear + 3 create-and-set), as a
#     ratio;
#   - the stand-in's own duration (spawn of the first ovs-vsctl -> last one
#     done) p50/p99 with the applier beside it and without, as a ratio: the
#     applier must not slow ovnkube-node's start;
# Exit 0 when the run completed.  About 15 s for the default 50 restarts.
#
# Usage: bench/ovnkube-restart.sh [-n RESTARTS]
# Needs: openvswitch-switch (ovsdb-server, ovsdb-tool, ovsdb-client, ovs-vsctl),
# curl, python3; builds bin/ with make unless EXPORTFLOWS_BIN_DIR names a
# directory with the programs.
set -euo pipefail

restarts=50
while [ $# -gt 0 ]; do
    case "$1" in
    -n) restarts=$2; shift 2 ;;
    *) echo "usage: $0 [-n RESTARTS]" >&2; exit 2 ;;
    esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
for tool in ovsdb-server ovsdb-tool ovsdb-client ovs-vsctl curl python3; do
    command -v "$tool" >/dev/null || {
        echo "bench: $tool is missing (apt-get install openvswitch-switch curl python3)" >&2
        exit 2
    }
done

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
# shellcheck source=tests/system/lib-cluster.sh
. "$root/tests/system/lib-cluster.sh"
# shellcheck source=tests/system/lib-ovnkube.sh
. "$root/tests/system/lib-ovnkube.sh"

if [ -z "${EXPORTFLOWS_BIN_DIR:-}" ]; then
    say "building the programs"
    make -s -j"$(nproc)" programs >/dev/null
fi
CLUSTER_BIN=$(cd "${EXPORTFLOWS_BIN_DIR:-$root/bin}" && pwd)

work=$(mktemp -d /tmp/exportflows-bench-ovnkube.XXXXXX)
CLUSTER_DIR=$work
mkdir -p "$work/logs"
trap 'cluster_down; rm -rf "$work"' EXIT

NF=172.30.158.150:2056
SF=172.30.158.150:6343
IX=172.30.158.150:2055,:4739
IP=10.0.0.9
cat >"$work/config.json" <<EOF
{"version": 1, "netFlow": {"collectors": ["$NF"], "activeTimeout": 60},
 "sFlow": {"collectors": ["$SF"], "agent": "ovn-k8s-mp0"},
 "ipfix": {"collectors": ["${IX%%,*}", "${IX#*,}"], "cacheActiveTimeout": 60}}
EOF

cluster_ovsdb_start alone br-int >/dev/null
alone_db=$CLUSTER_OVSDB
cluster_ovsdb_start node br-int >/dev/null
node_db=$CLUSTER_OVSDB
cluster_spawn applier "$CLUSTER_BIN/exportflows-applier" --config-file "$work/config.json" \
    --ovsdb "$node_db" --node-ip "$IP" --health-listen 127.0.0.1:0
cluster_wait_ms "the applier's health address" 10000 cluster_listen_addr applier health >/dev/null
CLUSTER_HEALTH[applier]=$(cluster_listen_addr applier health)

converged() {
    [ "$(cluster_metric applier exportflows_applier_in_sync)" = 1 ] &&
        [ "$(ovnkube_rows "$node_db")" = "$want" ]
}
ovnkube_start "$alone_db" "$IP" "$NF" "$SF" "$IX"
want=$(ovnkube_rows "$alone_db")
cluster_wait_ms "first apply" 10000 converged
ok0=$(cluster_metric applier 'exportflows_applier_transactions_total{result="ok"}')
err0=$(cluster_metric applier 'exportflows_applier_transactions_total{result="error"}' || echo 0)

say "$restarts restarts"
: >"$work/samples"
start_s=$SECONDS
for _ in $(seq "$restarts"); do
    t0=$(date +%s%N)
    ovnkube_start "$alone_db" "$IP" "$NF" "$SF" "$IX"
    t1=$(date +%s%N)
    ovnkube_start "$node_db" "$IP" "$NF" "$SF" "$IX"
    t2=$(date +%s%N)
    cluster_wait_ms "converged" 10000 converged
    echo "alone $(( (t1 - t0) / 1000 )) node $(( (t2 - t1) / 1000 ))" >>"$work/samples"
done
secs=$((SECONDS - start_s))
ok=$(( $(cluster_metric applier 'exportflows_applier_transactions_total{result="ok"}') - ok0 ))
err=$(( $(cluster_metric applier 'exportflows_applier_transactions_total{result="error"}' || echo 0) - err0 ))

col() { awk -v k="$1" '{ for (i = 1; i < NF; i += 2) if ($i == k) print $(i + 1) }' "$work/samples"; }
a50=$(col alone | bench_percentile 50 1000); a99=$(col alone | bench_percentile 99 1000)
n50=$(col node | bench_percentile 50 1000); n99=$(col node | bench_percentile 99 1000)
per_ok=$(awk -v a="$ok" -v n="$restarts" 'BEGIN { printf "%.2f", a / n }')
per_err=$(awk -v a="$err" -v n="$restarts" 'BEGIN { printf "%.2f", a / n }')

printf 'machine: %s cores, %s; load average %s\n' "$(nproc)" "$(bench_cpu_model)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'run: %s ovnkube-node restarts (3 protocols on), default tuning; %s s\n' "$restarts" "$secs"
printf '%-52s %9s %9s %7s\n' 'per simulated restart' applier baseline ratio
printf '%-52s %9s %9s %7s\n' 'transactions committed (baseline: ovnkube-node own)' "$per_ok" 4.00 \
    "$(ratio "$per_ok" 4)"
printf '%-52s %9s %9s %7s\n' 'transactions refused by the wait guard' "$per_err" - -
printf '%-52s %9s %9s %14s\n' 'stand-in restart duration (ms)' p50 p99 'ratio p50/p99'
printf '%-52s %9s %9s %14s\n' '  with the applier on the bridge' "$n50" "$n99" \
    "$(ratio "$n50" "$a50")/$(ratio "$n99" "$a99")"
printf '%-52s %9s %9s %14s\n' '  baseline: alone' "$a50" "$a99" '1.00/1.00'
