#!/usr/bin/env bash
# bench/webhook.sh — throughput and latency of exportflows-webhook's POST /validate
# over HTTPS keep-alive, against nginx answering the same request with a static
# reply of the same size (the ceiling: no parsing, no validation).
#
# Both servers run on loopback with the same certificate and the same number of
# worker threads/processes, and are driven by the same wrk command with a Lua
# script that POSTs a realistic AdmissionReview: a full Network object with
# netFlow, sFlow and IPFIX at 10 collectors each.  Prints req/s, p50/p99 latency,
# CPU time per request of each server (steadier than req/s on a shared machine),
# the ratios, and the webhook's peak RSS (VmHWM), checked against the goals in
# docs/PERFORMANCE.md.  The webhook runs as the Deployment runs it: JSON log
# lines at level info (one per review) and the Deployment's GLIBC_TUNABLES.
# Exit 0 when the run completed (goals are reported, not enforced, since shared
# machines are noisy).
#
# Usage: bench/webhook.sh [-d SECONDS] [-c CONNECTIONS] [-t WRK_THREADS]
#                         [--log-level LEVEL] [--log-format FORMAT] [--threads N]
# Needs: wrk, nginx (Debian nginx-light), curl, openssl; builds bin/ with make
# unless EXPORTFLOWS_BIN_DIR names a directory with the programs.
set -euo pipefail

duration=10
connections=16
wrk_threads=1
log_level=info
log_format=json     # as the Deployment runs it
server_threads=$(nproc)
while [ $# -gt 0 ]; do
    case "$1" in
    -d) duration=$2; shift 2 ;;
    -c) connections=$2; shift 2 ;;
    -t) wrk_threads=$2; shift 2 ;;
    --log-level) log_level=$2; shift 2 ;;
    --log-format) log_format=$2; shift 2 ;;
    --threads) server_threads=$2; shift 2 ;;
    *) echo "usage: $0 [-d SECONDS] [-c CONNECTIONS] [-t WRK_THREADS] [--log-level L] [--log-format F] [--threads N]" >&2
       exit 2 ;;
    esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for tool in wrk nginx curl openssl; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
        echo "bench: $tool is missing (apt-get install wrk nginx-light curl openssl)" >&2
        exit 2
    }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

# $EXPORTFLOWS_BIN_DIR: use the programs there instead of building bin/.
if [ -n "${EXPORTFLOWS_BIN_DIR:-}" ]; then
    bin_dir=$EXPORTFLOWS_BIN_DIR
else
    make -C "$root" -s programs >/dev/null
    bin_dir=$root/bin
fi
webhook_bin=$bin_dir/exportflows-webhook
[ -x "$webhook_bin" ] || { say "no $webhook_bin after make"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/exportflows-bench.XXXXXX")
chmod 755 "$work"
webhook_pid=
nginx_pid=
cleanup() {
    [ -n "$webhook_pid" ] && kill "$webhook_pid" 2>/dev/null && wait "$webhook_pid" 2>/dev/null
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# ---- certificate: one CA, one serving certificate for 127.0.0.1 -----------
make_certs() {
    if [ -x "$bin_dir/exportflows" ] &&
        "$bin_dir/exportflows" certs --out "$work/certs" --san 127.0.0.1 --san localhost \
            >/dev/null 2>&1; then
        return
    fi
    mkdir -p "$work/certs"
    (
        cd "$work/certs"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -keyout ca.key -out ca.crt -subj /CN=exportflows-bench-ca 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout tls.key -out tls.csr -subj /CN=127.0.0.1 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >ext
        openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
            -extfile ext -out tls.crt 2>/dev/null
    )
}
make_certs
chmod 644 "$work/certs/tls.crt" "$work/certs/ca.crt"

# ---- the request: a full Network with 3 protocols x 10 collectors ---------
collectors() {   # collectors FIRST_PORT IPV6
    local sep=""
    for i in $(seq 1 10); do
        if [ "$2" = 1 ] && [ $((i % 2)) = 0 ]; then
            printf '%s"[fd00:10:20::%x]:%d"' "$sep" "$i" "$1"
        else
            printf '%s"10.20.%d.%d:%d"' "$sep" "$i" $((i * 7)) "$1"
        fi
        sep=", "
    done
}
cat >"$work/request.json" <<EOF
{
  "apiVersion": "admission.k8s.io/v1",
  "kind": "AdmissionReview",
  "request": {
    "uid": "0e1b9a9c-5e3f-4d7a-9a51-3c4d2b1e7f60",
    "kind": {"group": "operator.openshift.io", "version": "v1", "kind": "Network"},
    "resource": {"group": "operator.openshift.io", "version": "v1", "resource": "networks"},
    "requestKind": {"group": "operator.openshift.io", "version": "v1", "kind": "Network"},
    "requestResource": {"group": "operator.openshift.io", "version": "v1", "resource": "networks"},
    "name": "cluster",
    "operation": "UPDATE",
    "userInfo": {"username": "system:admin", "uid": "",
                 "groups": ["system:masters", "system:authenticated"]},
    "object": {
      "apiVersion": "operator.openshift.io/v1",
      "kind": "Network",
      "metadata": {
        "name": "cluster", "uid": "5f0c6a5e-7b5d-4c3e-9d1a-2b3c4d5e6f70",
        "resourceVersion": "48213", "generation": 7,
        "creationTimestamp": "2024-05-01T10:00:00Z",
        "annotations": {"include.release.openshift.io/self-managed-high-availability": "true"}
      },
      "spec": {
        "clusterNetwork": [{"cidr": "10.128.0.0/14", "hostPrefix": 23}],
        "serviceNetwork": ["172.30.0.0/16"],
        "defaultNetwork": {"type": "OVNKubernetes",
                           "ovnKubernetesConfig": {"mtu": 1400, "genevePort": 6081,
                                                   "policyAuditConfig": {"rateLimit": 20}}},
        "logLevel": "Normal", "operatorLogLevel": "Normal",
        "disableNetworkDiagnostics": false,
        "exportNetworkFlows": {
          "netFlow": {"collectors": [$(collectors 2056 0)]},
          "sFlow": {"collectors": [$(collectors 6343 1)]},
          "ipfix": {"collectors": [$(collectors 4739 1)]}
        }
      }
    },
    "oldObject": {
      "apiVersion": "operator.openshift.io/v1",
      "kind": "Network",
      "metadata": {"name": "cluster", "uid": "5f0c6a5e-7b5d-4c3e-9d1a-2b3c4d5e6f70",
                   "resourceVersion": "48100", "generation": 6},
      "spec": {
        "clusterNetwork": [{"cidr": "10.128.0.0/14", "hostPrefix": 23}],
        "serviceNetwork": ["172.30.0.0/16"],
        "defaultNetwork": {"type": "OVNKubernetes"},
        "exportNetworkFlows": {"netFlow": {"collectors": ["10.20.1.7:2056"]}}
      }
    },
    "dryRun": false,
    "options": {"apiVersion": "meta.k8s.io/v1", "kind": "UpdateOptions"}
  }
}
EOF

cat >"$work/post.lua" <<'EOF'
-- POSTs the AdmissionReview in $BENCH_BODY to the URL given to wrk.
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
EOF

# ---- the webhook ------------------------------------------------------------
# The webhook runs with the environment the Deployment gives it that changes
# its speed: GLIBC_TUNABLES (malloc's per-thread cache), read from the manifest
# so the bench measures what is deployed.
tunables=$(awk '/- name: GLIBC_TUNABLES$/ { found = 1; next }
                found && $1 == "value:" { print $2; exit }' \
    "$root/manifests/base/webhook-deployment.yaml")
[ -n "$tunables" ] || say "warning: no GLIBC_TUNABLES in the webhook Deployment"
GLIBC_TUNABLES=$tunables "$webhook_bin" --tls-cert-file "$work/certs/tls.crt" --tls-private-key-file "$work/certs/tls.key" \
    --listen 127.0.0.1:0 --health-listen off --no-publish --log-level "$log_level" --log-format "$log_format" \
    --threads "$server_threads" 2>"$work/webhook.log" &
webhook_pid=$!
webhook_port=
for _ in $(seq 1 200); do
    # From the socket table rather than the "listening" line, which a log
    # level above info hides.
    webhook_port=$(ss -Htlnp 2>/dev/null | awk -v pid="pid=$webhook_pid," \
        'index($0, pid) { n = split($4, a, ":"); print a[n]; exit }')
    [ -n "$webhook_port" ] && break
    kill -0 "$webhook_pid" 2>/dev/null || { cat "$work/webhook.log" >&2; exit 1; }
    sleep 0.05
done
[ -n "$webhook_port" ] || { say "webhook did not start"; cat "$work/webhook.log" >&2; exit 1; }

curl -sS --fail --cacert "$work/certs/ca.crt" -H 'Content-Type: application/json' \
    --data-binary @"$work/request.json" -o "$work/reply.json" \
    "https://127.0.0.1:$webhook_port/validate"
grep -q '"allowed":true' "$work/reply.json" || { say "the request was not allowed:"; cat "$work/reply.json" >&2; exit 1; }

# ---- nginx: same certificate, same reply size, workers = server threads ------
free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 40000))
        ss -Htln "sport = :$port" 2>/dev/null | grep -q . || { echo "$port"; return; }
    done
    return 1
}
mkdir -p "$work/nginx/logs" "$work/nginx/tmp"
cp "$work/reply.json" "$work/nginx/reply.json"
cp "$work/reply.json" "$work/nginx/validate"
# write_nginx_conf: the configuration for $nginx_port.
write_nginx_conf() {
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes $server_threads;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx/tmp;
    proxy_temp_path $work/nginx/tmp;
    fastcgi_temp_path $work/nginx/tmp;
    uwsgi_temp_path $work/nginx/tmp;
    scgi_temp_path $work/nginx/tmp;
    client_body_buffer_size 64k;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nginx_port ssl;
        ssl_certificate $work/certs/tls.crt;
        ssl_certificate_key $work/certs/tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location = /validate {
            # A POST to a static file ('validate', a copy of the reply) is 405 in
            # nginx; turning that 405 into a 200 with the reply serves it without
            # any extra module, body read and discarded as the webhook reads it.
            error_page 405 =200 /reply.json;
            root $work/nginx;
            default_type application/json;
        }
        location = /reply.json {
            root $work/nginx;
            default_type application/json;
        }
    }
}
EOF
}
# start_nginx: on a free port; 0 once it answers, 1 when it exits first (the
# port was taken between the check and the bind: other programs share the
# machine) or does not answer.
start_nginx() {
    nginx_port=$(free_port) || return 1
    write_nginx_conf
    "$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' \
        2>"$work/nginx/logs/stderr.log" &
    nginx_pid=$!
    for _ in $(seq 1 200); do
        curl -s -o /dev/null --cacert "$work/certs/ca.crt" \
            "https://127.0.0.1:$nginx_port/reply.json" && return 0
        if ! kill -0 "$nginx_pid" 2>/dev/null; then
            wait "$nginx_pid" 2>/dev/null || true
            nginx_pid=
            return 1
        fi
        sleep 0.05
    done
    kill "$nginx_pid" 2>/dev/null
    wait "$nginx_pid" 2>/dev/null || true
    nginx_pid=
    return 1
}
for attempt in 1 2 3 4 5; do
    start_nginx && break
    [ "$attempt" -lt 5 ] || { cat "$work/nginx/logs/"* >&2; exit 1; }
done
curl -sS --fail --cacert "$work/certs/ca.crt" -H 'Content-Type: application/json' \
    --data-binary @"$work/request.json" -o "$work/nginx-reply.json" \
    "https://127.0.0.1:$nginx_port/validate"
cmp -s "$work/reply.json" "$work/nginx-reply.json" || { say "nginx does not answer the same reply"; exit 1; }

# ---- fairness: the same TLS version and cipher on both ---------------------------
# tls_of PORT: "TLSv1.3 TLS_AES_256_GCM_SHA384", as OpenSSL's client (wrk's
# library, with its defaults) negotiates it.
tls_of() {
    openssl s_client -connect "127.0.0.1:$1" -CAfile "$work/certs/ca.crt" </dev/null 2>/dev/null |
        awk '/^New, / { sub(/,$/, "", $2); print $2, $5; exit }'
}
webhook_tls=$(tls_of "$webhook_port")
nginx_tls=$(tls_of "$nginx_port")
[ "$webhook_tls" = "$nginx_tls" ] || say "warning: TLS differs: webhook '$webhook_tls', nginx '$nginx_tls'"

# ---- measure ----------------------------------------------------------------
# to_us VALUE: wrk prints latencies as 812.00us, 1.23ms or 1.01s.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000;
        else if (v ~ /m$/) print n * 60000000; else if (v ~ /s$/) print n * 1000000; else print n }'
}

# cpu_ticks PID...: user + system CPU time of the processes (all threads), in
# clock ticks.  Throughput on a shared machine moves with the neighbours' load;
# CPU time per request much less so.
cpu_ticks() {
    local total=0 pid
    for pid in "$@"; do
        total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
    done
    echo "$total"
}

# run_wrk NAME PORT PID...: warm up, measure, leave the figures in NAME_rps,
# NAME_p50, NAME_p99 and NAME_cpu (CPU microseconds per request of PID...).
run_wrk() {
    local name=$1 port=$2 out=$work/wrk-$1.txt
    shift 2
    local ticks_before ticks_after hz requests
    hz=$(getconf CLK_TCK)
    BENCH_BODY=$work/request.json wrk -t "$wrk_threads" -c "$connections" -d 2s \
        -s "$work/post.lua" "https://127.0.0.1:$port/validate" >/dev/null
    ticks_before=$(cpu_ticks "$@")
    BENCH_BODY=$work/request.json wrk -t "$wrk_threads" -c "$connections" -d "${duration}s" \
        --latency -s "$work/post.lua" "https://127.0.0.1:$port/validate" >"$out"
    ticks_after=$(cpu_ticks "$@")
    requests=$(awk '/ requests in / { print $1 }' "$out")
    printf -v "${name}_cpu" '%s' "$(awk -v t=$((ticks_after - ticks_before)) -v hz="$hz" \
        -v n="$requests" 'BEGIN { printf "%.0f", t * 1e6 / hz / n }')"
    if grep -q -e 'Non-2xx' -e 'Socket errors' "$out"; then
        say "$name: errors during the run:"
        cat "$out" >&2
        exit 1
    fi
    printf -v "${name}_rps" '%s' "$(awk '/^Requests\/sec:/ { print $2 }' "$out")"
    printf -v "${name}_p50" '%s' "$(to_us "$(awk '$1 == "50%" { print $2 }' "$out")")"
    printf -v "${name}_p99" '%s' "$(to_us "$(awk '$1 == "99%" { print $2 }' "$out")")"
}

run_wrk webhook "$webhook_port" "$webhook_pid"
# shellcheck disable=SC2046 # one PID per word
run_wrk nginx "$nginx_port" "$nginx_pid" $(pgrep -P "$nginx_pid")
webhook_hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$webhook_pid/status")

ratio=$(awk -v a="$webhook_rps" -v b="$nginx_rps" 'BEGIN { printf "%.2f", a / b }')
p99_ratio=$(awk -v a="$webhook_p99" -v b="$nginx_p99" 'BEGIN { printf "%.2f", a / b }')

printf 'machine: %s cores, %s\n' "$(nproc)" \
    "$(bench_cpu_model)"
printf 'load: wrk -t%s -c%s -d%ss, HTTPS keep-alive, request %s bytes, reply %s bytes; server threads %s; webhook log level %s, format %s\n' \
    "$wrk_threads" "$connections" "$duration" "$(wc -c <"$work/request.json")" \
    "$(wc -c <"$work/reply.json")" "$server_threads" "$log_level" "$log_format"
printf 'tls: webhook %s, nginx %s\n' "$webhook_tls" "$nginx_tls"
printf 'webhook environment: GLIBC_TUNABLES=%s\n' "$tunables"
printf '%-10s %12s %12s %12s %14s\n' server req/s p50_us p99_us cpu_us/request
printf '%-10s %12s %12s %12s %14s\n' webhook "$webhook_rps" "$webhook_p50" "$webhook_p99" \
    "$webhook_cpu"
printf '%-10s %12s %12s %12s %14s\n' nginx "$nginx_rps" "$nginx_p50" "$nginx_p99" "$nginx_cpu"
printf 'throughput ratio webhook/nginx: %s (goal >= 0.80: %s)\n' "$ratio" \
    "$(verdict "$(awk -v r="$ratio" 'BEGIN { print (r >= 0.8) }')")"
printf 'p99 ratio webhook/nginx: %s (goal <= 1.25: %s)\n' "$p99_ratio" \
    "$(verdict "$(awk -v r="$p99_ratio" 'BEGIN { print (r <= 1.25) }')")"
printf 'CPU per request webhook/nginx: %s\n' \
    "$(awk -v a="$webhook_cpu" -v b="$nginx_cpu" 'BEGIN { printf "%.2f", a / b }')"
printf 'webhook peak RSS (VmHWM): %s KiB (goal < 16384 KiB: %s)\n' "$webhook_hwm_kb" \
    "$(verdict "$(awk -v k="$webhook_hwm_kb" 'BEGIN { print (k < 16384) }')")"
