#!/usr/bin/env bash
# k8s-applier-metrics.sh — the applier's /metrics behind TLS, TokenReview and
# SubjectAccessReview, on a real control plane.
#
# tests/system/lib-cluster.sh brings up etcd and kube-apiserver with the
# manifests' ServiceAccounts and RBAC (the applier may create TokenReviews and
# SubjectAccessReviews; ClusterRole exportflows-metrics-reader grants get on
# /metrics).  One applier runs as exportflows-applier with --metrics-listen and
# a certificate it makes itself.  Then:
#   1. no token, a Basic header, a token the API server does not know: 401;
#   2. a service account token without the permission: 403;
#   3. a service account token bound to exportflows-metrics-reader: 200 with the
#      applier's metrics, also when the generated certificate is verified;
#   4. ten more scrapes cost the API server no TokenReview and no
#      SubjectAccessReview (apiserver_request_total): answers are cached;
#   5. plain HTTP on the metrics port gets no HTTP answer;
#   6. the health listener answers /healthz but no longer /metrics, and the
#      program's default health address is on loopback;
#   7. on SIGTERM the applier exits 0 and removes its generated certificate.
# EXPORTFLOWS_KEEP_TMP=1 keeps the work dir (kept on failure).
# Needs: curl, openssl; Go for the first build of the control plane.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-check.sh
. "$here/lib-check.sh"
# shellcheck source=tests/system/lib-cluster.sh
. "$here/lib-cluster.sh"

check_tools curl openssl

WORK=$(mktemp -d /tmp/exportflows-applier-metrics.XXXXXX) || die "mktemp failed"
trap cluster_cleanup EXIT
trap 'exit 130' INT TERM

# code URL [CURL_ARGS...]: the HTTP status curl gets ("000" without an answer).
code() {
    local url=$1
    shift
    curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$url"
}

# expect_code WHAT WANT URL [CURL_ARGS...]
expect_code() {
    local what=$1 want=$2 got
    shift 2
    got=$(code "$@")
    [ "$got" = "$want" ] && pass "$what: $got" || fail "$what: want $want, got $got"
}

# reviews RESOURCE: how many POSTs to RESOURCE (tokenreviews,
# subjectaccessreviews) kube-apiserver has answered since it started.
reviews() {
    cluster_kubectl get --raw /metrics |
        awk -v r="resource=\"$1\"" '/^apiserver_request_total\{/ && index($0, r) && /verb="POST"/ { n += $2 }
            END { print n + 0 }'
}

cluster_up "$WORK" || die "the cluster did not come up"
log "control plane at $APISERVER_URL"

# Two scrapers: one bound to the manifests' reader role, one without it.
cluster_kubectl -n exportflows create serviceaccount scraper >/dev/null || die "create sa scraper"
cluster_kubectl -n exportflows create serviceaccount stranger >/dev/null || die "create sa stranger"
cluster_kubectl create clusterrolebinding exportflows-test-scraper \
    --clusterrole exportflows-metrics-reader --serviceaccount exportflows:scraper >/dev/null ||
    die "bind the scraper"
scraper=$(cluster_kubectl -n exportflows create token scraper) || die "token for scraper"
stranger=$(cluster_kubectl -n exportflows create token stranger) || die "token for stranger"

mkdir -p "$WORK/tmp"
export TMPDIR=$WORK/tmp
cluster_applier_start n1 192.0.2.31 "unix:$WORK/no-ovsdb.sock" br-int \
    --metrics-listen 127.0.0.1:0 || die "cannot start the applier"
cluster_wait_ms "the applier's metrics address" 15000 \
    cluster_listen_addr applier-n1 metrics >/dev/null || die "the applier did not listen"
url=https://$(cluster_listen_addr applier-n1 metrics)/metrics
health=http://$(cluster_listen_addr applier-n1 health)
log "metrics at $url, health at $health"

# ---------------------------------------------------------------- 1-3

expect_code "no token" 401 "$url" -k
expect_code "a Basic header" 401 "$url" -k -H "Authorization: Basic c2NyYXBlcjpzZWNyZXQ="
expect_code "an unknown token" 401 "$url" -k -H "Authorization: Bearer not-a-token"
expect_code "a token with a character outside RFC 6750" 401 "$url" -k -H "Authorization: Bearer a,b"
expect_code "a token without get on /metrics" 403 "$url" -k -H "Authorization: Bearer $stranger"

tr0=$(reviews tokenreviews)
sar0=$(reviews subjectaccessreviews)
body=$(curl -sfk --max-time 10 -H "Authorization: Bearer $scraper" "$url") ||
    fail "the scraper's request failed"
if grep -q '^# TYPE exportflows_applier_auth_checks_total counter' <<<"$body" &&
    grep -q '^exportflows_applier_ovsdb_connected ' <<<"$body"; then
    pass "a token with get on /metrics: the applier's metrics"
else
    fail "the scraper got: $(head -c 300 <<<"$body")"
fi
ca=$(echo "$TMPDIR"/exportflows-applier.*/ca.crt)
expect_code "the generated certificate verifies for 127.0.0.1" 200 "$url" --cacert "$ca" \
    -H "Authorization: Bearer $scraper"

# ---------------------------------------------------------------- 4. the cache

for _ in $(seq 10); do
    [ "$(code "$url" -k -H "Authorization: Bearer $scraper")" = 200 ] || fail "a repeated scrape failed"
done
tr1=$(reviews tokenreviews)
sar1=$(reviews subjectaccessreviews)
if [ $((tr1 - tr0)) = 1 ] && [ $((sar1 - sar0)) = 1 ]; then
    pass "12 scrapes with one token: 1 TokenReview, 1 SubjectAccessReview"
else
    fail "12 scrapes cost $((tr1 - tr0)) TokenReviews and $((sar1 - sar0)) SubjectAccessReviews"
fi
got=$(code "$url" -k -H "Authorization: Bearer $stranger")
[ "$got" = 403 ] && [ "$(reviews tokenreviews)" = "$tr1" ] &&
    pass "a refusal is cached too" || fail "second refusal: $got, TokenReviews $tr1 -> $(reviews tokenreviews)"

# ---------------------------------------------------------------- 5. plain HTTP

got=$(code "${url/https:/http:}" -H "Authorization: Bearer $scraper")
[ "$got" = 000 ] && pass "plain HTTP on the metrics port: no HTTP answer" ||
    fail "plain HTTP on the metrics port answered $got"

# ---------------------------------------------------------------- 6. health

expect_code "/healthz on the health listener" 200 "$health/healthz"
expect_code "/metrics on the health listener" 404 "$health/metrics"
if "$CLUSTER_BIN/exportflows-applier" --help | grep -q -- '--health-listen.*default 127.0.0.1:8082'; then
    pass "the default health address is 127.0.0.1:8082"
else
    fail "--help gives another default health address"
fi

# ---------------------------------------------------------------- 7. exit

cert_dir=$(dirname "$ca")
cluster_stop_process applier-n1 && pass "the applier exits 0 on SIGTERM" || fail "the applier's exit status"
[ ! -e "$cert_dir" ] && pass "the generated certificate is removed" || fail "$cert_dir is left behind"

log "$checks checks, $failures failed"
[ "$failures" = 0 ]
