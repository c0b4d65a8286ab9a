#!/usr/bin/env bash
# bench/cluster.sh — exportflows on a real control plane: how long from
# `kubectl apply` of the Network to every node's OVS rows, for 3 and for 50
# simulated nodes; how many API requests an idle applier makes; how much memory
# the webhook and an applier hold while watching.
#
# tests/system/lib-cluster.sh brings up etcd + kube-apiserver (tests/k8s), the
# test Network CRD, the manifests' ServiceAccounts and RBAC and
# exportflows-webhook (registered by URL, publishing the ConfigMap).  For each
# node count N, one ovsdb-server holds bridges br-0..br-N-1 and N
# exportflows-applier processes (one per bridge, the ServiceAccount
# exportflows-applier) watch the ConfigMap.  A Python helper (written below)
# is one more OVSDB client monitoring Bridge and NetFlow, and one more API
# client watching the ConfigMap; it times with CLOCK_MONOTONIC, for each of
# CHANGES changes of the NetFlow collector's port:
#   apply      kubectl apply of the Network: spawn -> exit (webhook included);
#   configmap  spawn -> the ConfigMap update with the new collector seen on a
#              watch (the publisher alone: the baseline for the appliers);
#   converged  spawn -> the last of the N bridges pointing at a NetFlow row
#              with the new collector (every node's OVS committed);
#   plain      kubectl apply of a plain ConfigMap: spawn -> exit (kubectl and
#              the API server alone, no webhook).
# Then, with N=50 and nothing changing for IDLE seconds, the API requests the
# appliers (and the publisher) made, from kube-apiserver's
# apiserver_flowcontrol_dispatched_requests_total of a FlowSchema per
# ServiceAccount; and VmRSS/VmHWM/RssAnon/Pss of the webhook and of the
# appliers, next to one applier reading the same config from a file
# (--config-file, no Kubernetes client) as the baseline.
# p50/p99 are nearest rank (p99 of 20 samples is the largest).  Goals (issue
# 4): converged p99 under 1 s at 50 nodes; applier RSS under 4 MiB.  They are
# reported, not enforced.  About 3 minutes with the defaults.
#
# Usage: bench/cluster.sh [-n CHANGES] [--nodes "3 50"] [--idle SECONDS] [--gap-ms MS]
#                         [--samples FILE]
# Needs: what tests/system/k8s-e2e.sh needs (Go for the first control-plane build).
set -euo pipefail

changes=20
node_counts="3 50"
idle=120
gap_ms=300
samples_out=
while [ $# -gt 0 ]; do
    case "$1" in
    -n) changes=$2; shift 2 ;;
    --nodes) node_counts=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --gap-ms) gap_ms=$2; shift 2 ;;
    --samples) samples_out=$2; shift 2 ;;
    *) echo "usage: $0 [-n CHANGES] [--nodes \"3 50\"] [--idle SECONDS] [--gap-ms MS] [--samples FILE]" >&2
       exit 2 ;;
    esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
[ -n "${EXPORTFLOWS_BIN_DIR:-}" ] || make -s programs >/dev/null
# shellcheck source=tests/system/lib-cluster.sh
. "$root/tests/system/lib-cluster.sh"
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/exportflows-bench-cluster.XXXXXX")
cleanup() {
    local rc=$?
    set +e
    [ -n "${file_pid:-}" ] && kill "$file_pid" 2>/dev/null && wait "$file_pid" 2>/dev/null
    cluster_down
    if [ $rc != 0 ]; then
        cluster_show_logs 10
        say "files kept in $work"
    else
        rm -rf "$work"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the measuring helper ----------------------------------------------------------
cat >"$work/measure.py" <<'PYEOF'
"""Times kubectl apply -> ConfigMap -> every bridge's NetFlow row (see bench/cluster.sh)."""
import http.client, json, os, socket, ssl, subprocess, sys, threading, time

ovsdb_sock, nbridges, changes, gap_ms, first_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
kubectl = [os.environ["K8S_BIN_DIR"] + "/kubectl", "--kubeconfig", os.environ["KUBECONFIG"]]
HOST = "172.30.158.150"
cond = threading.Condition()
bridges = {}      # bridge uuid -> (name, netflow uuid or None)
netflows = {}     # netflow uuid -> frozenset of targets
want = None       # frozenset the bridges must reach
reached = None    # monotonic ns when they did
cm_events = []    # (monotonic ns, frozenset of NetFlow collectors in the ConfigMap)

def now():
    return time.monotonic_ns()

def atoms(v):
    return v[1] if isinstance(v, list) and v and v[0] == "set" else [v]

def converged():
    if len(bridges) < nbridges:
        return False
    for name, nf in bridges.values():
        if nf is None or netflows.get(nf) != want:
            return False
    return True

def apply_updates(upd):
    global reached
    for uuid, ch in upd.get("NetFlow", {}).items():
        if "new" in ch:
            netflows[uuid] = frozenset(atoms(ch["new"]["targets"]))
        else:
            netflows.pop(uuid, None)
    for uuid, ch in upd.get("Bridge", {}).items():
        if "new" in ch:
            ref = atoms(ch["new"]["netflow"])
            bridges[uuid] = (ch["new"]["name"], ref[0][1] if ref else None)
        else:
            bridges.pop(uuid, None)
    if want is not None and reached is None and converged():
        reached = now()
        cond.notify_all()

def ovsdb_monitor():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(ovsdb_sock)
    s.sendall(json.dumps({"id": 0, "method": "monitor", "params": ["Open_vSwitch", None,
        {"Bridge": {"columns": ["name", "netflow"]}, "NetFlow": {"columns": ["targets"]}}]}).encode())
    dec, buf = json.JSONDecoder(), ""
    while True:
        data = s.recv(1 << 20)
        if not data:
            return
        t = now()
        buf += data.decode()
        while True:
            buf = buf.lstrip()
            try:
                msg, end = dec.raw_decode(buf)
            except ValueError:
                break
            buf = buf[end:]
            if msg.get("method") == "echo":
                s.sendall(json.dumps({"id": msg["id"], "result": msg["params"]}).encode())
            elif msg.get("id") == 0:
                with cond:
                    apply_updates(msg["result"])
            elif msg.get("method") == "update":
                with cond:
                    apply_updates(msg["params"][1])

def configmap_watch():
    url = os.environ["APISERVER_URL"].split("//")[1]
    host, port = url.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=os.environ["K8S_CA_CERT"])
    ctx.load_cert_chain(os.environ["K8S_ADMIN_CERT"], os.environ["K8S_ADMIN_KEY"])
    conn = http.client.HTTPSConnection(host, int(port), context=ctx)
    conn.request("GET", "/api/v1/namespaces/exportflows/configmaps?watch=1"
                 "&fieldSelector=metadata.name%3Dexportflows-config&timeoutSeconds=3600")
    resp = conn.getresponse()
    while True:
        line = resp.readline()
        if not line:
            return
        t = now()
        ev = json.loads(line)
        try:
            cfg = json.loads(ev["object"]["data"]["config.json"])
            nf = frozenset(cfg.get("netFlow", {}).get("collectors", []))
        except (KeyError, ValueError):
            nf = frozenset()
        with cond:
            cm_events.append((t, nf))
            cond.notify_all()

def network(port):
    return ("apiVersion: operator.openshift.io/v1\nkind: Network\nmetadata:\n  name: cluster\n"
            "spec:\n  defaultNetwork: {type: OVNKubernetes}\n"
            "  exportNetworkFlows: {netFlow: {collectors: [\"%s:%d\"]}}\n" % (HOST, port))

def kubectl_apply(doc):
    t = now()
    subprocess.run(kubectl + ["apply", "-f", "-"], input=doc.encode(), check=True,
                   stdout=subprocess.DEVNULL)
    return now() - t

def change(port, timeout_s=30):
    """Applies the Network with NetFlow to port; returns (t0, apply ns, converged at)."""
    global want, reached
    with cond:
        want, reached = frozenset(["%s:%d" % (HOST, port)]), None
    t0 = now()
    took = kubectl_apply(network(port))
    with cond:
        if not cond.wait_for(lambda: reached is not None, timeout_s):
            sys.exit("bench: the bridges did not converge to port %d within %d s" % (port, timeout_s))
        return t0, took, reached

threading.Thread(target=ovsdb_monitor, daemon=True).start()
threading.Thread(target=configmap_watch, daemon=True).start()
# Change 0 is not timed: it waits until every applier has connected and applied.
change(first_port - 1, timeout_s=120)
for i in range(changes):
    time.sleep(gap_ms / 1000)
    port = first_port + i
    t0, took, conv = change(port)
    with cond:
        target = frozenset(["%s:%d" % (HOST, port)])
        cond.wait_for(lambda: any(nf == target and t > t0 for t, nf in cm_events), 10)
        cm = next((t for t, nf in cm_events if nf == target and t > t0), None)
    plain = kubectl_apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench-plain\n"
                          "  namespace: default\ndata:\n  port: \"%d\"\n" % port)
    ms = lambda ns: "%.2f" % (ns / 1e6)
    print("apply", ms(took))
    print("configmap", ms(cm - t0) if cm else "-")
    print("converged", ms(conv - t0))
    print("after_return", ms(conv - t0 - took))
    print("plain", ms(plain))
    sys.stdout.flush()
PYEOF

# ---- helpers -------------------------------------------------------------------------
# pct P KIND FILE: nearest-rank P-th percentile of the samples of KIND, in ms.
pct() {
    awk -v k="$2" '$1 == k && $2 != "-" { print $2 }' "$3" | bench_percentile "$1"
}
# mem PID: VmRSS VmHWM RssAnon Pss in KiB.
mem() {
    awk '$1 ~ /^(VmHWM|VmRSS|RssAnon):$/ { v[$1] = $2 }
        END { printf "%s %s %s", v["VmRSS:"], v["VmHWM:"], v["RssAnon:"] }' "/proc/$1/status"
    awk '$1 == "Pss:" { p = $2 } END { printf " %s\n", p ? p : "-" }' "/proc/$1/smaps_rollup"
}
# median_max COLUMN FILE: "median max" of a column of numbers.
median_max() {
    awk -v c="$1" '{ print $c }' "$2" | sort -n |
        awk '{ v[NR] = $1 } END { printf "%s %s\n", v[int((NR + 1) / 2)], v[NR] }'
}

# ---- run -----------------------------------------------------------------------------
started=$(date +%s)
say "control plane and webhook (work dir $work)"
cluster_up "$work/cluster" >/dev/null 2>"$work/up.err" || { cat "$work/up.err" >&2; exit 1; }
export KUBECONFIG=$CLUSTER_DIR/cp/kubeconfig

: >"$work/summary"
first_port=3000
for n in $node_counts; do
    bridges=()
    for i in $(seq 0 $((n - 1))); do bridges+=("br-$i"); done
    say "$n nodes: ovsdb-server with ${#bridges[@]} bridges, $n appliers"
    cluster_ovsdb_start "n$n" "${bridges[@]}"
    db=$CLUSTER_OVSDB
    for i in $(seq 0 $((n - 1))); do
        cluster_applier_start "n$n-$i" "192.0.2.$((i % 250 + 1))" "$db" "br-$i" --health-listen none
    done
    say "$n nodes: $changes changes, $gap_ms ms apart"
    "$CLUSTER_PYTHON" "$work/measure.py" "${db#unix:}" "$n" "$changes" "$gap_ms" "$first_port" \
        >"$work/samples-$n.txt"
    first_port=$((first_port + changes + 1))
    [ -n "$samples_out" ] && sed "s/^/$n /" "$work/samples-$n.txt" >>"$samples_out"
    for i in $(seq 0 $((n - 1))); do
        cluster_alive "applier-n$n-$i" || { say "applier n$n-$i died"; exit 1; }
    done

    if [ "$n" = "$(awk '{ print $NF }' <<<"$node_counts")" ]; then
        # Idle: nothing changes; count what the appliers and the publisher ask.
        # The status writes that follow the last change are not idle traffic.
        sleep 10
        say "$n nodes idle for $idle s"
        a0=$(cluster_requests exportflows-applier); w0=$(cluster_requests exportflows-webhook)
        sleep "$idle"
        a1=$(cluster_requests exportflows-applier); w1=$(cluster_requests exportflows-webhook)
        idle_applier=$(awk -v d=$((a1 - a0)) -v n="$n" -v s="$idle" 'BEGIN { printf "%.1f", d / n / s * 3600 }')
        idle_webhook=$(awk -v d=$((w1 - w0)) -v s="$idle" 'BEGIN { printf "%.1f", d / s * 3600 }')
        idle_raw="$((a1 - a0)) requests from $n appliers and $((w1 - w0)) from the publisher in $idle s"
        # Memory while watching.
        : >"$work/applier-mem"
        for i in $(seq 0 $((n - 1))); do mem "${CLUSTER_PID[applier-n$n-$i]}" >>"$work/applier-mem"; done
        read -r wh_rss wh_hwm wh_anon wh_pss < <(mem "${CLUSTER_PID[webhook]}")
        # Baseline: one applier reading the same config from a file.
        cluster_kubectl -n exportflows get configmap exportflows-config \
            -o jsonpath='{.data.config\.json}' >"$work/config.json"
        "$CLUSTER_BIN/exportflows-applier" --config-file "$work/config.json" --ovsdb "$db" \
            --bridge br-0 --node-ip 192.0.2.1 --node-name file --health-listen none \
            >"$work/file-applier.log" 2>&1 &
        file_pid=$!
        sleep 2
        read -r fa_rss fa_hwm fa_anon fa_pss < <(mem "$file_pid")
        kill "$file_pid"; wait "$file_pid" || true; file_pid=
    fi

    for i in $(seq 0 $((n - 1))); do
        cluster_stop_process "applier-n$n-$i" || say "applier n$n-$i exited with $?"
    done
done
elapsed=$(( $(date +%s) - started ))

# ---- figures -------------------------------------------------------------------------
printf 'machine: %s cores, %s; load average %s; %s\n' "$(nproc)" \
    "$(bench_cpu_model)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$("$K8S_BIN_DIR/kubectl" version --client -o json |
        jq -r '.clientVersion.gitVersion') control plane"
printf 'run: %s changes per node count, %s ms apart, identity %s; %s s in all\n\n' \
    "$changes" "$gap_ms" "$CLUSTER_IDENTITY" "$elapsed"
printf '| ms, p50 / p99 | %s |\n|---|%s\n' \
    "$(for n in $node_counts; do printf '%s nodes | ' "$n"; done | sed 's/ | $//')" \
    "$(for n in $node_counts; do printf -- '---|'; done)"
row() {
    local label=$1 kind=$2 n
    printf '| %s |' "$label"
    for n in $node_counts; do
        printf ' %s / %s |' "$(pct 50 "$kind" "$work/samples-$n.txt")" "$(pct 99 "$kind" "$work/samples-$n.txt")"
    done
    echo
}
row "kubectl apply -> all nodes' OVS committed" converged
row "  of which after kubectl apply returned" after_return
row "baseline: kubectl apply -> ConfigMap published" configmap
row "kubectl apply of the Network (spawn -> exit)" apply
row "kubectl apply of a plain ConfigMap (spawn -> exit)" plain
printf '| ratio converged / ConfigMap published |'
for n in $node_counts; do
    f=$work/samples-$n.txt
    printf ' %s / %s |' "$(ratio "$(pct 50 converged "$f")" "$(pct 50 configmap "$f")")" \
        "$(ratio "$(pct 99 converged "$f")" "$(pct 99 configmap "$f")")"
done
echo
last=$(awk '{ print $NF }' <<<"$node_counts")
c99=$(pct 99 converged "$work/samples-$last.txt")
echo
echo "idle API requests ($idle_raw):"
echo "  per applier per hour: $idle_applier; publisher per hour: $idle_webhook"
echo
read -r am_rss ax_rss < <(median_max 1 "$work/applier-mem")
read -r _ ax_hwm < <(median_max 2 "$work/applier-mem")
read -r am_anon _ < <(median_max 3 "$work/applier-mem")
read -r am_pss _ < <(median_max 4 "$work/applier-mem")
printf '| KiB, while watching | VmRSS | VmHWM | RssAnon | Pss |\n|---|---|---|---|---|\n'
printf '| exportflows-applier, Kubernetes mode (median / max of %s) | %s / %s | max %s | %s | %s |\n' \
    "$last" "$am_rss" "$ax_rss" "$ax_hwm" "$am_anon" "$am_pss"
printf '| baseline: exportflows-applier --config-file, same config | %s | %s | %s | %s |\n' \
    "$fa_rss" "$fa_hwm" "$fa_anon" "$fa_pss"
printf '| exportflows-webhook with the publisher | %s | %s | %s | %s |\n' \
    "$wh_rss" "$wh_hwm" "$wh_anon" "$wh_pss"
printf '| ratio applier Kubernetes / file (VmRSS median) | %s | | | |\n' "$(ratio "$am_rss" "$fa_rss")"
echo
goal() { awk -v ok="$1" 'BEGIN { print (ok ? "met" : "NOT met") }'; }
echo "goals: converged p99 at $last nodes under 1000 ms: $(goal "$(awk -v v="$c99" 'BEGIN { print (v != "-" && v < 1000) }')") ($c99 ms);" \
    "applier RSS under 4096 KiB: $(goal "$(awk -v v="$ax_hwm" 'BEGIN { print (v < 4096) }')") (VmHWM max $ax_hwm KiB)"
