#!/usr/bin/env bash
# control-plane.sh: runs a real, throw-away Kubernetes control plane (etcd +
# kube-apiserver, no controller-manager, scheduler or nodes) on loopback for
# tests, with everything kept under one directory DIR.
#
#   control-plane.sh start DIR              fresh certs and etcd data, start etcd and
#                                           kube-apiserver, wait until ready
#   control-plane.sh stop DIR               stop both (TERM, then KILL)
#   control-plane.sh restart-apiserver DIR  stop and start kube-apiserver only,
#                                           same port, certs and etcd
#
# After start, DIR/env is a shell-sourceable file with KUBECONFIG,
# APISERVER_URL, APISERVER_PORT, ETCD_ENDPOINT, ETCD_PID, APISERVER_PID,
# K8S_BIN_DIR and the PKI paths (K8S_CA_CERT, K8S_CA_KEY, K8S_ADMIN_CERT,
# K8S_ADMIN_KEY).  DIR/kubeconfig is an admin (system:masters) kubeconfig with
# the certificates embedded.  Logs are in DIR/logs/.
#
# Binaries: $K8S_BIN_DIR if set, else whatever tests/k8s/build-fixtures.sh
# prints (it builds them once and caches them).
# Environment: K8S_START_TIMEOUT (seconds to wait for readiness, default 180),
# K8S_ADMISSION_PLUGINS (admission plugins to enable besides the defaults,
# comma-separated, e.g. OwnerReferencesPermissionEnforcement as OpenShift runs),
# K8S_APISERVER_ARGS (more kube-apiserver flags, split on white space, e.g. an
# audit log for a benchmark); both read at start and kept in DIR/env for
# restart-apiserver.

# Variables written to DIR/env are read through ${!v} in write_env.
# shellcheck disable=SC2034
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
timeout_s=${K8S_START_TIMEOUT:-180}
wait_pid='' wait_name=''   # the process wait_for watches (set per call)

log() { printf 'control-plane: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
    echo "usage: $0 start|stop|restart-apiserver DIR" >&2
    exit 2
}

# --- helpers ---------------------------------------------------------------

# True when some TCP socket (any state, IPv4 or IPv6) uses local port $1.
port_in_use() {
    local hex
    hex=$(printf ':%04X' "$1")
    awk -v h="$hex" 'FNR > 1 && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Prints a random free port below the kernel's ephemeral range (so outgoing
# connections cannot be holding it) and not in the list "$1".  There is a
# small race between choosing and binding; start() retries on bind failure.
free_port() {
    local avoid=" ${1:-} " low port _
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    [ "$low" -gt 12000 ] || low=32768
    for _ in $(seq 1 200); do
        port=$(( 10000 + (RANDOM * 32768 + RANDOM) % (low - 10000) ))
        case "$avoid" in *" $port "*) continue ;; esac
        port_in_use "$port" || { echo "$port"; return 0; }
    done
    die "no free port found"
}

# True when pid $1 is alive (not a zombie) and its command line contains $2.
# The name check guards against killing an unrelated process that reused the id.
pid_is() {
    local pid=$1 name=$2 state
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
    state=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ "$state" != Z ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name"
}

# Stops one process we started: SIGTERM, wait up to 30s, then SIGKILL.
stop_pid() {
    local pid=$1 name=$2 _
    pid_is "$pid" "$name" || return 0
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do
        pid_is "$pid" "$name" || return 0
        sleep 0.1
    done
    log "$name (pid $pid) ignored SIGTERM for 30s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        pid_is "$pid" "$name" || return 0
        sleep 0.1
    done
    die "could not stop $name (pid $pid)"
}

# Polls command "$@" until it succeeds, the deadline passes, or the process
# $wait_pid ($wait_name) dies; prints the log tail on failure.
wait_for() {
    local what=$1 logf=$2; shift 2
    local deadline=$(( $(date +%s) + timeout_s ))
    while ! "$@" >/dev/null 2>&1; do
        if ! pid_is "$wait_pid" "$wait_name"; then
            log "$wait_name exited while waiting for $what; last log lines:"
            tail -n 30 "$logf" >&2 || true
            return 1
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "timed out after ${timeout_s}s waiting for $what; last log lines:"
            tail -n 30 "$logf" >&2 || true
            return 1
        fi
        sleep 0.2
    done
}

# Starts "$@" detached (own session, stdio to a log file) and prints its pid.
# With no job control, a background job is not a group leader, so setsid
# execs in place and $! is the daemon's own pid.
spawn() {
    local logf=$1; shift
    setsid "$@" </dev/null >>"$logf" 2>&1 &
    echo $!
}

load_env() {
    [ -f "$dir/env" ] || die "$dir/env not found (control plane not started?)"
    # shellcheck disable=SC1091
    . "$dir/env"
}

# Writes DIR/env atomically from the current variables.
write_env() {
    local v
    {
        echo "# Written by tests/k8s/control-plane.sh; source it: . $dir/env"
        for v in KUBECONFIG APISERVER_URL APISERVER_PORT ETCD_ENDPOINT ETCD_PEER_PORT \
                 ETCD_PID APISERVER_PID K8S_BIN_DIR K8S_CA_CERT K8S_CA_KEY \
                 K8S_ADMIN_CERT K8S_ADMIN_KEY K8S_CONTROL_PLANE_DIR K8S_ADMISSION_PLUGINS \
                 K8S_APISERVER_ARGS; do
            printf 'export %s=%q\n' "$v" "${!v:-}"
        done
    } >"$dir/env.tmp"
    mv "$dir/env.tmp" "$dir/env"
}

# --- PKI --------------------------------------------------------------------

# CA, apiserver serving cert, admin client cert, service-account key pair.
make_pki() {
    local pki=$dir/pki
    mkdir -p "$pki"
    (
        cd "$pki"
        umask 077
        openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 3650 \
            -keyout ca.key -out ca.crt -subj "/CN=exportflows-test-ca" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

        # sign NAME SUBJECT EXTENSIONS: key + CSR + CA-signed certificate.
        sign() {
            openssl req -new -nodes -newkey rsa:2048 -keyout "$1.key" -out "$1.csr" \
                -subj "$2" 2>/dev/null
            printf '%s\n' "$3" >"$1.ext"
            openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
                -sha256 -days 3650 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
            rm -f "$1.csr" "$1.ext"
        }
        sign apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"
        sign admin "/O=system:masters/CN=exportflows-test-admin" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"

        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
        openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
    ) || die "certificate generation with openssl failed"
    K8S_CA_CERT=$pki/ca.crt
    K8S_CA_KEY=$pki/ca.key
    K8S_ADMIN_CERT=$pki/admin.crt
    K8S_ADMIN_KEY=$pki/admin.key
}

write_kubeconfig() {
    local b64="base64 -w0"
    cat >"$dir/kubeconfig.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: exportflows-test
  cluster:
    server: $APISERVER_URL
    certificate-authority-data: $($b64 <"$K8S_CA_CERT")
users:
- name: admin
  user:
    client-certificate-data: $($b64 <"$K8S_ADMIN_CERT")
    client-key-data: $($b64 <"$K8S_ADMIN_KEY")
contexts:
- name: admin@exportflows-test
  context:
    cluster: exportflows-test
    user: admin
current-context: admin@exportflows-test
EOF
    chmod 600 "$dir/kubeconfig.tmp"
    mv "$dir/kubeconfig.tmp" "$dir/kubeconfig"
    KUBECONFIG=$dir/kubeconfig
}

# --- etcd -------------------------------------------------------------------

start_etcd() {
    local cport=$1 pport=$2
    mkdir -p "$dir/etcd" "$dir/logs"
    chmod 700 "$dir/etcd"
    ETCD_ENDPOINT=http://127.0.0.1:$cport
    ETCD_PEER_PORT=$pport
    # Single member, plain HTTP on loopback only.  --unsafe-no-fsync: test
    # data is disposable and fsync makes a small VM's disk the bottleneck.
    ETCD_PID=$(spawn "$dir/logs/etcd.log" "$K8S_BIN_DIR/etcd" \
        --name exportflows-test \
        --data-dir "$dir/etcd" \
        --listen-client-urls "$ETCD_ENDPOINT" \
        --advertise-client-urls "$ETCD_ENDPOINT" \
        --listen-peer-urls "http://127.0.0.1:$pport" \
        --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
        --initial-cluster "exportflows-test=http://127.0.0.1:$pport" \
        --initial-cluster-state new \
        --unsafe-no-fsync \
        --log-level warn)
    write_env   # record the pid at once, so that stop works even if we are interrupted
    wait_pid=$ETCD_PID wait_name=etcd \
        wait_for "etcd health at $ETCD_ENDPOINT" "$dir/logs/etcd.log" etcd_healthy
}

etcd_healthy() {
    curl -fsS --max-time 2 "$ETCD_ENDPOINT/health" | grep -q '"health":"true"'
}

# --- kube-apiserver ----------------------------------------------------------

start_apiserver() {
    local pki=$dir/pki extra=()
    read -r -a extra <<<"${K8S_APISERVER_ARGS:-}"
    mkdir -p "$dir/apiserver" "$dir/logs"
    APISERVER_URL=https://127.0.0.1:$APISERVER_PORT
    echo "=== kube-apiserver start $(date -u +%FT%TZ) on port $APISERVER_PORT ===" \
        >>"$dir/logs/kube-apiserver.log"
    # --advertise-address=127.0.0.1 keeps the machine's real addresses out of
    # the cluster.  Endpoints may not hold loopback IPs, so the reconciler of
    # the "kubernetes" Service endpoints is off (it would log an error every
    # few seconds); nothing here routes to the Service anyway: the service
    # range is only a config value, no traffic goes there.
    [ -z "${K8S_ADMISSION_PLUGINS:-}" ] \
        || extra+=(--enable-admission-plugins "$K8S_ADMISSION_PLUGINS")
    APISERVER_PID=$(spawn "$dir/logs/kube-apiserver.log" "$K8S_BIN_DIR/kube-apiserver" \
        --etcd-servers "$ETCD_ENDPOINT" \
        --bind-address 127.0.0.1 \
        --advertise-address 127.0.0.1 \
        --endpoint-reconciler-type none \
        --secure-port "$APISERVER_PORT" \
        --cert-dir "$dir/apiserver" \
        --tls-cert-file "$pki/apiserver.crt" \
        --tls-private-key-file "$pki/apiserver.key" \
        --client-ca-file "$pki/ca.crt" \
        --service-account-issuer https://kubernetes.default.svc.cluster.local \
        --service-account-key-file "$pki/sa.pub" \
        --service-account-signing-key-file "$pki/sa.key" \
        --authorization-mode RBAC \
        --shutdown-watch-termination-grace-period 2s \
        --service-cluster-ip-range 10.96.0.0/24 "${extra[@]}")
    write_env   # record the pid at once, so that stop works even if we are interrupted
    wait_pid=$APISERVER_PID wait_name=kube-apiserver \
        wait_for "kube-apiserver /readyz at $APISERVER_URL" "$dir/logs/kube-apiserver.log" \
        api_get /readyz || return 1
    # /readyz does not cover the bootstrap controller creating the "default"
    # namespace; tests expect it to exist, so wait for it too.
    wait_pid=$APISERVER_PID wait_name=kube-apiserver \
        wait_for "namespace default" "$dir/logs/kube-apiserver.log" \
        api_get /api/v1/namespaces/default
}

api_get() {
    curl -fsS --max-time 5 --cacert "$K8S_CA_CERT" --cert "$K8S_ADMIN_CERT" \
        --key "$K8S_ADMIN_KEY" "$APISERVER_URL$1"
}

# True when the log shows the last start failed on a taken port (the small
# race in free_port); start() then retries with new ports.
bind_conflict() { tail -n 50 "$1" 2>/dev/null | grep -qi 'address already in use'; }

# --- subcommands -------------------------------------------------------------

cmd_start() {
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ -f "$dir/env" ] && ( load_env
            pid_is "${ETCD_PID:-}" etcd || pid_is "${APISERVER_PID:-}" kube-apiserver ); then
        die "a control plane from $dir is still running; stop it first"
    fi
    # Everything DIR/env records; the caller's own KUBECONFIG etc. never leak in.
    K8S_CONTROL_PLANE_DIR=$dir
    KUBECONFIG=$dir/kubeconfig
    APISERVER_URL='' APISERVER_PORT='' APISERVER_PID=''
    ETCD_ENDPOINT='' ETCD_PEER_PORT='' ETCD_PID=''
    K8S_BIN_DIR=${K8S_BIN_DIR:-$("$here/build-fixtures.sh" | tail -n1)}
    local b
    for b in etcd kube-apiserver; do
        [ -x "$K8S_BIN_DIR/$b" ] || die "$K8S_BIN_DIR/$b missing"
    done

    make_pki
    local attempt cport pport
    for attempt in 1 2 3; do
        cport=$(free_port)
        pport=$(free_port "$cport")
        rm -rf "$dir/etcd"
        start_etcd "$cport" "$pport" && break
        stop_pid "$ETCD_PID" etcd
        if ! bind_conflict "$dir/logs/etcd.log" || [ "$attempt" -ge 3 ]; then
            die "etcd did not start (log: $dir/logs/etcd.log)"
        fi
        log "port clash, retrying etcd with new ports"
    done
    log "etcd pid $ETCD_PID at $ETCD_ENDPOINT"

    for attempt in 1 2 3; do
        APISERVER_PORT=$(free_port "$cport $pport")
        APISERVER_URL=https://127.0.0.1:$APISERVER_PORT
        write_kubeconfig
        if start_apiserver; then break; fi
        stop_pid "$APISERVER_PID" kube-apiserver
        if ! bind_conflict "$dir/logs/kube-apiserver.log" || [ "$attempt" -ge 3 ]; then
            stop_pid "$ETCD_PID" etcd
            die "kube-apiserver did not become ready (log: $dir/logs/kube-apiserver.log)"
        fi
        log "port clash, retrying kube-apiserver on a new port"
    done
    write_env
    log "kube-apiserver pid $APISERVER_PID at $APISERVER_URL; env: $dir/env"
}

cmd_stop() {
    [ -f "$dir/env" ] || { log "nothing to stop in $dir"; return 0; }
    load_env
    stop_pid "${APISERVER_PID:-}" kube-apiserver
    stop_pid "${ETCD_PID:-}" etcd
}

cmd_restart_apiserver() {
    dir=$(cd "$dir" && pwd)
    load_env
    pid_is "$ETCD_PID" etcd || die "etcd (pid $ETCD_PID) is not running"
    stop_pid "$APISERVER_PID" kube-apiserver
    start_apiserver || die "kube-apiserver did not become ready after restart (log: $dir/logs/kube-apiserver.log)"
    write_env
    log "kube-apiserver restarted: pid $APISERVER_PID at $APISERVER_URL"
}

[ $# -eq 2 ] || usage
dir=$2
case "$1" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart-apiserver) cmd_restart_apiserver ;;
    *) usage ;;
esac
