#!/usr/bin/env bash
# smoke.sh: end-to-end check of the Kubernetes test fixtures.  Builds (or finds
# the cached) etcd/kube-apiserver/kubectl, starts a control plane in a temp
# dir with control-plane.sh, checks kubectl works as admin, creates a
# ConfigMap, restarts kube-apiserver and checks the ConfigMap survived (etcd
# kept it, same URL and certs), then stops everything.  Exit 0 = pass.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cp="$here/control-plane.sh"
passed=0
failed=0

say() { printf 'k8s-smoke: %s\n' "$*" >&2; }
pass() { passed=$((passed + 1)); say "ok: $*"; }
fail() {
    failed=$((failed + 1))
    say "FAIL: $*"
    exit 1
}
# expect DESCRIPTION WANT GOT
expect() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: want '$2', got '$3'"; fi
}

work=$(mktemp -d "${TMPDIR:-/tmp}/exportflows-k8s-smoke.XXXXXX")
cleanup() {
    local rc=$?
    "$cp" stop "$work" || rc=1
    if [ "$rc" -ne 0 ]; then
        say "logs kept in $work/logs"
        for f in "$work"/logs/*.log; do
            [ -f "$f" ] || continue
            say "--- last lines of $f"
            tail -n 20 "$f" >&2
        done
        [ "$failed" -gt 0 ] || failed=1
    else
        rm -rf "$work"
    fi
    echo "k8s-smoke: $passed passed, $failed failed"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bin=$("$here/build-fixtures.sh" | tail -n1)
for b in etcd kube-apiserver kubectl; do
    [ -x "$bin/$b" ] || fail "fixture binary $bin/$b missing"
done
pass "fixtures in $bin"
export K8S_BIN_DIR=$bin
export PATH="$bin:$PATH"

"$cp" start "$work" || fail "control-plane.sh start"
[ -f "$work/env" ] || fail "no $work/env"
# shellcheck disable=SC1091
. "$work/env"
for v in KUBECONFIG APISERVER_URL ETCD_ENDPOINT ETCD_PID APISERVER_PID; do
    [ -n "${!v:-}" ] || fail "env lacks $v"
done
[ "$KUBECONFIG" = "$work/kubeconfig" ] || fail "KUBECONFIG=$KUBECONFIG"
case "$APISERVER_URL" in https://127.0.0.1:*) ;; *) fail "APISERVER_URL=$APISERVER_URL" ;; esac
case "$ETCD_ENDPOINT" in http://127.0.0.1:*) ;; *) fail "ETCD_ENDPOINT=$ETCD_ENDPOINT" ;; esac
pass "control plane up: $APISERVER_URL (pid $APISERVER_PID), etcd $ETCD_ENDPOINT (pid $ETCD_PID)"

url1=$APISERVER_URL
pid1=$APISERVER_PID

# kubectl talks to it with the admin kubeconfig, and the server reports the
# pinned release (kubectl and kube-apiserver come from the same build).
expect "kubectl get ns default" default \
    "$(kubectl get ns default -o jsonpath='{.metadata.name}')"
client_ver=$(kubectl version -o json | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | sed -n 1p)
server_ver=$(kubectl version -o json | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | sed -n 2p)
expect "server version matches kubectl" "$client_ver" "$server_ver"
case "$server_ver" in v1.*) pass "server version $server_ver" ;; *) fail "server version '$server_ver'" ;; esac
expect "admin is cluster-admin (RBAC, system:masters)" yes "$(kubectl auth can-i '*' '*' --all-namespaces)"
expect "RBAC denies an unprivileged identity" no \
    "$(kubectl auth can-i get configmaps --as=nobody -n default || true)"

# Write a ConfigMap, restart kube-apiserver, read it back.
kubectl create configmap exportflows-smoke -n default --from-literal=key=value-1 >/dev/null \
    || fail "kubectl create configmap"
expect "configmap readable" value-1 \
    "$(kubectl get configmap exportflows-smoke -n default -o jsonpath='{.data.key}')"

"$cp" restart-apiserver "$work" || fail "control-plane.sh restart-apiserver"
# shellcheck disable=SC1091
. "$work/env"
expect "same URL after restart" "$url1" "$APISERVER_URL"
[ "$APISERVER_PID" != "$pid1" ] || fail "apiserver pid unchanged after restart ($pid1)"
if [ -e "/proc/$pid1" ] && ! grep -q '^State:.*Z' "/proc/$pid1/status" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$pid1/cmdline" | grep -q kube-apiserver; then
    fail "old kube-apiserver $pid1 still running"
fi
pass "kube-apiserver restarted: pid $pid1 -> $APISERVER_PID"
expect "configmap survived the restart" value-1 \
    "$(kubectl get configmap exportflows-smoke -n default -o jsonpath='{.data.key}')"

# Writes work after the restart too.
kubectl patch configmap exportflows-smoke -n default --type=merge \
    -p '{"data":{"key":"value-2"}}' >/dev/null || fail "kubectl patch configmap"
expect "configmap updated after restart" value-2 \
    "$(kubectl get configmap exportflows-smoke -n default -o jsonpath='{.data.key}')"

# Clean stop: both processes gone.
"$cp" stop "$work" || fail "control-plane.sh stop"
for p in "$APISERVER_PID" "$ETCD_PID"; do
    if [ -e "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then
        fail "pid $p still running after stop"
    fi
done
pass "stop ended kube-apiserver and etcd"
