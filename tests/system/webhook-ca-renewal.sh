#!/usr/bin/env bash
# webhook-ca-renewal.sh — the serving certificate renewed under a steady stream
# of reviews, the way manifests/overlays/cert-manager renews it, with zero
# failed reviews.
#
# No cert-manager runs here, so the test does what it and the kubelet do:
#   - a CA is made once (cert-manager: the Certificate exportflows-ca, isCA);
#   - the clients trust that CA only, from a bundle written once at the start
#     (the API server, after cainjector copied the CA into the caBundle);
#   - the serving certificate is re-issued from the same CA with a new key and
#     a new serial (the CA Issuer, rotationPolicy: Always) into a Secret volume
#     laid out as the kubelet lays it out: tls.crt -> ..data/tls.crt,
#     ..data -> ..<version>; an update writes a new ..<version> directory,
#     renames a fresh symlink over ..data and removes the old directory;
#   - clients send reviews all the time: two loops open a new connection (a new
#     handshake) per review, one sends 20 reviews per keep-alive connection;
#     they name the Service (exportflows-webhook.exportflows.svc), resolved to
#     127.0.0.1.
# Three renewals; after each the new serial must be served (polled with a
# deadline) and the reviews must keep succeeding.  At the end: not one review
# failed, the last certificate is served, the webhook counted three successful
# reloads and no failed one, and a client trusting another CA is refused (the
# clients really verify).
#
# Environment: EXPORTFLOWS_BIN_DIR (default bin).  Exit 0 = pass.
set -u
cd "$(dirname "$0")/../.."
. tests/system/lib-check.sh
check_tools openssl curl

BIN=${EXPORTFLOWS_BIN_DIR:-bin}
[ -x "$BIN/exportflows-webhook" ] || die "no $BIN/exportflows-webhook (run make programs)"
SVC=exportflows-webhook.exportflows.svc
REQUEST=tests/data/admission/allowed-proposal/request.json
RENEWALS=3
dir=$(mktemp -d "${TMPDIR:-/tmp}/exportflows-ca-renewal.XXXXXX")
secret=$dir/secret
webhook_pid=
load_pids=()

show_logs() {
    echo "--- webhook log (last 30 lines)"
    tail -n 30 "$dir/webhook.log"
    echo "--- failed reviews (first 10)"
    grep -h '^fail' "$dir"/results-* 2>/dev/null | head -n 10
}
stop_load() {
    local pid
    touch "$dir/stop"
    for pid in "${load_pids[@]}"; do wait "$pid" 2>/dev/null; done
    load_pids=()
}
cleanup() {
    local rc=$?
    stop_load
    if [ -n "$webhook_pid" ]; then
        kill -TERM "$webhook_pid" 2>/dev/null
        wait "$webhook_pid" 2>/dev/null
    fi
    check_finish "$dir" "$rc" show_logs
}
trap cleanup EXIT

# --- the CA, made once ---------------------------------------------------------

new_ca() {  # new_ca NAME: NAME.crt and NAME.key in $dir
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -days 3650 -subj "/CN=$1" -keyout "$dir/$1.key" -out "$dir/$1.crt" \
        -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign 2>"$dir/openssl.err" \
        || die "openssl: CA $1: $(cat "$dir/openssl.err")"
}
new_ca exportflows-ca
new_ca other-ca
# The caBundle the API server holds: written once, never updated.
cp "$dir/exportflows-ca.crt" "$dir/bundle.pem"
pass "CA made once; the clients trust only it"

# --- the serving certificate into a Secret volume ------------------------------

serials=()
version=0
# renew: issues a serving certificate (new key, random serial) from the CA into
# a new ..<version> directory with tls.crt, tls.key and ca.crt, as the Secret
# holds them, then switches ..data to it and removes the previous version.
renew() {
    local v=$((version + 1)) vdir serial
    vdir=$secret/..v$v
    mkdir -p "$vdir" || die "mkdir $vdir"
    serial=$(openssl rand -hex 16 | tr 'a-f' 'A-F')
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -subj "/CN=$SVC" -keyout "$vdir/tls.key" -out "$dir/tls.csr" 2>"$dir/openssl.err" \
        || die "openssl: key and request $v: $(cat "$dir/openssl.err")"
    printf '%s\n' "subjectAltName=DNS:$SVC,DNS:$SVC.cluster.local" \
        "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" >"$dir/ext.cnf"
    openssl x509 -req -in "$dir/tls.csr" -CA "$dir/exportflows-ca.crt" \
        -CAkey "$dir/exportflows-ca.key" -set_serial "0x$serial" -days 90 -sha256 \
        -extfile "$dir/ext.cnf" -out "$vdir/tls.crt" 2>"$dir/openssl.err" \
        || die "openssl: sign serving certificate $v: $(cat "$dir/openssl.err")"
    cp "$dir/exportflows-ca.crt" "$vdir/ca.crt"
    # openssl prints the serial without leading zeros.
    serials+=("$(openssl x509 -in "$vdir/tls.crt" -noout -serial | sed 's/^serial=//')")
    ln -s "..v$v" "$secret/..data_tmp" || die "symlink ..data_tmp"
    mv -T "$secret/..data_tmp" "$secret/..data" || die "rename ..data_tmp"
    [ "$version" -gt 0 ] && rm -rf "$secret/..v$version"
    version=$v
}
mkdir -p "$secret"
renew
for f in tls.crt tls.key ca.crt; do ln -s "..data/$f" "$secret/$f"; done

# --- the webhook ---------------------------------------------------------------

"$BIN/exportflows-webhook" --tls-cert-file "$secret/tls.crt" \
    --tls-private-key-file "$secret/tls.key" --listen 127.0.0.1:0 \
    --health-listen 127.0.0.1:0 --no-publish >"$dir/webhook.log" 2>&1 &
webhook_pid=$!
port_of() { sed -n "s/.* listening address=127.0.0.1:\([0-9]*\) server=$1.*/\1/p" "$dir/webhook.log"; }
has_port() { [ -n "$(port_of "$1")" ]; }
wait_for 15 has_port https || die "webhook did not log its HTTPS port"
wait_for 15 has_port health || die "webhook did not log its health port"
port=$(port_of https)
health=$(port_of health)
pass "webhook serving on 127.0.0.1:$port (health $health)"

served_serial() {
    openssl s_client -connect "127.0.0.1:$port" -servername "$SVC" \
        -CAfile "$dir/bundle.pem" -verify_return_error </dev/null 2>/dev/null \
        | openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'
}
serves() { [ "$(served_serial)" = "$1" ]; }
serves "${serials[0]}" || die "first certificate not served (got '$(served_serial)')"

# --- the stream of reviews -----------------------------------------------------

curl_review=(curl -sS --max-time 10 --cacert "$dir/bundle.pem"
    --resolve "$SVC:$port:127.0.0.1" -H "Content-Type: application/json"
    --data-binary "@$REQUEST")
# fresh_loop N: one connection per review; one result line per review.
fresh_loop() {
    local out=$dir/results-fresh-$1 body=$dir/body-$1 err
    while [ ! -e "$dir/stop" ]; do
        if err=$("${curl_review[@]}" -o "$body" "https://$SVC:$port/validate" 2>&1) \
            && grep -Eq '"allowed": ?true' "$body"; then
            echo ok >>"$out"
        else
            echo "fail: $err $(head -c 200 "$body" 2>/dev/null)" >>"$out"
        fi
        rm -f "$body"
    done
}
# keepalive_loop: 20 reviews per connection; one result line per review.
keepalive_loop() {
    local out=$dir/results-keepalive codes rc
    while [ ! -e "$dir/stop" ]; do
        codes=$("${curl_review[@]}" -o /dev/null -w '%{http_code} %{num_connects}\n' \
            "https://$SVC:$port/validate?n=[1-20]" 2>"$dir/keepalive.err")
        rc=$?
        awk -v rc="$rc" '$1 == 200 { print "ok"; next }
                         { print "fail: HTTP " $1 " (curl exit " rc ")" }' <<<"$codes" >>"$out"
        [ "$rc" = 0 ] || echo "fail: curl exit $rc: $(cat "$dir/keepalive.err")" >>"$out"
    done
}
# count ok|fail [fresh|keepalive]: result lines so far, of every loop or of one kind.
count() { cat "$dir"/results-"${2:-}"* 2>/dev/null | grep -c "^$1" || true; }
at_least_ok() { [ "$(count ok "${2:-}")" -ge "$1" ]; }

fresh_loop 1 & load_pids+=($!)
fresh_loop 2 & load_pids+=($!)
keepalive_loop & load_pids+=($!)
wait_for 30 at_least_ok 30 || die "reviews are not getting through: $(count ok) ok, $(count fail) failed"
pass "steady stream of reviews running ($(count ok) ok so far)"

for r in $(seq "$RENEWALS"); do
    renew
    new=${serials[$r]}
    wait_for 30 serves "$new" || die "renewal $r: serial $new not served after 30 s (got '$(served_serial)')"
    # New handshakes and kept-alive connections both go on after the swap.
    fresh=$(count ok fresh)
    kept=$(count ok keepalive)
    wait_for 30 at_least_ok $((fresh + 20)) fresh \
        || die "renewal $r: new connections stopped after the swap: $(count ok) ok, $(count fail) failed"
    wait_for 30 at_least_ok $((kept + 20)) keepalive \
        || die "renewal $r: keep-alive reviews stopped after the swap: $(count ok) ok, $(count fail) failed"
    pass "renewal $r: new serial $new served, reviews go on ($(count ok) ok, $(count fail) failed)"
done
stop_load

ok=$(count ok)
failed=$(count fail)
log "reviews: $ok ok, $failed failed over $RENEWALS renewals"
[ "$failed" = 0 ] || fail "$failed of $((ok + failed)) reviews failed during the renewals"
[ "$ok" -ge $((30 * (RENEWALS + 1))) ] || fail "only $ok reviews succeeded"
[ "$(served_serial)" = "${serials[$RENEWALS]}" ] \
    || fail "last certificate not served: want ${serials[$RENEWALS]}, got '$(served_serial)'"
[ "${serials[0]}" != "${serials[$RENEWALS]}" ] || fail "the serials did not change"

metrics=$(curl -sS --max-time 5 "http://127.0.0.1:$health/metrics")
reloads=$(awk '$1 == "exportflows_webhook_tls_reloads_total{result=\"success\"}" { print $2 }' <<<"$metrics")
reload_failures=$(awk '$1 == "exportflows_webhook_tls_reloads_total{result=\"failure\"}" { print $2 }' <<<"$metrics")
[ "$reloads" = "$RENEWALS" ] || fail "tls_reloads_total{success}: want $RENEWALS, got '$reloads'"
[ "${reload_failures:-0}" = 0 ] || fail "tls_reloads_total{failure}: $reload_failures"

# The clients really verify: one trusting another CA is refused.
if curl -sS --max-time 10 --cacert "$dir/other-ca.crt" --resolve "$SVC:$port:127.0.0.1" \
    -o /dev/null "https://$SVC:$port/healthz" 2>/dev/null; then
    fail "a client trusting another CA got through"
fi
[ $failures = 0 ] && pass "zero failed reviews, last serial served, $reloads reloads, other CA refused"
check_verdict webhook-ca-renewal
