#!/usr/bin/env bash
# applier-kube.sh — exportflows-applier with its Kubernetes source against a real
# kube-apiserver (tests/k8s/control-plane.sh) and a real ovsdb-server: it runs as
# the service account of manifests/base/applier-rbac.yaml, with only those Roles
# (get/list/watch the ConfigMap exportflows-config in namespace exportflows,
# create/get/update/delete Leases in its own namespace exportflows-nodes) and a
# token from the TokenRequest API, waits for a
# ConfigMap that does not exist yet, applies it, follows edits, keeps the last
# good config on a corrupt payload and on deletion, reports everything in its
# status Lease (checked with kubectl -o jsonpath and the documented
# custom-columns command), makes no API request while idle except its watch,
# survives a kube-apiserver restart, and, restarted with the ConfigMap present,
# finds OVS in sync without a transaction.  Every wait polls with a deadline.
# EXPORTFLOWS_APPLIER_LOG=FILE keeps a copy of the applier's log.
set -u
cd "$(dirname "$0")/../.."
. tests/system/lib-ovs.sh
. tests/system/lib-applier.sh

BIN=${EXPORTFLOWS_BIN_DIR:-bin}
CP=tests/k8s/control-plane.sh
NS=exportflows              # the ConfigMap's
NODE_NS=exportflows-nodes   # the applier's own: its status Lease
NODE=node-a
LEASE=exportflows-node-$NODE
dir=$(mktemp -d)
applier_pid=
passed=0
cleanup() {
    local rc=$?
    [ -n "${EXPORTFLOWS_APPLIER_LOG:-}" ] && cat "$dir"/applier*.log >"$EXPORTFLOWS_APPLIER_LOG"
    [ -n "$applier_pid" ] && kill -TERM "$applier_pid" 2>/dev/null && wait "$applier_pid"
    "$CP" stop "$dir/k8s" >/dev/null 2>&1
    ovs_db_stop
    rm -rf "$dir"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

applier_log=$dir/applier.log
fail() {
    echo "FAIL: $*" >&2
    echo "--- applier log ($applier_log)" >&2
    tail -n 60 "$applier_log" >&2
    echo "--- status lease" >&2
    kubectl -n "$NODE_NS" get lease "$LEASE" -o yaml >&2 2>/dev/null
    echo "$passed passed, 1 failed"
    exit 1
}
pass() { passed=$((passed + 1)); echo "ok: $*"; }
expect() {  # expect DESCRIPTION SECONDS COMMAND...
    local what=$1 secs=$2
    shift 2
    ovs_wait_for "$what" "$secs" "$@" || fail "$what"
    pass "$what"
}

# ---- fixtures ----

K8S_BIN_DIR=${K8S_BIN_DIR:-$(tests/k8s/build-fixtures.sh | tail -n1)}
export K8S_BIN_DIR
export PATH="$K8S_BIN_DIR:$PATH"
"$CP" start "$dir/k8s" >"$dir/control-plane.log" 2>&1 ||
    { cat "$dir/control-plane.log" >&2; fail "control plane did not start"; }
. "$dir/k8s/env"
pass "kube-apiserver at $APISERVER_URL"
ovs_db_start "$dir" || fail "cannot start ovsdb-server"
ovs_vsctl add-br br-int || fail "add-br"

# The applier's identity: the DaemonSet's service account with the Role of the
# manifests, authenticated by a service account token as in a pod.
kubectl apply -f manifests/base/namespace.yaml -f manifests/base/applier-rbac.yaml >/dev/null ||
    fail "cannot apply the namespace and the applier's RBAC from manifests/base"
token=$(kubectl -n "$NODE_NS" create token exportflows-applier --duration=2h) ||
    fail "cannot get a service account token"
cat >"$dir/applier.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "$APISERVER_URL", certificate-authority: "$K8S_CA_CERT"}
users:
- name: applier
  user: {token: "$token"}
contexts:
- name: applier
  context: {cluster: test, user: applier}
current-context: applier
EOF
sa=system:serviceaccount:$NODE_NS:exportflows-applier
[ "$(kubectl auth can-i list secrets -n "$NS" --as "$sa")" = no ] &&
    [ "$(kubectl auth can-i patch leases -n "$NODE_NS" --as "$sa")" = no ] &&
    [ "$(kubectl auth can-i update leases -n "$NS" --as "$sa")" = no ] &&
    [ "$(kubectl auth can-i create leases -n "$NS" --as "$sa")" = no ] &&
    [ "$(kubectl auth can-i get configmaps/other -n "$NS" --as "$sa")" = no ] ||
    fail "the applier's service account has more rights than documented"
pass "applier runs as $sa with the Role of manifests/base"

# ---- helpers ----

# set_config JSON: creates or replaces the ConfigMap as the publisher would.
set_config() {
    printf '%s' "$1" >"$dir/config.json"
    kubectl -n "$NS" create configmap exportflows-config --from-file=config.json="$dir/config.json" \
        --dry-run=client -o yaml | kubectl apply -f - >/dev/null || fail "cannot write the ConfigMap"
}
ann() {  # ann KEY: an annotation of the status Lease
    kubectl -n "$NODE_NS" get lease "$LEASE" -o jsonpath="{.metadata.annotations.exportflows\.io/$1}" 2>/dev/null
}
ann_is() { [ "$(ann "$1")" = "$2" ]; }
ann_has() { ann "$1" | grep -q -- "$2"; }
status_ok='exportflows_applier_status_writes_total{result="ok"}'
# api_requests VERB RESOURCE: kube-apiserver's count of such requests so far
# (a WATCH is counted when it ends).
api_requests() {
    api_metric apiserver_request_total "$1" "$2" ''
}
# open_watches RESOURCE: namespaced WATCH requests open now.
open_watches() {
    api_metric apiserver_longrunning_requests WATCH "$1" 'scope="namespace"'
}
api_metric() {  # api_metric NAME VERB RESOURCE [MATCH]: summed over the other labels
    kubectl get --raw /metrics | awk -v m="$1{" -v v="verb=\"$2\"" -v r="resource=\"$3\"" \
        -v x="$4" 'index($0, m) == 1 && index($0, v) && index($0, r) && (x == "" || index($0, x)) { n += $NF }
        END { print n + 0 }'
}
POD_UID=6f1d2c3b-0000-4000-8000-00000000000a
start_applier() {
    applier_log=$1
    shift
    "$BIN/exportflows-applier" --kubeconfig "$dir/applier.kubeconfig" --namespace "$NS" \
        --node-namespace "$NODE_NS" --configmap exportflows-config --ovsdb "$OVS_DB" --node-name "$NODE" \
        --pod-name exportflows-applier-test --pod-uid "$POD_UID" \
        --node-ip 10.0.0.9 --health-listen 127.0.0.1:0 --log-level debug "$@" >"$applier_log" 2>&1 &
    applier_pid=$!
    ovs_wait_for "health server port logged" 10 log_has "listening address=.* server=health" ||
        fail "applier did not start"
    metrics_port=$(applier_metrics_port)
}
stop_applier() {
    kill -TERM "$applier_pid"
    wait "$applier_pid"
    local rc=$?
    applier_pid=
    [ $rc = 0 ] || fail "applier exit status $rc on SIGTERM"
}

h1=sha256:1111111111111111111111111111111111111111111111111111111111111111
h2=sha256:2222222222222222222222222222222222222222222222222222222222222222
h3=sha256:3333333333333333333333333333333333333333333333333333333333333333
cfg1='{"generation": 1, "hash": "'$h1'", "netFlow": {"collectors": ["172.30.158.150:2056"], "activeTimeout": 60}}'
cfg2='{"generation": 2, "hash": "'$h2'",
  "netFlow": {"collectors": ["172.30.158.150:2056"], "activeTimeout": 60},
  "sFlow": {"collectors": ["172.30.158.150:6343"], "agent": "ovn-k8s-mp0", "header": 128, "sampling": 64, "polling": 10},
  "ipfix": {"collectors": ["172.30.158.150:2055", ":4739"], "sampling": 400,
            "cacheActiveTimeout": 60, "cacheMaxFlows": 0, "obsDomainID": 123, "obsPointID": 456}}'
cfg3='{"generation": 3, "hash": "'$h3'",
  "netFlow": {"collectors": ["10.1.1.1:9995"], "activeTimeout": 30},
  "ipfix": {"collectors": ["172.30.158.150:2055"], "sampling": 100,
            "cacheActiveTimeout": 60, "cacheMaxFlows": 0, "obsDomainID": 123, "obsPointID": 456}}'
cfg4='{"generation": 4, "netFlow": {"collectors": ["10.1.1.2:9995"], "activeTimeout": 30}}'

# ---- usage ----

"$BIN/exportflows-applier" --kubeconfig "$dir/applier.kubeconfig" --config-file x \
    --health-listen none >/dev/null 2>&1
[ $? = 2 ] || fail "--kubeconfig with --config-file is not a usage error"
env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST "$BIN/exportflows-applier" \
    --health-listen none >/dev/null 2>&1
[ $? = 2 ] || fail "no source outside a cluster is not a usage error"
pass "usage errors exit 2"

# ---- the ConfigMap appears, changes, breaks, is fixed ----

start_applier "$dir/applier.log"
expect "missing ConfigMap reported" 20 log_has "configmap 'exportflows/exportflows-config' not found"
expect "status Lease shows the missing ConfigMap" 20 ann_has last-error "not found"
ann_is in-sync false && ann_is state Failed || fail "in-sync with no config"
[ "$(kubectl -n "$NODE_NS" get lease "$LEASE" -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}/{.metadata.ownerReferences[0].uid}')" = \
    "Pod/exportflows-applier-test/$POD_UID" ] || fail "owner reference"
[ "$(kubectl -n "$NODE_NS" get lease "$LEASE" -o jsonpath='{.spec.holderIdentity}')" = "$NODE" ] ||
    fail "holderIdentity"
[ "$(kubectl -n "$NODE_NS" get lease "$LEASE" -o jsonpath='{.metadata.labels.exportflows\.io/node}')" = "$NODE" ] ||
    fail "node label"
pass "Lease holder and labels"

set_config "$cfg1"
expect "ConfigMap created -> netflow row" 20 col_is netflow targets '["172.30.158.150:2056"]'
expect "status: generation 1" 20 ann_is applied-generation 1
ann_is applied-hash "$h1" && ann_is in-sync true && ann_is last-error "" &&
    ann_is state Applied || fail "status after generation 1"
ann last-apply-time | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' ||
    fail "last-apply-time '$(ann last-apply-time)'"
pass "status: hash, in-sync, no error, RFC 3339 apply time"

set_config "$cfg2"
expect "ConfigMap edited -> sflow row" 20 col_is sflow targets '["172.30.158.150:6343"]'
expect "ipfix row with the node IP" 10 col_is ipfix targets '["10.0.0.9:4739", "172.30.158.150:2055"]'
expect "status: generation 2" 20 ann_is applied-generation 2
ann_is applied-hash "$h2" || fail "hash 2"

tx_before=$(metric "$tx_ok")
kubectl -n "$NS" create configmap exportflows-config \
    --from-literal=config.json='{"generation": 5, "netFlow": {"collectors": [' \
    --dry-run=client -o yaml | kubectl apply -f - >/dev/null
expect "corrupt config.json refused" 20 log_has "config refused"
expect "status: last-error names the refusal" 20 ann_has last-error "refused configmap"
ann_is in-sync false && ann_is state Failed && ann_is applied-generation 2 ||
    fail "status after refusal"
col_is sflow targets '["172.30.158.150:6343"]' || fail "last good config lost"
[ "$(metric "$tx_ok")" = "$tx_before" ] || fail "a refused config caused a transaction"
pass "last good config kept"

set_config "$cfg3"
expect "fixed -> netflow changed" 20 col_is netflow targets '["10.1.1.1:9995"]'
expect "fixed -> sflow removed" 10 sh -c "[ \"\$(ovs-vsctl --db=$OVS_DB --no-wait get bridge br-int sflow)\" = '[]' ]"
expect "status: in sync again, error cleared" 20 ann_is last-error ""
ann_is in-sync true && ann_is applied-generation 3 && ann_is applied-hash "$h3" ||
    fail "status after the fix"

# The documented kubectl view (docs/DEPLOY.md "Per-node status").
kubectl -n "$NODE_NS" get leases -l app.kubernetes.io/component=applier \
  -o custom-columns='NODE:.spec.holderIdentity,STATE:.metadata.annotations.exportflows\.io/state,GENERATION:.metadata.annotations.exportflows\.io/applied-generation,HASH:.metadata.annotations.exportflows\.io/applied-hash,APPLIED:.metadata.annotations.exportflows\.io/last-apply-time,RENEWED:.spec.renewTime,ERROR:.metadata.annotations.exportflows\.io/last-error' \
    >"$dir/view.txt" || fail "custom-columns view"
cat "$dir/view.txt"
grep -q "^$NODE  *Applied  *3  *$h3 " "$dir/view.txt" || fail "custom-columns view content"
pass "kubectl custom-columns view"

# ---- idle: the watch and nothing else ----

writes=$(metric "$status_ok")
status_requests=$(metric exportflows_applier_status_requests_total)
lists=$(api_requests LIST configmaps)
watches=$(api_requests WATCH configmaps)
idle_s=${APPLIER_KUBE_IDLE_SECONDS:-15}
sleep "$idle_s"     # a measurement window, not a synchronisation
[ "$(metric "$status_ok")" = "$writes" ] || fail "status writes while idle"
[ "$(metric exportflows_applier_status_requests_total)" = "$status_requests" ] ||
    fail "status requests while idle"
[ "$(api_requests LIST configmaps)" = "$lists" ] || fail "ConfigMap LISTs while idle"
[ "$(api_requests WATCH configmaps)" = "$watches" ] || fail "a WATCH ended while idle"
[ "$(open_watches configmaps)" = 1 ] || fail "the applier's watch is not open"
pass "idle ${idle_s}s: one open watch, no other API request ($writes status writes, $status_requests status requests so far)"

# ---- kube-apiserver restart ----

"$CP" restart-apiserver "$dir/k8s" >>"$dir/control-plane.log" 2>&1 || fail "restart-apiserver"
pass "kube-apiserver restarted"
set_config "$cfg4"
expect "a change after the restart arrives" 60 col_is netflow targets '["10.1.1.2:9995"]'
expect "status after the restart: generation 4" 60 ann_is applied-generation 4
ann applied-hash | grep -Eq '^sha256:[0-9a-f]{64}$' || fail "computed hash '$(ann applied-hash)'"
pass "hash computed when the config carries none"

# ---- deletion keeps the last config ----

tx_before=$(metric "$tx_ok")
kubectl -n "$NS" delete configmap exportflows-config >/dev/null || fail "delete ConfigMap"
expect "deletion reported" 20 log_has "not found: keeping the last config"
expect "status shows the deletion" 20 ann_has last-error "keeping the last config"
col_is netflow targets '["10.1.1.2:9995"]' || fail "deletion changed OVS"
set_config "$cfg4"
expect "recreated: in sync again" 20 ann_is in-sync true
ann_is last-error "" || fail "error not cleared after recreation"
[ "$(metric "$tx_ok")" = "$tx_before" ] || fail "deletion and recreation cost a transaction"
pass "deletion and recreation: no OVS transaction"

# ---- applier restart with the ConfigMap present ----

stop_applier
pass "exit 0 on SIGTERM"
start_applier "$dir/applier-2.log"
expect "restarted applier finds OVS in sync" 20 log_has "flow export already in place"
metric_is "$tx_ok" 0 || fail "restarted applier sent a transaction"
log_has "applied flow export" && fail "restarted applier applied something"
expect "status still in sync after the restart" 20 ann_is in-sync true
ann_is applied-generation 4 || fail "generation after the restart"
pass "no OVS transaction after an applier restart"

# ---- a node name that cannot be a Lease name: flow export without status ----

stop_applier
start_applier "$dir/applier-bad-node.log" --node-name "$(printf 'n%.0s' $(seq 240))"
expect "status disabled for an unusable node name" 20 log_has "node status disabled"
expect "flow export still runs" 20 log_has "flow export already in place"

# ---- --no-status writes nothing ----

stop_applier
kubectl -n "$NODE_NS" delete lease "$LEASE" >/dev/null || fail "delete Lease"
start_applier "$dir/applier-3.log" --no-status
expect "--no-status applier in sync" 20 log_has "flow export already in place"
kubectl -n "$NODE_NS" get lease "$LEASE" >/dev/null 2>&1 && fail "--no-status wrote a Lease"
pass "--no-status writes no Lease"
stop_applier

echo "applier-kube: $passed passed, 0 failed"
