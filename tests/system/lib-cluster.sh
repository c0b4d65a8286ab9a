# lib-cluster.sh — the whole exportflows system on a real Kubernetes control
# plane, for system tests and benchmarks.  Source it; it runs nothing by itself.
#
# What cluster_up brings up, all on loopback, everything under one directory:
#   - etcd and kube-apiserver (tests/k8s/control-plane.sh, built once from the
#     pinned Go modules by tests/k8s/build-fixtures.sh and cached);
#   - a CustomResourceDefinition of networks.operator.openshift.io: by
#     default tests/k8s/crd-network-released.yaml, the released API's
#     constraints on exportNetworkFlows (the API server answers first, as on
#     OpenShift); with CLUSTER_CRD=loose tests/k8s/crd-network.yaml, which
#     leaves exportNetworkFlows to the webhook (an API that does not type it);
#   - namespaces exportflows (webhook) and exportflows-nodes (appliers, their
#     status Leases) with the ServiceAccounts and RBAC of the real manifests
#     (manifests/base/*-rbac.yaml; namespace openshift-network-operator too, for
#     the Role on ovs-flows-config), and one FlowSchema per program so
#     the API server counts each program's requests apart
#     (apiserver_flowcontrol_dispatched_requests_total{flow_schema=...});
#   - exportflows-webhook on 127.0.0.1:<free port> with a certificate made by
#     `exportflows certs`, registered by URL with the ValidatingWebhookConfiguration
#     of manifests/base (its rules, matchConditions and failurePolicy Fail),
#     publishing the ConfigMap (--publish).
# cluster_ovsdb_start and cluster_applier_start then add ovsdb-servers and
# appliers (each applier a process with its own kubeconfig).
#
# Identities: with CLUSTER_IDENTITY=serviceaccount (the default) the webhook and
# the appliers talk to the API server as the ServiceAccounts
# exportflows/exportflows-webhook and exportflows-nodes/exportflows-applier,
# with tokens from the TokenRequest API, so the RBAC
# the manifests ship is exercised too; CLUSTER_IDENTITY=admin runs them with the
# control plane's admin (system:masters) kubeconfig instead.
#
#   . tests/system/lib-cluster.sh
#   trap cluster_down EXIT
#   cluster_up "$(mktemp -d)" || exit 1
#   cluster_ovsdb_start n1 br-int && cluster_applier_start n1 10.0.0.1 "$CLUSTER_OVSDB" br-int
#   cluster_kubectl apply -f network.yaml
#   cluster_wait_ms "n1 converged" 2000 cluster_bridge_is "$CLUSTER_OVSDB" br-int "$want"
#
# Environment: EXPORTFLOWS_BIN_DIR (programs, default bin), K8S_BIN_DIR (skip
# build-fixtures.sh), CLUSTER_IDENTITY (serviceaccount|admin), CLUSTER_CRD
# (released|loose).  CLUSTER_WEBHOOK_BIN and CLUSTER_APPLIER_BIN[NODE] run
# programs from another directory (another release's, for k8s-skew.sh).
# Needs: openssl, curl, python3, ovsdb-server/ovsdb-tool/ovsdb-client/ovs-vsctl.

# shellcheck shell=bash
# shellcheck disable=SC2034 # CLUSTER_* variables are read by the scripts that source this
CLUSTER_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLUSTER_ROOT=$(cd "$CLUSTER_LIB_DIR/../.." && pwd)
# shellcheck source=tests/system/lib-ovs.sh
. "$CLUSTER_LIB_DIR/lib-ovs.sh"

CLUSTER_DIR=
CLUSTER_BIN=
CLUSTER_WEBHOOK_BIN=           # exportflows-webhook's directory; empty: CLUSTER_BIN
CLUSTER_IDENTITY=${CLUSTER_IDENTITY:-serviceaccount}
CLUSTER_CRD=${CLUSTER_CRD:-released}
CLUSTER_CP_STARTED=0
CLUSTER_WEBHOOK_URL=           # https://127.0.0.1:PORT (the /validate server)
CLUSTER_WEBHOOK_HEALTH=        # 127.0.0.1:PORT (plain HTTP /metrics)
CLUSTER_OVSDB=                 # remote of the ovsdb-server last started
CLUSTER_PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
declare -A CLUSTER_PID=()      # process name -> pid, for everything started here
declare -A CLUSTER_HEALTH=()   # process name -> its --health-listen address
CLUSTER_OVSDB_DIRS=()          # every ovsdb-server dir, for cluster_down

cluster_log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*" >&2; }

# cluster_now_ms: CLOCK_REALTIME in milliseconds.
cluster_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# cluster_wait_ms DESCRIPTION MILLISECONDS COMMAND...: runs COMMAND every 50 ms
# until it succeeds (0) or the time passes (1, with a message on stderr).
# CLUSTER_WAITED_MS holds how long it took.
CLUSTER_WAITED_MS=0
cluster_wait_ms() {
    local what=$1 limit=$2 start now
    shift 2
    start=$(cluster_now_ms)
    while ! "$@"; do
        now=$(cluster_now_ms)
        if [ $((now - start)) -ge "$limit" ]; then
            CLUSTER_WAITED_MS=$((now - start))
            cluster_log "timed out after ${limit} ms waiting for $what"
            return 1
        fi
        sleep 0.05
    done
    CLUSTER_WAITED_MS=$(( $(cluster_now_ms) - start ))
}

# cluster_kubectl ARGS...: kubectl as the cluster admin.
cluster_kubectl() {
    "$K8S_BIN_DIR/kubectl" --kubeconfig "$CLUSTER_DIR/cp/kubeconfig" "$@"
}

# cluster_cleanup: an EXIT trap for a test whose work dir is $WORK: stops the
# cluster, then keeps WORK (and shows the logs) or removes it (check_finish).
cluster_cleanup() {
    local rc=$?
    cluster_down
    check_finish "$WORK" $rc cluster_show_logs 20
}

# cluster_network EXPORT_YAML [DEFAULT_NETWORK_TYPE [LOG_LEVEL]]: prints the
# Network "cluster" (type OVNKubernetes, log level Normal unless given) with
# spec.exportNetworkFlows set to EXPORT_YAML (flow style, one line; "" leaves the
# field out).
cluster_network() {
    cat <<EOF
apiVersion: operator.openshift.io/v1
kind: Network
metadata:
  name: cluster
spec:
  clusterNetwork:
  - {cidr: 10.128.0.0/14, hostPrefix: 23}
  serviceNetwork: [172.30.0.0/16]
  defaultNetwork: {type: ${2:-OVNKubernetes}}
  logLevel: ${3:-Normal}
EOF
    [ -z "$1" ] || echo "  exportNetworkFlows: $1"
}

# cluster_apply_network EXPORT_YAML: kubectl apply of cluster_network EXPORT_YAML.
cluster_apply_network() {
    cluster_network "$1" | cluster_kubectl apply -f - >/dev/null
}

# ------------------------------------------------------------------ processes

# cluster_spawn NAME COMMAND...: starts COMMAND in the background with its output
# in logs/NAME.log and records its pid under NAME.
cluster_spawn() {
    local name=$1
    shift
    "$@" </dev/null >>"$CLUSTER_DIR/logs/$name.log" 2>&1 &
    CLUSTER_PID[$name]=$!
}

# cluster_pid_alive PID: true while PID runs (a zombie counts as gone).
cluster_pid_alive() {
    local state
    [ -n "$1" ] || return 1
    state=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# cluster_alive NAME: true while the process started as NAME runs.
cluster_alive() {
    cluster_pid_alive "${CLUSTER_PID[$1]:-}"
}

# cluster_stop_process NAME: SIGTERM, up to 10 s, then SIGKILL; forgets NAME.
# Returns the process's exit status (137 when it had to be killed).
cluster_stop_process() {
    local name=$1 pid=${CLUSTER_PID[$1]:-} _ rc=0
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        cluster_alive "$name" || break
        sleep 0.1
    done
    if cluster_alive "$name"; then
        cluster_log "$name (pid $pid) ignored SIGTERM for 10 s, killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    unset "CLUSTER_PID[$name]"
    unset "CLUSTER_HEALTH[$name]"
    return $rc
}

# cluster_listen_addr NAME SERVER: the address process NAME logged for SERVER,
# once it has: "listening address=IP:PORT server=SERVER" (both programs).
cluster_listen_addr() {
    sed -n -e "s/.* listening address=\([0-9.:]*\) server=$2\$/\1/p" \
        "$CLUSTER_DIR/logs/$1.log" 2>/dev/null | tail -n 1 | grep .
}

# cluster_rss NAME: "VmRSS VmHWM" of process NAME in KiB.
cluster_rss() {
    awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r, h }' \
        "/proc/${CLUSTER_PID[$1]}/status"
}

# cluster_metric NAME METRIC: the value of METRIC (exact name and labels, as in
# the exposition) from process NAME's /metrics on its health address.
cluster_metric() {
    curl -fsS --max-time 5 "http://${CLUSTER_HEALTH[$1]}/metrics" |
        awk -v m="$2" '$1 == m { print $2; f = 1 } END { exit !f }'
}

# ------------------------------------------------------------------ control plane

# cluster_control_plane_start: etcd + kube-apiserver under $CLUSTER_DIR/cp.
cluster_control_plane_start() {
    CLUSTER_CP_STARTED=1
    "$CLUSTER_ROOT/tests/k8s/control-plane.sh" start "$CLUSTER_DIR/cp" || return 1
    # shellcheck disable=SC1091
    . "$CLUSTER_DIR/cp/env"
}

# cluster_apiserver_restart: stops kube-apiserver and starts it again (same
# port, certificates and etcd).  Open watches break, which is what is tested;
# control-plane.sh gives them 2 s to end (--shutdown-watch-termination-grace-period).
cluster_apiserver_restart() {
    "$CLUSTER_ROOT/tests/k8s/control-plane.sh" restart-apiserver "$CLUSTER_DIR/cp" || return 1
    # shellcheck disable=SC1091
    . "$CLUSTER_DIR/cp/env"
}

# cluster_sa_namespace SERVICEACCOUNT: the namespace the manifests put it in.
cluster_sa_namespace() {
    case $1 in
    exportflows-applier) echo exportflows-nodes ;;
    *) echo exportflows ;;
    esac
}

# cluster_identities: namespaces exportflows and exportflows-nodes, the real
# manifests' ServiceAccounts and RBAC, and a FlowSchema per program that counts
# its requests.
cluster_identities() {
    # The webhook's RBAC has a Role in the network operator's namespace (for
    # ovs-flows-config), which OpenShift has and a bare control plane lacks.
    cluster_kubectl get namespace openshift-network-operator >/dev/null 2>&1 ||
        cluster_kubectl create namespace openshift-network-operator >/dev/null || return 1
    cluster_kubectl apply -f "$CLUSTER_ROOT/manifests/base/namespace.yaml" \
        -f "$CLUSTER_ROOT/manifests/base/applier-rbac.yaml" \
        -f "$CLUSTER_ROOT/manifests/base/webhook-rbac.yaml" >/dev/null || return 1
    local sa
    for sa in exportflows-applier exportflows-webhook; do
        cluster_kubectl apply -f - >/dev/null <<EOF || return 1
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata:
  name: $sa
spec:
  matchingPrecedence: 100
  priorityLevelConfiguration:
    name: workload-low
  distinguisherMethod:
    type: ByUser
  rules:
  - subjects:
    - kind: ServiceAccount
      serviceAccount: {name: $sa, namespace: $(cluster_sa_namespace "$sa")}
    resourceRules:
    - {verbs: ["*"], apiGroups: ["*"], resources: ["*"], namespaces: ["*"], clusterScope: true}
    nonResourceRules:
    - {verbs: ["*"], nonResourceURLs: ["*"]}
EOF
    done
}

# cluster_write_kubeconfig FILE USER TOKEN: a kubeconfig (mode 0600) for the
# control plane that authenticates with the bearer TOKEN.
cluster_write_kubeconfig() {
    (
        umask 077
        cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: exportflows-test
  cluster:
    server: $APISERVER_URL
    certificate-authority-data: $(base64 -w0 <"$K8S_CA_CERT")
users:
- name: $2
  user:
    token: $3
contexts:
- name: $2
  context: {cluster: exportflows-test, user: $2}
current-context: $2
EOF
    )
}

# cluster_kubeconfig SERVICEACCOUNT: prints the path of a kubeconfig for the
# ServiceAccount (a 2 h token from the TokenRequest API), or of the admin
# kubeconfig when CLUSTER_IDENTITY=admin.
cluster_kubeconfig() {
    local sa=$1 f=$CLUSTER_DIR/$1.kubeconfig token
    if [ "$CLUSTER_IDENTITY" = admin ]; then
        echo "$CLUSTER_DIR/cp/kubeconfig"
        return 0
    fi
    if [ ! -s "$f" ]; then
        token=$(cluster_kubectl -n "$(cluster_sa_namespace "$sa")" create token "$sa" \
            --duration 2h) || return 1
        cluster_write_kubeconfig "$f" "$sa" "$token" || return 1
    fi
    echo "$f"
}

# cluster_node_pod NODE POD: the Node NODE (made when absent) and a Pod POD in
# namespace exportflows-nodes bound to it (spec.nodeName) that runs as
# exportflows-applier, as the DaemonSet's pod on NODE would.  No kubelet runs:
# the Pod only exists to bind tokens to.  Prints the Pod's uid.
cluster_node_pod() {
    cluster_kubectl get node "$1" >/dev/null 2>&1 ||
        cluster_kubectl create -f - >/dev/null <<EOF || return 1
apiVersion: v1
kind: Node
metadata:
  name: $1
  labels: {kubernetes.io/hostname: $1, kubernetes.io/os: linux}
EOF
    cluster_kubectl create -f - >/dev/null <<EOF || return 1
apiVersion: v1
kind: Pod
metadata:
  name: $2
  namespace: exportflows-nodes
  labels: {app.kubernetes.io/name: exportflows, app.kubernetes.io/component: applier}
spec:
  nodeName: $1
  serviceAccountName: exportflows-applier
  containers:
  - name: applier
    image: exportflows
EOF
    cluster_kubectl -n exportflows-nodes get pod "$2" -o jsonpath='{.metadata.uid}'
}

# cluster_pod_kubeconfig POD UID: prints the path of a kubeconfig for
# exportflows-applier whose token is bound to Pod POD (uid UID), as the
# kubelet's projected token is: it carries the Pod's node name.
cluster_pod_kubeconfig() {
    local f=$CLUSTER_DIR/pod-$1.kubeconfig token
    token=$(cluster_kubectl -n exportflows-nodes create token exportflows-applier --duration 2h \
        --bound-object-kind Pod --bound-object-name "$1" --bound-object-uid "$2") || return 1
    cluster_write_kubeconfig "$f" "exportflows-applier-$1" "$token" || return 1
    echo "$f"
}

# cluster_requests SERVICEACCOUNT: how many requests the API server has
# dispatched for the ServiceAccount since it started (its FlowSchema's counter).
cluster_requests() {
    cluster_kubectl get --raw /metrics |
        awk -v fs="flow_schema=\"$1\"" '
            /^apiserver_flowcontrol_dispatched_requests_total\{/ && index($0, fs) { n += $2 }
            END { print n + 0 }'
}

# ------------------------------------------------------------------ webhook

# cluster_webhook_start ARGS...: starts exportflows-webhook on free loopback
# ports with the publisher on (extra ARGS are added, e.g. tuning flags) and
# registers it; returns once kube-apiserver calls it.
cluster_webhook_start() {
    local certs=$CLUSTER_DIR/webhook-certs kubeconfig addr
    if [ ! -f "$certs/tls.crt" ]; then
        "$CLUSTER_BIN/exportflows" certs --out "$certs" --san 127.0.0.1 >/dev/null || return 1
    fi
    kubeconfig=$(cluster_kubeconfig exportflows-webhook) || return 1
    : >"$CLUSTER_DIR/logs/webhook.log"
    cluster_spawn webhook "${CLUSTER_WEBHOOK_BIN:-$CLUSTER_BIN}/exportflows-webhook" \
        --tls-cert-file "$certs/tls.crt" --tls-private-key-file "$certs/tls.key" \
        --listen 127.0.0.1:0 --health-listen 127.0.0.1:0 \
        --kubeconfig "$kubeconfig" --publish "$@"
    cluster_wait_ms "the webhook's listening addresses" 10000 \
        cluster_listen_addr webhook health >/dev/null || return 1
    addr=$(cluster_listen_addr webhook https) || return 1
    CLUSTER_WEBHOOK_URL=https://$addr
    CLUSTER_WEBHOOK_HEALTH=$(cluster_listen_addr webhook health)
    CLUSTER_HEALTH[webhook]=$CLUSTER_WEBHOOK_HEALTH
    cluster_webhook_register
}

# cluster_webhook_register: the ValidatingWebhookConfiguration of
# manifests/base as it is (rules, matchConditions, failurePolicy), each entry's
# service reference made a URL to this webhook (same path) with the test CA;
# waits until kube-apiserver has loaded it (a server-side dry run of an invalid
# Network is refused by the webhook).
cluster_webhook_register() {
    cluster_kubectl create --dry-run=client -o json \
        -f "$CLUSTER_ROOT/manifests/base/validatingwebhookconfiguration.yaml" |
        "$CLUSTER_PYTHON" -c '
import json, sys
vwc = json.load(sys.stdin)
for hook in vwc["webhooks"]:
    path = hook["clientConfig"]["service"].get("path", "/")
    hook["clientConfig"] = {"url": sys.argv[1] + path, "caBundle": sys.argv[2]}
json.dump(vwc, sys.stdout)
' "$CLUSTER_WEBHOOK_URL" "$(base64 -w0 <"$CLUSTER_DIR/webhook-certs/ca.crt")" \
        >"$CLUSTER_DIR/webhook-registration.json" || return 1
    cluster_kubectl apply -f "$CLUSTER_DIR/webhook-registration.json" >/dev/null || return 1
    cluster_wait_ms "kube-apiserver to call the webhook" 15000 cluster_webhook_effective
}

# cluster_webhook_effective: true when a dry run of a Network with a
# leading-zero octet (which the released schema's pattern admits) is refused by
# the webhook at the current URL.
cluster_webhook_effective() {
    local out
    out=$(cluster_network '{netFlow: {collectors: ["01.0.0.1:2056"]}}' |
        cluster_kubectl apply --dry-run=server -f - 2>&1)
    grep -q 'spec.exportNetworkFlows.netFlow.collectors\[0\]: Invalid value: "01.0.0.1:2056": IPv4' <<<"$out"
}

# cluster_webhook_reviews: how many AdmissionReviews the webhook has answered
# (every result), from its /metrics.
cluster_webhook_reviews() {
    curl -fsS --max-time 5 "http://${CLUSTER_HEALTH[webhook]}/metrics" |
        awk '/^exportflows_webhook_admission_reviews_total[{ ]/ { n += $2 } END { print n + 0 }'
}

# cluster_crd_file released|loose: the Network CRD fixture of that name.
cluster_crd_file() {
    case $1 in
    released) echo "$CLUSTER_ROOT/tests/k8s/crd-network-released.yaml" ;;
    loose) echo "$CLUSTER_ROOT/tests/k8s/crd-network.yaml" ;;
    *) cluster_log "unknown CRD '$1' (released or loose)"; return 1 ;;
    esac
}

# cluster_crd_apply released|loose: creates or replaces the Network CRD and
# waits until it is established.  A replaced schema takes a moment more to be
# in force: callers that switch poll for an answer only the new one gives.
cluster_crd_apply() {
    local file
    file=$(cluster_crd_file "$1") || return 1
    cluster_kubectl apply -f "$file" >/dev/null || return 1
    cluster_kubectl wait --for condition=established --timeout=30s \
        crd/networks.operator.openshift.io >/dev/null
}

# ------------------------------------------------------------------ OVS and appliers

# cluster_ovsdb_start NAME BRIDGE...: an ovsdb-server of its own in
# $CLUSTER_DIR/ovs-NAME with the BRIDGEs (no ovs-vswitchd: the appliers only
# write the database).  Sets CLUSTER_OVSDB to its remote.
cluster_ovsdb_start() {
    local name=$1 dir=$CLUSTER_DIR/ovs-$1
    shift
    mkdir -p "$dir" || return 1
    CLUSTER_OVSDB_DIRS+=("$dir")
    ovs_db_start "$dir" >/dev/null || return 1
    CLUSTER_OVSDB=$OVS_DB
    local args=() br
    for br in "$@"; do
        args+=(-- add-br "$br")
    done
    [ ${#args[@]} -eq 0 ] || ovs_vsctl "${args[@]}" >/dev/null
}

# cluster_ovsdb_start_many NAME COUNT PARALLEL BRIDGE...: COUNT ovsdb-servers,
# each in $CLUSTER_DIR/ovs-NAME-I (I from 0) with the BRIDGEs, as COUNT nodes
# would have: one database is made with cluster_ovsdb_start and copied, then
# the servers start PARALLEL at a time (ovs_db_start returns once a server
# answers).  Sets CLUSTER_OVSDBS to their remotes, in order.
CLUSTER_OVSDBS=()
cluster_ovsdb_start_many() {
    local name=$1 count=$2 parallel=$3 i j dir pids rc=0
    shift 3
    cluster_ovsdb_start "$name-template" "$@" || return 1
    OVS_DB_DIR=$CLUSTER_DIR/ovs-$name-template ovs_db_stop
    CLUSTER_OVSDBS=()
    for ((i = 0; i < count; i += parallel)); do
        pids=()
        for ((j = i; j < count && j < i + parallel; j++)); do
            dir=$CLUSTER_DIR/ovs-$name-$j
            mkdir -p "$dir" && cp "$CLUSTER_DIR/ovs-$name-template/conf.db" "$dir/" || return 1
            CLUSTER_OVSDB_DIRS+=("$dir")
            CLUSTER_OVSDBS+=("unix:$dir/db.sock")
            ovs_db_start "$dir" >/dev/null &
            pids+=($!)
        done
        for j in "${pids[@]}"; do
            wait "$j" || rc=1
        done
        [ $rc = 0 ] || { cluster_log "ovsdb-servers ovs-$name-$i.. did not start"; return 1; }
    done
}

# cluster_applier_start NODE NODE_IP OVSDB BRIDGE [ARGS...]: exportflows-applier
# for node NODE in Kubernetes mode, as process "applier-NODE" (the ConfigMap in
# exportflows; its status Lease in exportflows-nodes, the program's default
# --node-namespace, not passed so that an older release's applier takes the
# same command line), with the
# kubeconfig CLUSTER_APPLIER_KUBECONFIG[NODE] when set (e.g. from
# cluster_pod_kubeconfig), else cluster_kubeconfig's; the program from the
# directory CLUSTER_APPLIER_BIN[NODE] when set, else CLUSTER_BIN.
declare -A CLUSTER_APPLIER_KUBECONFIG=()
declare -A CLUSTER_APPLIER_BIN=()
cluster_applier_start() {
    local node=$1 ip=$2 db=$3 br=$4 kubeconfig=${CLUSTER_APPLIER_KUBECONFIG[$1]:-}
    local bin=${CLUSTER_APPLIER_BIN[$1]:-$CLUSTER_BIN}
    shift 4
    [ -n "$kubeconfig" ] || kubeconfig=$(cluster_kubeconfig exportflows-applier) || return 1
    : >"$CLUSTER_DIR/logs/applier-$node.log"
    cluster_spawn "applier-$node" "$bin/exportflows-applier" \
        --kubeconfig "$kubeconfig" --namespace exportflows \
        --configmap exportflows-config --node-name "$node" --node-ip "$ip" \
        --ovsdb "$db" --bridge "$br" --health-listen 127.0.0.1:0 "$@"
}

# cluster_applier_health NODE: waits for applier NODE's health address.
cluster_applier_health() {
    cluster_wait_ms "applier $1's listening address" 10000 \
        cluster_listen_addr "applier-$1" health >/dev/null || return 1
    CLUSTER_HEALTH[applier-$1]=$(cluster_listen_addr "applier-$1" health)
}

# cluster_bridges DB: one line per bridge of database DB, with what flow export
# it has, in a canonical form (targets sorted; "-" when the column is empty):
#   BRIDGE netflow=T,T/active_timeout sflow=T,T/sampling/header/polling/agent
#          ipfix=T,T/sampling/cache_active_timeout/obs_domain_id/obs_point_id
# One ovsdb-client call reads the four tables in one transaction, so the line
# is consistent.
cluster_bridges() {
    ovsdb-client --timeout=10 transact "$1" '["Open_vSwitch",
        {"op": "select", "table": "Bridge", "where": [], "columns": ["name", "netflow", "sflow", "ipfix"]},
        {"op": "select", "table": "NetFlow", "where": [], "columns": ["_uuid", "targets", "active_timeout"]},
        {"op": "select", "table": "sFlow", "where": [],
         "columns": ["_uuid", "targets", "sampling", "header", "polling", "agent"]},
        {"op": "select", "table": "IPFIX", "where": [],
         "columns": ["_uuid", "targets", "sampling", "cache_active_timeout", "obs_domain_id", "obs_point_id"]}]' |
        "$CLUSTER_PYTHON" -c '
import json, sys
res = json.load(sys.stdin)

def atoms(v):
    # An OVSDB set is ["set", [...]] unless it holds exactly one atom.
    if isinstance(v, list) and v and v[0] == "set":
        return [a for a in v[1]]
    return [v]

def scalar(v):
    a = atoms(v)
    return str(a[0]) if a else ""

tables = {}
for name, r in zip(["NetFlow", "sFlow", "IPFIX"], res[1:4]):
    tables[name] = {row["_uuid"][1]: row for row in r["rows"]}
fields = {"NetFlow": ["active_timeout"],
          "sFlow": ["sampling", "header", "polling", "agent"],
          "IPFIX": ["sampling", "cache_active_timeout", "obs_domain_id", "obs_point_id"]}
for br in sorted(res[0]["rows"], key=lambda r: r["name"]):
    out = [br["name"]]
    for col, table in (("netflow", "NetFlow"), ("sflow", "sFlow"), ("ipfix", "IPFIX")):
        ref = atoms(br[col])
        if not ref:
            out.append(col + "=-")
            continue
        row = tables[table][ref[0][1]]
        parts = [",".join(sorted(atoms(row["targets"])))]
        parts += [scalar(row[f]) for f in fields[table]]
        out.append(col + "=" + "/".join(parts))
    print(" ".join(out))
'
}

# cluster_bridge_is DB BRIDGE WANT: true when cluster_bridges shows BRIDGE as
# "BRIDGE WANT".  The last line seen is in CLUSTER_BRIDGE_SEEN.
CLUSTER_BRIDGE_SEEN=
cluster_bridge_is() {
    CLUSTER_BRIDGE_SEEN=$(cluster_bridges "$1" | awk -v b="$2" '$1 == b')
    [ "$CLUSTER_BRIDGE_SEEN" = "$2 $3" ]
}

# ------------------------------------------------------------------ whole system

# cluster_up DIR [WEBHOOK_ARGS...]: control plane, the CRD CLUSTER_CRD names,
# identities and the webhook with its publisher.  Appliers and ovsdb-servers are
# the caller's.
cluster_up() {
    CLUSTER_DIR=$(mkdir -p "$1" && cd "$1" && pwd) || return 1
    shift
    mkdir -p "$CLUSTER_DIR/logs"
    CLUSTER_BIN=$(cd "${EXPORTFLOWS_BIN_DIR:-$CLUSTER_ROOT/bin}" && pwd) || return 1
    local p
    for p in exportflows exportflows-webhook exportflows-applier; do
        [ -x "$CLUSTER_BIN/$p" ] || { cluster_log "$CLUSTER_BIN/$p is missing (make)"; return 1; }
    done
    if [ -z "${K8S_BIN_DIR:-}" ]; then
        K8S_BIN_DIR=$("$CLUSTER_ROOT/tests/k8s/build-fixtures.sh" | tail -n 1) || return 1
    fi
    export K8S_BIN_DIR
    cluster_control_plane_start || return 1
    cluster_crd_apply "$CLUSTER_CRD" || return 1
    cluster_identities || return 1
    cluster_webhook_start "$@"
}

# cluster_down: stops everything cluster_up and the helpers started.  Safe to
# call more than once and after a partial start.
cluster_down() {
    local name dir
    for name in "${!CLUSTER_PID[@]}"; do
        kill -TERM "${CLUSTER_PID[$name]}" 2>/dev/null || true
    done
    for dir in "${CLUSTER_OVSDB_DIRS[@]}"; do
        [ -s "$dir/ovsdb-server.pid" ] && kill -TERM "$(cat "$dir/ovsdb-server.pid")" 2>/dev/null || true
    done
    for name in "${!CLUSTER_PID[@]}"; do
        cluster_stop_process "$name"
    done
    for dir in "${CLUSTER_OVSDB_DIRS[@]}"; do
        OVS_DB_DIR=$dir ovs_db_stop
    done
    CLUSTER_OVSDB_DIRS=()
    if [ "$CLUSTER_CP_STARTED" = 1 ]; then
        "$CLUSTER_ROOT/tests/k8s/control-plane.sh" stop "$CLUSTER_DIR/cp" >/dev/null 2>&1
        CLUSTER_CP_STARTED=0
    fi
}

# cluster_show_logs [LINES]: the last lines of every log, after a failure.
cluster_show_logs() {
    local f
    for f in "$CLUSTER_DIR"/logs/*.log "$CLUSTER_DIR"/cp/logs/*.log; do
        [ -s "$f" ] || continue
        echo "--- $f" >&2
        tail -n "${1:-15}" "$f" >&2
    done
}
