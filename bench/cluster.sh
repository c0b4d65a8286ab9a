#!/usr/bin/env bash
# bench/cluster.sh — exportflows on a real control plane at 3, 50 and 250
# simulated nodes: how long from `kubectl apply` of the Network to every
# node's OVS rows; how many API requests the appliers make per change and when
# idle; how much memory and CPU each part takes.
#
# tests/system/lib-cluster.sh brings up etcd + kube-apiserver (tests/k8s), the
# released Network CRD, the manifests' ServiceAccounts and RBAC and
# exportflows-webhook (registered by URL, publishing the ConfigMap).  For each
# node count N, N nodes are simulated: each an ovsdb-server of its own (real
# vswitch schema, a br-int bridge, unix socket in its own directory; no
# ovs-vswitchd) and an exportflows-applier on it (ServiceAccount
# exportflows-applier, status Lease on, no health listener), started in
# batches, each batch waited for until every applier in it has logged an
# applied config.  A Python helper (written below) is one more OVSDB client
# of every node's ovsdb-server, monitoring Bridge and NetFlow, and one more
# API client watching the ConfigMap; it times with CLOCK_MONOTONIC, for each of
# CHANGES changes of the NetFlow collector's port:
#   apply      kubectl apply of the Network: spawn -> exit (webhook included);
#   configmap  spawn -> the ConfigMap update with the new collector seen on a
#              watch (the publisher alone: the baseline for the appliers);
#   first      spawn -> the first node's br-int pointing at a NetFlow row with
#              the new collector;
#   converged  spawn -> the last node's (every node's OVS committed);
#   plain      kubectl apply of a plain ConfigMap: spawn -> exit (kubectl and
#              the API server alone, no webhook).
# Around the changes: the API requests of each ServiceAccount (kube-apiserver's
# apiserver_flowcontrol_dispatched_requests_total of a FlowSchema per
# ServiceAccount), the appliers' requests refused or queued by API Priority
# and Fairness, and the CPU time and run-queue wait of each part
# (/proc/PID/task/*/schedstat).  Then, nothing changing for IDLE seconds, the
# same counters again, and the audit log (on unless --no-audit) split by user,
# verb and resource; then VmRSS/VmHWM and Pss (/proc/PID/smaps_rollup) of the
# appliers, the ovsdb-servers, the webhook, kube-apiserver and etcd, beside
# one applier reading the same config from a file (--config-file, no
# Kubernetes client).  Results: docs/PERFORMANCE.md.
# p50/p99 are nearest rank (p99 of 20 samples is the largest).  Goal (issue
# 9): converged p99 under 1 s at 250 nodes; reported, not enforced.
#
# Usage: bench/cluster.sh [-n CHANGES] [--nodes "3 50 250"] [--idle SECONDS]
#                         [--gap-ms MS] [--batch N] [--no-audit]
#                         [--apiserver-args "FLAGS"] [--applier-args "FLAGS"]
#                         [--samples FILE] [--ovnkube]
# --ovnkube: after the last change, the network operator's roll of
# ovnkube-node with the stand-in of tests/system/lib-ovnkube.sh: batches of
# ceil(N/10) nodes (maxUnavailable 10%), each node's "restart" one replay of
# ovnkube-node's start-up writes with the last change's collector, run at once
# across the batch; the next batch once each node of this one is at the
# desired row and its ovsdb-server has been quiet for 1 s.  Reported per
# restart, from the helper's OVSDB monitor: the applier's transactions (an
# update carrying a NetFlow row with the applier's owner mark) and all
# transactions; the time from the replay's spawn to the node's last update
# (its rows as desired again) beside the replay's own spawn -> exit, and
# their ratio; how long br-int had no NetFlow row with the collector.  The roll runs inside the changes' window: with --ovnkube the
# per-change CPU figures include it.  Without it nothing of this runs.
# About 9 minutes with the defaults on 2 busy cores.
# Needs: what tests/system/k8s-e2e.sh needs (Go for the first control-plane
# build), 2 file descriptors and 2 processes per node (it raises `ulimit -n`).
set -euo pipefail

changes=20
node_counts="3 50 250"
idle=120
gap_ms=300
batch=25
audit=1
apiserver_args=
applier_args=
samples_out=
ovnkube=
usage() {
    echo "usage: $0 [-n CHANGES] [--nodes \"3 50 250\"] [--idle SECONDS] [--gap-ms MS]" \
        "[--batch N] [--no-audit] [--apiserver-args FLAGS] [--applier-args FLAGS]" \
        "[--samples FILE] [--ovnkube]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case "$1" in
    -n) changes=$2; shift 2 ;;
    --nodes) node_counts=$2; shift 2 ;;
    --idle) idle=$2; shift 2 ;;
    --gap-ms) gap_ms=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --no-audit) audit=0; shift ;;
    --apiserver-args) apiserver_args=$2; shift 2 ;;
    --applier-args) applier_args=$2; shift 2 ;;
    --samples) samples_out=$2; shift 2 ;;
    --ovnkube) ovnkube=1; shift ;;
    *) usage ;;
    esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
[ -n "${EXPORTFLOWS_BIN_DIR:-}" ] || make -s programs >/dev/null
# shellcheck source=tests/system/lib-cluster.sh
. "$root/tests/system/lib-cluster.sh"
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

# Every node holds a TLS connection to kube-apiserver (one fd there, one in
# the applier) and an OVSDB connection to its ovsdb-server (one fd in the
# helper): raise the soft limit to the hard one for everything started here.
max_nodes=$(tr ' ' '\n' <<<"$node_counts" | sort -n | tail -n 1)
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((4 * max_nodes + 1024)) ]; then
    say "ulimit -n is $(ulimit -n): too few file descriptors for $max_nodes nodes"
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/exportflows-bench-cluster.XXXXXX")
measure_pid=
file_pid=
cleanup() {
    local rc=$?
    set +e
    trap - INT TERM
    [ -n "$measure_pid" ] && kill "$measure_pid" 2>/dev/null && wait "$measure_pid" 2>/dev/null
    [ -n "$file_pid" ] && kill "$file_pid" 2>/dev/null && wait "$file_pid" 2>/dev/null
    say "stopping ${#CLUSTER_PID[@]} processes, ${#CLUSTER_OVSDB_DIRS[@]} ovsdb-servers and the control plane"
    cluster_down
    if [ $rc != 0 ]; then
        cluster_show_logs 10 2>&1 | tail -n 200 >&2
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
"""Times kubectl apply -> ConfigMap -> every node's br-int NetFlow row (see bench/cluster.sh)."""
import http.client, json, os, selectors, socket, ssl, subprocess, sys, threading, time

sock_list, changes, gap_ms, first_port, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
# --ovnkube: the directory of lib-ovnkube.sh (else no roll).
ovnkube_lib = sys.argv[6] if len(sys.argv) > 6 else ""
with open(sock_list) as f:
    socks = [line.strip() for line in f if line.strip()]
n = len(socks)
kubectl = [os.environ["K8S_BIN_DIR"] + "/kubectl", "--kubeconfig", os.environ["KUBECONFIG"]]
HOST = "172.30.158.150"
BRIDGE = "br-int"
cond = threading.Condition()
want = None       # frozenset of targets every node must reach
matched = set()   # nodes whose br-int shows want
first = None      # monotonic ns of the first node reaching want
reached = None    # monotonic ns of the last
cm_events = []    # (monotonic ns, frozenset of NetFlow collectors in the ConfigMap)

def now():
    return time.monotonic_ns()

def atoms(v):
    return v[1] if isinstance(v, list) and v and v[0] == "set" else [v]

class Node:
    def __init__(self, i, path):
        self.i, self.buf, self.bridge_nf, self.netflows = i, "", None, {}
        self.path, self.last_update, self.updates, self.owned_updates = path, 0, 0, 0
        self.off_at, self.off_ns = None, 0  # since when not at want; ns not at want so far
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.s.sendall(json.dumps({"id": 0, "method": "monitor", "params": ["Open_vSwitch", None,
            {"Bridge": {"columns": ["name", "netflow"]},
             "NetFlow": {"columns": ["targets"] + (["external_ids"] if ovnkube_lib else [])}}]}).encode())

    def at_want(self):
        return want is not None and self.bridge_nf is not None and self.netflows.get(self.bridge_nf) == want

    def update(self, upd, t):
        global first, reached
        # One update a transaction: the applier's carry its owner mark on the
        # NetFlow row they write (the stand-in's never do).
        self.last_update = t
        self.updates += 1
        if any("exportflows-owner" in str(ch.get("new", {}).get("external_ids", ""))
               for ch in upd.get("NetFlow", {}).values()):
            self.owned_updates += 1
        for uuid, ch in upd.get("NetFlow", {}).items():
            if "new" in ch:
                self.netflows[uuid] = frozenset(atoms(ch["new"]["targets"]))
            else:
                self.netflows.pop(uuid, None)
        for uuid, ch in upd.get("Bridge", {}).items():
            if "new" in ch and ch["new"]["name"] == BRIDGE:
                ref = atoms(ch["new"]["netflow"])
                self.bridge_nf = ref[0][1] if ref else None
        if self.at_want():
            if self.off_at is not None:
                self.off_ns += t - self.off_at
                self.off_at = None
            if self.i not in matched:
                matched.add(self.i)
                if first is None:
                    first = t
                if len(matched) == n and reached is None:
                    reached = t
                    cond.notify_all()
        else:
            if self.off_at is None:
                self.off_at = t
            matched.discard(self.i)

    def read(self, dec):
        data = self.s.recv(1 << 20)
        if not data:
            sys.exit("bench: ovsdb-server of node %d closed the connection" % self.i)
        t = now()
        self.buf += data.decode()
        while True:
            self.buf = self.buf.lstrip()
            try:
                msg, end = dec.raw_decode(self.buf)
            except ValueError:
                return
            self.buf = self.buf[end:]
            if msg.get("method") == "echo":
                self.s.sendall(json.dumps({"id": msg["id"], "result": msg["params"]}).encode())
            elif msg.get("id") == 0:
                with cond:
                    self.update(msg["result"], t)
            elif msg.get("method") == "update":
                with cond:
                    self.update(msg["params"][1], t)
                    if ovnkube_lib:
                        cond.notify_all()

def ovsdb_monitor(nodes):
    sel, dec = selectors.DefaultSelector(), json.JSONDecoder()
    for node in nodes:
        sel.register(node.s, selectors.EVENT_READ, node)
    while True:
        for key, _ in sel.select():
            key.data.read(dec)

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

def ms(ns):
    return "%.2f" % (ns / 1e6)

def change(port, timeout_s=60):
    """Applies the Network with NetFlow to port; returns (t0, apply ns, first, converged)."""
    global want, first, reached
    with cond:
        want, first, reached = frozenset(["%s:%d" % (HOST, port)]), None, None
        matched.clear()
        matched.update(node.i for node in nodes if node.at_want())
        if len(matched) == n:
            first = reached = now()
    t0 = now()
    took = kubectl_apply(network(port))
    with cond:
        if not cond.wait_for(lambda: reached is not None, timeout_s):
            sys.exit("bench: %d of %d nodes reached port %d within %d s"
                     % (len(matched), n, port, timeout_s))
        return t0, took, first, reached

nodes = [Node(i, p) for i, p in enumerate(socks)]
threading.Thread(target=ovsdb_monitor, args=(nodes,), daemon=True).start()
threading.Thread(target=configmap_watch, daemon=True).start()
# Change 0 is not timed: it checks that every node follows.
change(first_port - 1, timeout_s=120)
print("ready", flush=True)
# The script takes its "before" counters, then creates the file 'go'.
deadline = time.monotonic() + 120
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("bench: no go from the script")
    time.sleep(0.01)
for i in range(changes):
    time.sleep(gap_ms / 1000)
    port = first_port + i
    t0, took, fst, conv = change(port)
    with cond:
        target = frozenset(["%s:%d" % (HOST, port)])
        cond.wait_for(lambda: any(nf == target and t > t0 for t, nf in cm_events), 10)
        cm = next((t for t, nf in cm_events if nf == target and t > t0), None)
    plain = kubectl_apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench-plain\n"
                          "  namespace: default\ndata:\n  port: \"%d\"\n" % port)
    print("apply", ms(took))
    print("configmap", ms(cm - t0) if cm else "-")
    print("first", ms(fst - t0))
    print("converged", ms(conv - t0))
    print("after_return", ms(conv - t0 - took))
    print("spread", ms(conv - fst))
    print("plain", ms(plain))
    sys.stdout.flush()

def roll(port, quiet_s=1.0, timeout_s=120):
    """The network operator rolling ovnkube-node after the last change: batches
    of ceil(n/10) nodes (maxUnavailable 10%), each node's "restart" the stand-in
    replay with the last change's collector; a batch is done when each of its
    nodes is at the desired row and its OVSDB has been quiet for quiet_s.
    Prints per node: standin (replay spawn -> exit), recovered (replay spawn ->
    the node's last OVSDB update, the rows as desired), applier_tx and
    all_tx (transactions seen on the node from replay spawn on), unexported
    (how long br-int had no NetFlow row with the collector)."""
    script = ('. "$1/lib-ovs.sh"; . "$1/lib-ovnkube.sh"; '
              'ovnkube_start "unix:$2" "$3" "$4" "" ""')
    size = -(-n // 10)
    collector = "%s:%d" % (HOST, port)
    for b in range(0, n, size):
        batch = nodes[b:b + size]
        with cond:
            base = {node.i: (node.updates, node.owned_updates, node.off_ns) for node in batch}
        procs = []
        for node in batch:
            t = now()
            procs.append((node, t, subprocess.Popen(
                ["bash", "-c", script, "ovnkube", ovnkube_lib, node.path,
                 "10.0.0.%d" % (node.i % 250 + 1), collector])))
        ends = {}
        for node, t, p in procs:
            if p.wait(timeout_s) != 0:
                sys.exit("bench: the stand-in failed on node %d" % node.i)
            ends[node.i] = now()
        deadline = time.monotonic() + timeout_s
        with cond:
            def settled():
                return all(node.at_want() and now() - node.last_update >= quiet_s * 1e9
                           for node in batch)
            while not settled():
                if time.monotonic() > deadline:
                    sys.exit("bench: nodes %d..%d not back at port %d within %d s"
                             % (b, b + len(batch) - 1, port, timeout_s))
                cond.wait(0.05)
            for node, t, p in procs:
                u, o, off = base[node.i]
                print("standin", ms(ends[node.i] - t))
                print("recovered", ms(node.last_update - t))
                print("applier_tx", node.owned_updates - o)
                print("all_tx", node.updates - u)
                print("unexported", ms(node.off_ns - off))
    sys.stdout.flush()

if ovnkube_lib:
    t = now()
    roll(first_port + changes - 1)
    print("roll", ms(now() - t))
    sys.stdout.flush()
PYEOF

# The audit log's requests by verb and resource: AUDIT_LOG FROM TO NODES DIVISOR
# prints "user verb resource count/DIVISOR count" for requests received in
# [FROM, TO) (RFC 3339), a watch counted when it starts; the appliers' count
# is also divided by NODES (per node).
cat >"$work/audit.py" <<'PYEOF'
import collections, json, sys
path, t_from, t_to, nodes, div = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
count = collections.Counter()
with open(path) as f:
    for line in f:
        ev = json.loads(line)
        if not t_from <= ev["requestReceivedTimestamp"] < t_to:
            continue
        if ev["verb"] == "watch" and ev["stage"] != "ResponseStarted":
            continue
        if ev["verb"] != "watch" and ev["stage"] != "ResponseComplete":
            continue
        user = ev["user"]["username"].rsplit(":", 1)[-1]
        res = ev.get("objectRef", {}).get("resource", ev.get("requestURI", "?"))
        count[(user, ev["verb"], res)] += 1
for (user, verb, res), c in sorted(count.items()):
    per = nodes if user == "exportflows-applier" else 1
    print(user, verb, res, "%.2f" % (c / per / div), c)
PYEOF

# ---- helpers -------------------------------------------------------------------------
# fig KEY VALUE: records a figure of the node count being measured.
fig() { printf '%s %s\n' "$1" "$2" >>"$work/fig-$n"; }
# getfig N KEY: a recorded figure ("-" when there is none).
getfig() { awk -v k="$2" '$1 == k { v = $2 } END { print (v == "" ? "-" : v) }' "$work/fig-$1"; }
# pct P KIND FILE: nearest-rank P-th percentile of the samples of KIND, in ms.
pct() {
    awk -v k="$2" '$1 == k && $2 != "-" { print $2 }' "$3" | bench_percentile "$1"
}
# rollup PID: "VmRSS VmHWM Pss" in KiB.
rollup() {
    awk '$1 ~ /^(VmHWM|VmRSS):$/ { v[$1] = $2 }
        END { printf "%s %s", v["VmRSS:"], v["VmHWM:"] }' "/proc/$1/status"
    awk '$1 == "Pss:" { p = $2 } END { printf " %s\n", p ? p : "-" }' "/proc/$1/smaps_rollup"
}
# median_max_sum COLUMN FILE: "median max sum" of a column of numbers.
median_max_sum() {
    awk -v c="$1" '{ print $c }' "$2" | sort -n |
        awk '{ v[NR] = $1; s += $1 } END { printf "%s %s %s\n", v[int((NR + 1) / 2)], v[NR], s }'
}
# sched PID...: "CPU-ns runqueue-wait-ns" of the processes, summed over their
# threads (/proc/PID/task/TID/schedstat: exact, where /proc/PID/stat rounds
# each process down to clock ticks).
sched() {
    local f=() p
    for p in "$@"; do f+=("/proc/$p/task/"*/schedstat); done
    awk '{ c += $1; w += $2 } END { printf "%.0f %.0f\n", c, w }' "${f[@]}" 2>/dev/null
}
# node_pids KIND: the pids of the current node count's appliers or ovsdb-servers.
node_pids() {
    local i
    for ((i = 0; i < n; i++)); do
        if [ "$1" = applier ]; then
            echo "${CLUSTER_PID[applier-n$n-$i]}"
        else
            cat "$CLUSTER_DIR/ovs-n$n-$i/ovsdb-server.pid"
        fi
    done
}
SCHED_PARTS=(apiserver etcd webhook appliers ovsdbs)
# sched_snapshot: sched of each of SCHED_PARTS, on one line.
sched_snapshot() {
    # shellcheck disable=SC2046 # one pid a word
    echo "$(sched "$APISERVER_PID") $(sched "$ETCD_PID") $(sched "${CLUSTER_PID[webhook]}")" \
        "$(sched $(node_pids applier)) $(sched $(node_pids ovsdb))"
}
# sched_figures PREFIX BEFORE AFTER DIVISOR: records, for each part, PREFIX-cpu-PART
# and PREFIX-wait-PART: CPU time and run-queue wait in ms, divided by DIVISOR.
sched_figures() {
    local prefix=$1 div=$4 i
    local -a b a
    read -r -a b <<<"$2"
    read -r -a a <<<"$3"
    for i in 0 1 2 3 4; do
        fig "$prefix-cpu-${SCHED_PARTS[$i]}" "$(awk -v d=$((a[2 * i] - b[2 * i])) -v q="$div" \
            'BEGIN { printf "%.1f", d / 1e6 / q }')"
        fig "$prefix-wait-${SCHED_PARTS[$i]}" "$(awk -v d=$((a[2 * i + 1] - b[2 * i + 1])) -v q="$div" \
            'BEGIN { printf "%.1f", d / 1e6 / q }')"
    done
}
# batch_ready FIRST LAST: true when appliers FIRST..LAST have all logged an
# applied config; ends the run when one of them has died.
batch_ready() {
    local i files=()
    for ((i = $1; i <= $2; i++)); do
        cluster_alive "applier-n$n-$i" || { say "applier n$n-$i died"; exit 1; }
        files+=("$CLUSTER_DIR/logs/applier-n$n-$i.log")
    done
    [ -z "$(grep -L 'applied flow export' "${files[@]}")" ]
}
# measure_ready: true once the measuring helper has seen change 0 at every
# node; ends the run when it has died.
measure_ready() {
    grep -q '^ready$' "$work/samples-$n.txt" && return 0
    cluster_pid_alive "$measure_pid" || { say "the measuring helper failed"; exit 1; }
    return 1
}
# fc_snapshot: from one scrape of kube-apiserver's /metrics, what its API
# Priority and Fairness saw of the appliers' FlowSchema and the publisher's:
# "applier-dispatched publisher-dispatched applier-rejected
#  applier-queue-wait-seconds-sum applier-queue-wait-count".
fc_snapshot() {
    cluster_kubectl get --raw /metrics | awk '
        function fs(name) { return index($0, "flow_schema=\"" name "\"") }
        /^apiserver_flowcontrol_dispatched_requests_total\{/ {
            if (fs("exportflows-applier")) a += $2; else if (fs("exportflows-webhook")) w += $2 }
        /^apiserver_flowcontrol_rejected_requests_total\{/ && fs("exportflows-applier") { r += $2 }
        /^apiserver_flowcontrol_request_wait_duration_seconds_sum\{/ && fs("exportflows-applier") { ws += $2 }
        /^apiserver_flowcontrol_request_wait_duration_seconds_count\{/ && fs("exportflows-applier") { wc += $2 }
        END { printf "%d %d %d %.6f %d\n", a, w, r, ws, wc }'
}
# requests_quiet: true when the appliers' request count has not moved for
# 4 s, twice the least interval between two status writes of an applier
# (NODESTATUS_MIN_INTERVAL_MS): the status writes after a change are done.
quiet_prev= quiet_since=
requests_quiet() {
    local cur
    cur=$(cluster_requests exportflows-applier)
    if [ "$cur" != "$quiet_prev" ]; then
        quiet_prev=$cur quiet_since=$(cluster_now_ms)
        return 1
    fi
    [ $(($(cluster_now_ms) - quiet_since)) -ge 4000 ]
}
# stop_nodes: TERM every applier and ovsdb-server of this node count, then
# wait for each.
stop_nodes() {
    local i pid
    for pid in $(node_pids applier) $(node_pids ovsdb); do kill -TERM "$pid" 2>/dev/null || true; done
    for ((i = 0; i < n; i++)); do
        cluster_stop_process "applier-n$n-$i" || say "applier n$n-$i exited with $?"
        OVS_DB_DIR=$CLUSTER_DIR/ovs-n$n-$i ovs_db_stop
    done
}

# ---- run -----------------------------------------------------------------------------
started=$(date +%s)
if [ "$audit" = 1 ]; then
    cat >"$work/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  userGroups: ["system:serviceaccounts:exportflows", "system:serviceaccounts:exportflows-nodes"]
- level: None
EOF
    apiserver_args="--audit-policy-file $work/audit-policy.yaml --audit-log-path $work/audit.log $apiserver_args"
fi
export K8S_APISERVER_ARGS=$apiserver_args
say "control plane and webhook (work dir $work)"
cluster_up "$work/cluster" >/dev/null 2>"$work/up.err" || { cat "$work/up.err" >&2; exit 1; }
export KUBECONFIG=$CLUSTER_DIR/cp/kubeconfig
cluster_kubectl apply -f - >/dev/null <<EOF
apiVersion: operator.openshift.io/v1
kind: Network
metadata: {name: cluster}
spec:
  defaultNetwork: {type: OVNKubernetes}
  exportNetworkFlows: {netFlow: {collectors: ["172.30.158.150:2999"]}}
EOF

first_port=3000
for n in $node_counts; do
    : >"$work/fig-$n"
    t=$(cluster_now_ms)
    say "$n nodes: $n ovsdb-servers with br-int"
    cluster_ovsdb_start_many "n$n" "$n" 10 br-int
    printf '%s\n' "${CLUSTER_OVSDBS[@]#unix:}" >"$work/socks-$n"
    fig start-ovsdbs-s "$(awk -v d=$(($(cluster_now_ms) - t)) 'BEGIN { printf "%.1f", d / 1000 }')"
    t=$(cluster_now_ms)
    say "$n nodes: $n appliers, $batch at a time"
    for ((i = 0; i < n; i += batch)); do
        last=$((i + batch - 1 < n - 1 ? i + batch - 1 : n - 1))
        for ((j = i; j <= last; j++)); do
            # shellcheck disable=SC2086 # extra flags, one a word
            cluster_applier_start "n$n-$j" "10.$((j / 62500)).$((j / 250 % 250)).$((j % 250 + 1))" \
                "${CLUSTER_OVSDBS[$j]}" br-int --health-listen none $applier_args
        done
        cluster_wait_ms "appliers n$n-$i..$last to apply" 120000 batch_ready "$i" "$last"
    done
    fig start-appliers-s "$(awk -v d=$(($(cluster_now_ms) - t)) 'BEGIN { printf "%.1f", d / 1000 }')"

    say "$n nodes: $changes changes, $gap_ms ms apart"
    "$CLUSTER_PYTHON" "$work/measure.py" "$work/socks-$n" "$changes" "$gap_ms" "$first_port" \
        "$work/go-$n" ${ovnkube:+"$root/tests/system"} >"$work/samples-$n.txt" &
    measure_pid=$!
    cluster_wait_ms "change 0 at every node" 150000 measure_ready
    r0=$(fc_snapshot)
    c0=$(sched_snapshot)
    t0=$(date -u +%FT%T.%6NZ)
    : >"$work/go-$n"
    wait "$measure_pid" || { measure_pid=; say "the measuring helper failed"; exit 1; }
    measure_pid=
    c1=$(sched_snapshot)
    # The last change's status writes are part of the changes, not of the idle window.
    quiet_prev= quiet_since=
    cluster_wait_ms "the API requests to settle" 120000 requests_quiet
    r1=$(fc_snapshot)
    t1=$(date -u +%FT%T.%6NZ)
    if [ "$audit" = 1 ]; then
        "$CLUSTER_PYTHON" "$work/audit.py" "$work/audit.log" "$t0" "$t1" "$n" "$changes" \
            >"$work/audit-change-$n.txt"
    fi
    read -r a0 w0 j0 s0 q0 <<<"$r0"
    read -r a1 w1 j1 s1 q1 <<<"$r1"
    fig change-applier-rejected "$((j1 - j0))"
    fig change-applier-queue-wait-ms "$(awk -v n="$((q1 - q0))" -v a="$s0" -v b="$s1" \
        'BEGIN { if (n > 0) printf "%.2f", (b - a) / n * 1000; else print "-" }')"
    fig change-applier-requests-per-node "$(awk -v d=$((a1 - a0)) -v n="$n" -v c="$changes" \
        'BEGIN { printf "%.2f", d / n / c }')"
    fig change-publisher-requests "$(awk -v d=$((w1 - w0)) -v c="$changes" 'BEGIN { printf "%.2f", d / c }')"
    sched_figures change "$c0" "$c1" "$changes"
    first_port=$((first_port + changes + 1))
    [ -n "$samples_out" ] && sed "s/^/$n /" "$work/samples-$n.txt" >>"$samples_out"
    for ((i = 0; i < n; i++)); do
        cluster_alive "applier-n$n-$i" || { say "applier n$n-$i died"; exit 1; }
    done

    # Idle: nothing changes; count what the appliers and the publisher ask.
    say "$n nodes idle for $idle s"
    t0=$(date -u +%FT%T.%6NZ)
    c0=$(sched_snapshot)
    a0=$(cluster_requests exportflows-applier); w0=$(cluster_requests exportflows-webhook)
    sleep "$idle"
    a1=$(cluster_requests exportflows-applier); w1=$(cluster_requests exportflows-webhook)
    c1=$(sched_snapshot)
    t1=$(date -u +%FT%T.%6NZ)
    fig idle-applier-requests "$((a1 - a0))"
    fig idle-applier-per-node-hour "$(awk -v d=$((a1 - a0)) -v n="$n" -v s="$idle" \
        'BEGIN { printf "%.1f", d / n / s * 3600 }')"
    fig idle-publisher-per-hour "$(awk -v d=$((w1 - w0)) -v s="$idle" 'BEGIN { printf "%.0f", d / s * 3600 }')"
    sched_figures idle "$c0" "$c1" "$((idle * 10))"
    if [ "$audit" = 1 ]; then
        "$CLUSTER_PYTHON" "$work/audit.py" "$work/audit.log" "$t0" "$t1" "$n" \
            "$(awk -v s="$idle" 'BEGIN { print s / 3600 }')" >"$work/audit-idle-$n.txt"
    fi

    # Memory while watching.
    : >"$work/applier-mem-$n"
    for pid in $(node_pids applier); do rollup "$pid" >>"$work/applier-mem-$n"; done
    : >"$work/ovsdb-mem-$n"
    for pid in $(node_pids ovsdb); do rollup "$pid" >>"$work/ovsdb-mem-$n"; done
    read -r med max sum < <(median_max_sum 1 "$work/applier-mem-$n")
    fig applier-rss "$med"; fig applier-rss-max "$max"
    read -r med max sum < <(median_max_sum 2 "$work/applier-mem-$n")
    fig applier-hwm-max "$max"
    read -r med max sum < <(median_max_sum 3 "$work/applier-mem-$n")
    fig applier-pss "$med"; fig applier-pss-sum "$sum"
    read -r med max sum < <(median_max_sum 1 "$work/ovsdb-mem-$n")
    fig ovsdb-rss "$med"
    read -r med max sum < <(median_max_sum 3 "$work/ovsdb-mem-$n")
    fig ovsdb-pss "$med"
    read -r rss _ pss < <(rollup "${CLUSTER_PID[webhook]}")
    fig webhook-rss "$rss"; fig webhook-pss "$pss"
    read -r rss _ pss < <(rollup "$APISERVER_PID")
    fig apiserver-rss "$rss"; fig apiserver-pss "$pss"
    read -r rss _ pss < <(rollup "$ETCD_PID")
    fig etcd-rss "$rss"; fig etcd-pss "$pss"
    # Baseline: one applier reading the same config from a file, on an ovsdb-server of its own.
    cluster_kubectl -n exportflows get configmap exportflows-config \
        -o jsonpath='{.data.config\.json}' >"$work/config.json"
    cluster_ovsdb_start "file-$n" br-int
    "$CLUSTER_BIN/exportflows-applier" --config-file "$work/config.json" --ovsdb "$CLUSTER_OVSDB" \
        --bridge br-int --node-ip 192.0.2.1 --node-name file --health-listen none \
        >"$work/file-applier.log" 2>&1 &
    file_pid=$!
    cluster_wait_ms "the file applier to apply" 30000 grep -q 'applied flow export' "$work/file-applier.log"
    read -r rss _ pss < <(rollup "$file_pid")
    fig file-rss "$rss"; fig file-pss "$pss"
    kill "$file_pid"; wait "$file_pid" || true; file_pid=
    OVS_DB_DIR=$CLUSTER_DIR/ovs-file-$n ovs_db_stop

    say "$n nodes: stopping"
    stop_nodes
    cluster_kubectl -n exportflows-nodes delete lease -l app.kubernetes.io/component=applier >/dev/null
done
elapsed=$(( $(date +%s) - started ))

# ---- figures -------------------------------------------------------------------------
printf 'machine: %s cores, %s; load average %s; %s control plane\n' "$(nproc)" \
    "$(bench_cpu_model)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$("$K8S_BIN_DIR/kubectl" version --client -o json |
        jq -r '.clientVersion.gitVersion')"
printf 'run: %s changes per node count, %s ms apart; idle window %s s; identity %s; audit %s; %s s in all\n' \
    "$changes" "$gap_ms" "$idle" "$CLUSTER_IDENTITY" "$([ "$audit" = 1 ] && echo on || echo off)" \
    "$elapsed"
[ -z "$apiserver_args$applier_args" ] ||
    printf 'kube-apiserver flags: %s; applier flags: %s\n' "$apiserver_args" "${applier_args:--}"
echo
printf '| | %s |\n|---|%s\n' \
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
figrow() {
    local label=$1 n k out
    shift
    printf '| %s |' "$label"
    for n in $node_counts; do
        out=
        for k in "$@"; do out="$out${out:+ / }$(getfig "$n" "$k")"; done
        printf ' %s |' "$out"
    done
    echo
}
row "ms p50 / p99: kubectl apply -> every node's OVS committed" converged
row "  -> the first node's OVS committed" first
row "  first -> last node" spread
row "  of which after kubectl apply returned" after_return
row "baseline: kubectl apply -> ConfigMap published" configmap
row "kubectl apply of the Network (spawn -> exit)" apply
row "kubectl apply of a plain ConfigMap (spawn -> exit)" plain
printf '| ratio converged / ConfigMap published, p50 / p99 |'
for n in $node_counts; do
    f=$work/samples-$n.txt
    printf ' %s / %s |' "$(ratio "$(pct 50 converged "$f")" "$(pct 50 configmap "$f")")" \
        "$(ratio "$(pct 99 converged "$f")" "$(pct 99 configmap "$f")")"
done
echo
if [ -n "$ovnkube" ]; then
    row "ovnkube-node roll, ms p50 / p99: replay spawn -> the node's rows as desired again" recovered
    row "  baseline: the stand-in's own writes (replay spawn -> exit)" standin
    printf '| ratio as desired again / stand-in, p50 / p99 |'
    for n in $node_counts; do
        f=$work/samples-$n.txt
        printf ' %s / %s |' "$(ratio "$(pct 50 recovered "$f")" "$(pct 50 standin "$f")")" \
            "$(ratio "$(pct 99 recovered "$f")" "$(pct 99 standin "$f")")"
    done
    echo
    row "  ms br-int was without the desired NetFlow row during the restart" unexported
    printf '| applier / all OVSDB transactions per restart (mean; restarts) |'
    for n in $node_counts; do
        awk '$1 == "applier_tx" { a += $2; r++ } $1 == "all_tx" { t += $2 }
            END { printf " %.2f / %.2f (%d) |", a / r, t / r, r }' "$work/samples-$n.txt"
    done
    echo
    printf '| ms for the whole roll (batches of ceil(N/10) nodes) |'
    for n in $node_counts; do
        printf ' %s |' "$(awk '$1 == "roll" { print $2 }' "$work/samples-$n.txt")"
    done
    echo
fi
figrow "API requests per change: per applier / publisher" change-applier-requests-per-node change-publisher-requests
figrow "CPU ms per change: kube-apiserver / etcd / webhook" change-cpu-apiserver change-cpu-etcd change-cpu-webhook
figrow "CPU ms per change: all appliers / all ovsdb-servers" change-cpu-appliers change-cpu-ovsdbs
figrow "run-queue wait ms per change: kube-apiserver / all appliers / all ovsdb-servers" change-wait-apiserver change-wait-appliers change-wait-ovsdbs
figrow "appliers' requests refused (429) by kube-apiserver / mean APF queue wait ms" change-applier-rejected change-applier-queue-wait-ms
figrow "idle API requests per node per hour (appliers' total in the window)" idle-applier-per-node-hour idle-applier-requests
figrow "idle API requests per hour, publisher" idle-publisher-per-hour
figrow "idle CPU %: kube-apiserver / etcd / webhook" idle-cpu-apiserver idle-cpu-etcd idle-cpu-webhook
figrow "idle CPU %: all appliers / all ovsdb-servers" idle-cpu-appliers idle-cpu-ovsdbs
figrow "KiB applier VmRSS median / max, VmHWM max" applier-rss applier-rss-max applier-hwm-max
figrow "KiB applier Pss median / all appliers' Pss" applier-pss applier-pss-sum
figrow "KiB baseline applier --config-file VmRSS / Pss" file-rss file-pss
figrow "KiB ovsdb-server VmRSS / Pss (median)" ovsdb-rss ovsdb-pss
figrow "KiB webhook with the publisher VmRSS / Pss" webhook-rss webhook-pss
figrow "KiB kube-apiserver VmRSS / Pss" apiserver-rss apiserver-pss
figrow "KiB etcd VmRSS / Pss" etcd-rss etcd-pss
figrow "s to start the ovsdb-servers / the appliers" start-ovsdbs-s start-appliers-s
if [ "$audit" = 1 ]; then
    echo
    echo "requests from the audit log, per change (user verb resource per-node-or-program count):"
    for n in $node_counts; do
        sed "s/^/  $n nodes: /" "$work/audit-change-$n.txt"
    done
    echo "idle requests from the audit log (user verb resource per-node-or-program-per-hour count):"
    for n in $node_counts; do
        sed "s/^/  $n nodes: /" "$work/audit-idle-$n.txt"
    done
fi
echo
c99=$(pct 99 converged "$work/samples-$max_nodes.txt")
echo "goal: converged p99 at $max_nodes nodes under 1000 ms:" \
    "$(verdict "$(awk -v v="$c99" 'BEGIN { print (v != "-" && v < 1000) }')") ($c99 ms)"
