#!/usr/bin/env bash
# bench/applier.sh — how fast exportflows-applier gets a config change into OVS,
# how fast it undoes drift, and how much memory it holds, against the native tool
# (ovs-vsctl) making the same change in the same run.
#
# A private ovsdb-server (tests/system/lib-ovs.sh; no ovs-vswitchd needed) holds
# br-int, managed by the applier, and br-base, which only the baseline touches.
# The applier watches a kubelet-style ConfigMap directory.  bench/applier-latency.c
# (compiled here against build/libexportflows.a) monitors the database and times
# with CLOCK_MONOTONIC, alternating:
#   applier  swap of ..data to a version with a new IPFIX sampling -> the IPFIX
#            row committed on br-int;
#   vsctl    `ovs-vsctl -- --id=@ipfix create ipfix ... -- set bridge br-base
#            ipfix=@ipfix`, the same transaction, from spawn -> committed;
# then drift: `ovs-vsctl clear bridge br-int netflow` -> netflow set again.
# Prints p50/p99 (nearest rank) of each, the ratios to the baseline, the
# applier's RSS next to that of an empty program linked with the same shared
# libraries (the floor those libraries set), ovsdb-server's and sleep(1)'s, and
# the goals from docs/PERFORMANCE.md.  Exit 0 when the run completed: goals are
# reported, not enforced (the machine is shared and noisy).  About 20 s.
#
# Usage: bench/applier.sh [-n CHANGES] [--drifts N] [--gap-ms MS]
#                         [--health-listen ADDR|none] [--samples FILE]
# --samples keeps the raw samples (microseconds, one "KIND US" line each).
# Needs: openvswitch-switch (ovsdb-server, ovsdb-tool, ovs-vsctl), cc, pkg-config, readelf;
# builds bin/ and the library with make unless EXPORTFLOWS_BIN_DIR names a
# directory with the programs (the library is then taken from
# EXPORTFLOWS_BUILD_DIR, default build/).
set -euo pipefail

changes=100
drifts=20
gap_ms=30
health=127.0.0.1:0
samples_out=
while [ $# -gt 0 ]; do
    case "$1" in
    -n) changes=$2; shift 2 ;;
    --drifts) drifts=$2; shift 2 ;;
    --gap-ms) gap_ms=$2; shift 2 ;;
    --health-listen) health=$2; shift 2 ;;
    --samples) samples_out=$2; shift 2 ;;
    *) echo "usage: $0 [-n CHANGES] [--drifts N] [--gap-ms MS] [--health-listen ADDR|none] [--samples FILE]" >&2
       exit 2 ;;
    esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
for tool in ovsdb-server ovsdb-tool ovs-vsctl cc pkg-config readelf; do
    command -v "$tool" >/dev/null || {
        echo "bench: $tool is missing (apt-get install openvswitch-switch gcc pkg-config binutils)" >&2
        exit 2
    }
done

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

build_dir=${EXPORTFLOWS_BUILD_DIR:-$root/build}
if [ -n "${EXPORTFLOWS_BIN_DIR:-}" ]; then
    bin_dir=$EXPORTFLOWS_BIN_DIR
    [ -f "$build_dir/libexportflows.a" ] || make -s "$build_dir/libexportflows.a" >/dev/null
else
    make -s programs >/dev/null
    bin_dir=$root/bin
fi
applier_bin=$bin_dir/exportflows-applier
[ -x "$applier_bin" ] || { say "no $applier_bin after make"; exit 1; }

. "$root/tests/system/lib-ovs.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/exportflows-bench.XXXXXX")
applier_pid=
helper_pid=
sleep_pid=
empty_pid=
# Everything this script started, by pid; then the database and the directory.
cleanup() {
    local rc=$? pid
    set +e
    for pid in $helper_pid $applier_pid $empty_pid $sleep_pid; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    ovs_db_stop
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the helper ---------------------------------------------------------------
# shellcheck disable=SC2046 # pkg-config output is a list of flags
cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -I"$root/include" \
    $(pkg-config --cflags jansson) "$root/bench/applier-latency.c" \
    "$build_dir/libexportflows.a" $(pkg-config --libs jansson) -o "$work/applier-latency"

# ---- OVSDB, the config directory, the applier ----------------------------------
mkdir "$work/ovs" "$work/cm"
ovs_db_start "$work/ovs" >/dev/null || { say "cannot start ovsdb-server"; exit 1; }
ovs_vsctl add-br br-int -- add-br br-base

# Version 0, as the helper writes versions 1..N: IPFIX sampling 1000 + version.
mkdir "$work/cm/..bench0"
cat >"$work/cm/..bench0/config.json" <<'EOF'
{"generation": 100,
 "netFlow": {"collectors": ["192.0.2.10:2056"], "activeTimeout": 60},
 "sFlow": {"collectors": ["192.0.2.10:6343"], "agent": "ovn-k8s-mp0", "header": 128, "sampling": 64, "polling": 10},
 "ipfix": {"collectors": ["192.0.2.10:4739"], "sampling": 1000, "cacheActiveTimeout": 60, "cacheMaxFlows": 0, "obsDomainID": 123, "obsPointID": 456}}
EOF
ln -s ..bench0 "$work/cm/..data"
ln -s ..data/config.json "$work/cm/config.json"

"$applier_bin" --config-file "$work/cm/config.json" --ovsdb "$OVS_DB" --bridge br-int \
    --node-ip 10.0.0.9 --health-listen "$health" --log-level info \
    >"$work/applier.log" 2>&1 &
applier_pid=$!

# ---- measure ---------------------------------------------------------------------
started=$(date +%s)
# In the background, so that a signal interrupts the wait and the traps run now.
"$work/applier-latency" --ovsdb "$OVS_DB" --config-dir "$work/cm" --changes "$changes" \
    --drifts "$drifts" --gap-ms "$gap_ms" >"$work/samples.txt" &
helper_pid=$!
if ! wait "$helper_pid"; then
    helper_pid=
    say "measurement failed; applier log:"
    cat "$work/applier.log" >&2
    exit 1
fi
helper_pid=
elapsed=$(( $(date +%s) - started ))
kill -0 "$applier_pid" 2>/dev/null || { say "the applier died:"; cat "$work/applier.log" >&2; exit 1; }

# ---- memory: the applier after the run, next to two reference processes ---------
# The empty program: main() { pause(); } with the applier's DT_NEEDED libraries.
printf '#include <unistd.h>\nint main(void) { pause(); return 0; }\n' >"$work/empty.c"
# shellcheck disable=SC2046 # one -l:LIB per library
cc -O2 -o "$work/empty" "$work/empty.c" -Wl,--no-as-needed $(readelf -d "$applier_bin" |
    awk '$2 == "(NEEDED)" { gsub(/[][]/, "", $5); printf " -l:%s", $5 }')
"$work/empty" &
empty_pid=$!
sleep 60 &
sleep_pid=$!
sleep 0.2
# mem PID: VmHWM VmRSS RssAnon RssFile (/proc/PID/status) and Pss
# (/proc/PID/smaps_rollup: shared library pages divided among their users), KiB.
mem() {
    awk '$1 ~ /^(VmHWM|VmRSS|RssAnon|RssFile):$/ { v[$1] = $2 }
        END { printf "%s %s %s %s", v["VmHWM:"], v["VmRSS:"], v["RssAnon:"], v["RssFile:"] }' \
        "/proc/$1/status"
    awk '$1 == "Pss:" { p = $2 } END { printf " %s\n", p ? p : "-" }' \
        "/proc/$1/smaps_rollup" 2>/dev/null || echo " -"
}
# top_mappings PID N: the N mappings holding the most RSS, "name KiB, ...".
top_mappings() {
    awk '/^[0-9a-f]+-[0-9a-f]+ / { name = NF >= 6 ? $6 : "[anon]"; sub(/.*\//, "", name) }
        $1 == "Rss:" { rss[name] += $2 }
        END { for (n in rss) print rss[n], n }' "/proc/$1/smaps" |
        sort -rn | head -n "$2" | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 } END { print "" }'
}
ovsdb_pid=$(cat "$work/ovs/ovsdb-server.pid")
read -r applier_hwm applier_rss applier_anon applier_file applier_pss < <(mem "$applier_pid")
read -r ovsdb_hwm ovsdb_rss ovsdb_anon ovsdb_file ovsdb_pss < <(mem "$ovsdb_pid")
read -r empty_hwm empty_rss empty_anon empty_file empty_pss < <(mem "$empty_pid")
read -r sleep_hwm sleep_rss sleep_anon sleep_file sleep_pss < <(mem "$sleep_pid")
applier_top=$(top_mappings "$applier_pid" 8)
applier_nlibs=$(awk '$6 ~ /\.so/ { print $6 }' "/proc/$applier_pid/maps" | sort -u | wc -l)

# ---- figures -------------------------------------------------------------------
# pct P KIND [FIELD]: nearest-rank P-th percentile of the samples of KIND, in ms.
pct() {
    awk -v k="$2" -v f="${3:-2}" '$1 == k && $f != "-" { print $f }' "$work/samples.txt" |
        bench_percentile "$1" 1000
}
count() { awk -v k="$1" '$1 == k { n++ } END { print n + 0 }' "$work/samples.txt"; }

# The applier's own send -> reply time of each config transaction (not drift).
sed -n '/applied flow export/{/drift=false/s/.*duration_us=\([0-9]*\).*/tx \1/p}' \
    "$work/applier.log" | tail -n "$changes" >>"$work/samples.txt"

[ -n "$samples_out" ] && cp "$work/samples.txt" "$samples_out"
folded=$(awk '$1 == "drift" && $3 == "-" { n++ } END { print n + 0 }' "$work/samples.txt")
a50=$(pct 50 applier); a99=$(pct 99 applier)
v50=$(pct 50 vsctl); v99=$(pct 99 vsctl)
d50=$(pct 50 drift); d99=$(pct 99 drift)
r50=$(pct 50 drift 3); r99=$(pct 99 drift 3)
t50=$(pct 50 tx); t99=$(pct 99 tx)

printf 'machine: %s cores, %s; load average %s\n' "$(nproc)" \
    "$(bench_cpu_model)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'run: %s config changes alternating with %s ovs-vsctl changes, then %s drift repairs, %s ms apart; %s s; applier health server %s\n' \
    "$(count applier)" "$(count vsctl)" "$(count drift)" "$gap_ms" "$elapsed" "$health"
printf '%-44s %9s %9s %14s\n' 'latency to committed in OVSDB (ms)' p50 p99 'ratio p50/p99'
printf '%-44s %9s %9s %14s\n' 'applier: config swap -> OVS' "$a50" "$a99" \
    "$(ratio "$a50" "$v50")/$(ratio "$a99" "$v99")"
printf '%-44s %9s %9s %14s\n' "  applier's transaction send -> reply" "$t50" "$t99" ''
printf '%-44s %9s %9s %14s\n' 'baseline: ovs-vsctl same change -> OVS' "$v50" "$v99" '1.00/1.00'
printf '%-44s %9s %9s %14s\n' 'drift: ovs-vsctl clear -> repaired' "$d50" "$d99" \
    "$(ratio "$d50" "$v50")/$(ratio "$d99" "$v99")"
printf '%-44s %9s %9s %14s\n' '  clear seen -> repair seen (applier alone)' "$r50" "$r99" ''
[ "$folded" = 0 ] ||
    printf '  (%s of the clears reached the monitor in the same update as their repair)\n' "$folded"
row() { printf '%-44s %9s %9s %9s %9s %9s\n' "$@"; }
row 'memory (KiB)' VmHWM VmRSS RssAnon RssFile Pss
row applier "$applier_hwm" "$applier_rss" "$applier_anon" "$applier_file" "$applier_pss"
row ovsdb-server "$ovsdb_hwm" "$ovsdb_rss" "$ovsdb_anon" "$ovsdb_file" "$ovsdb_pss"
row 'empty program, same libraries' "$empty_hwm" "$empty_rss" "$empty_anon" "$empty_file" "$empty_pss"
row 'sleep(1)' "$sleep_hwm" "$sleep_rss" "$sleep_anon" "$sleep_file" "$sleep_pss"
printf 'applier RSS by mapping (KiB): %s; %s shared libraries mapped\n' "$applier_top" "$applier_nlibs"
printf 'peak RSS ratios: applier / empty program %s (+%s KiB), / ovsdb-server %s, / sleep(1) %s\n' \
    "$(ratio "$applier_hwm" "$empty_hwm")" "$((applier_hwm - empty_hwm))" \
    "$(ratio "$applier_hwm" "$ovsdb_hwm")" "$(ratio "$applier_hwm" "$sleep_hwm")"
printf 'goal: config change -> OVS p99 < 50 ms: %s (%s ms)\n' \
    "$(verdict "$(awk -v x="$a99" 'BEGIN { print (x < 50) }')")" "$a99"
printf 'goal: applier RSS < 4 MiB: %s (peak RSS %s KiB, of which %s KiB anonymous; Pss %s KiB)\n' \
    "$(verdict "$(awk -v k="$applier_hwm" 'BEGIN { print (k < 4096) }')")" \
    "$applier_hwm" "$applier_anon" "$applier_pss"
