#!/usr/bin/env bash
# image.sh — the container image is built, holds what it should, and its
# webhook and applier work when run from it.
#
#   1. .ci/build-image (what `make image` runs) builds the image FROM scratch
#      under a test tag from the programs in EXPORTFLOWS_BIN_DIR.
#   2. Its contents (buildah mount): the three programs, the dynamic loader and
#      every library ldd lists, the CA bundle, /etc/passwd with user 65532, no
#      shell, no key; default user 65532:65532.
#   3. .containerignore: a copy of the repository with planted .git, certs/,
#      bin/, build/ and key files is used as the context of a probe build that
#      copies the whole context; none of the planted files may arrive.
#   4. The webhook runs from the image as the Deployment runs it (user 65532,
#      read-only root, no capabilities, no new privileges, host network) with a
#      certificate mounted read-only: /validate over HTTPS allows a valid review
#      and denies a duplicate, /readyz answers, the process runs as uid 65532.
#   5. The applier runs from the image as the DaemonSet runs it (uid 0, no
#      capabilities, read-only root) with the directory of a real ovsdb-server's
#      socket mounted read-only at /var/run/openvswitch and a config file: it
#      writes the NetFlow row into br-int and reports ready and in sync.
#   6. Both stop on SIGTERM with exit status 0.
#
# How containers are run: `podman run` with the first OCI runtime that can start
# the image here (crun, then runc; each refusal is logged); when none can,
# `buildah run --isolation chroot` (no OCI runtime), which cannot apply the
# read-only root and the capability drop.  EXPORTFLOWS_IMAGE_RUNNER=buildah
# forces the latter.  Podman gets explicit, modest rlimits (nofile and nproc
# 4096): its defaults exceed what an unprivileged host lets a container set.
# The image size is logged (docs/PERFORMANCE.md).  Needs root.  Exit 0 = pass.
set -u
cd "$(dirname "$0")/../.."
. tests/system/lib-check.sh
. tests/system/lib-ovs.sh
check_tools buildah podman openssl curl ovsdb-server ovsdb-tool ovs-vsctl strip

BIN=${EXPORTFLOWS_BIN_DIR:-bin}
BIN=$(cd "$BIN" && pwd) || die "no bin directory"
[ "$(id -u)" = 0 ] || die "needs root (buildah, podman)"
dir=$(mktemp -d "${TMPDIR:-/tmp}/exportflows-image.XXXXXX")
chmod 755 "$dir"
id=$$-$RANDOM
tag=localhost/exportflows-test:$id
probe_tag=localhost/exportflows-context-probe:$id
runner=
containers=()     # podman containers, or buildah working containers
pids=()           # buildah run processes

show_logs() {
    local c
    for c in "${containers[@]}"; do
        echo "--- $c"
        container_logs "$c" 2>&1 | tail -n 20
    done
}
cleanup() {
    local rc=$? c
    ovs_db_stop
    check_finish "$dir" "$rc" show_logs     # logs first, while the containers exist
    for c in "${pids[@]}"; do kill -KILL "$c" 2>/dev/null; done
    for c in "${containers[@]}"; do
        if [ "$runner" = podman ]; then
            podman rm -f -t 2 "$c" >/dev/null 2>&1
        else
            buildah rm "$c" >/dev/null 2>&1
        fi
    done
    podman rmi -f "$tag" "$probe_tag" >/dev/null 2>&1
}
trap cleanup EXIT

# --- 1. build -----------------------------------------------------------------

.ci/build-image --tag "$tag" --bin "$BIN" --out "$dir/image" >"$dir/build.out" 2>&1 \
    || die "build-image: $(cat "$dir/build.out")"
size=$(podman image inspect --format '{{.Size}}' "$tag") || die "image $tag not found"
pass "image built FROM scratch: $(tail -n1 "$dir/build.out") ($size bytes)"
log "$(head -n1 "$dir/build.out")"

# --- 2. contents ----------------------------------------------------------------

user=$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$tag")
[ "$user" = 65532:65532 ] && pass "default user 65532:65532" || fail "default user '$user'"

wc=$(buildah from --pull-never "$tag") || die "buildah from $tag"
containers+=("$wc")
mnt=$(buildah mount "$wc") || die "buildah mount"
for p in exportflows exportflows-webhook exportflows-applier; do
    [ -x "$mnt/usr/bin/$p" ] || fail "no /usr/bin/$p in the image"
done
missing=
for lib in $(for p in exportflows-webhook exportflows-applier exportflows; do ldd "$BIN/$p"; done \
        | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(/ { print $1 }' | sort -u); do
    # Through the image's own relative /lib and /lib64 links.
    [ -f "$mnt$lib" ] || missing+=" $lib"
done
[ -z "$missing" ] && pass "the loader and every library ldd lists are in the image" \
    || fail "libraries missing in the image:$missing"
grep -q '^nonroot:x:65532:65532:' "$mnt/etc/passwd" && grep -q '^nonroot:x:65532:' "$mnt/etc/group" \
    && pass "/etc/passwd and /etc/group name user 65532" || fail "no user 65532 in /etc/passwd or /etc/group"
grep -q 'BEGIN CERTIFICATE' "$mnt/etc/ssl/certs/ca-certificates.crt" \
    && pass "CA bundle at /etc/ssl/certs/ca-certificates.crt" || fail "no CA bundle"
shells=$(cd "$mnt" && ls -d bin/sh usr/bin/sh bin/bash usr/bin/bash bin/busybox 2>/dev/null)
[ -z "$shells" ] && pass "no shell in the image" || fail "shell in the image: $shells"
keys=$(cd "$mnt" && find . -name '*.key' -o -name '*.pem' | head -n 5)
[ -z "$keys" ] && pass "no key or PEM file in the image" || fail "key files in the image: $keys"
[ -s "$mnt/usr/share/doc/exportflows/LICENSE" ] && [ -s "$mnt/usr/share/doc/exportflows/packages" ] \
    && [ -s "$mnt/usr/share/doc/libc6/copyright" ] \
    && pass "licence, Debian copyright files and package list ($(wc -l <"$mnt/usr/share/doc/exportflows/packages") packages)" \
    || fail "licence, copyright files or package list missing"
buildah umount "$wc" >/dev/null
buildah rm "$wc" >/dev/null
containers=()

# --- 3. .containerignore ----------------------------------------------------------

ctx=$dir/context
mkdir -p "$ctx"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$ctx" || die "copy of the repository"
cp .containerignore "$ctx/"     # the working copy's, committed or not
planted=".git/config certs/dev/tls.key certs/prod/ca.crt bin/exportflows build/image/x
manifests/overlays/dev/certs/tls.key tests/leftover.key docs/server.pem"
for f in $planted; do mkdir -p "$ctx/$(dirname "$f")" && echo planted >"$ctx/$f"; done
printf 'FROM scratch\nCOPY . /ctx/\n' >"$dir/Probefile"
buildah build --quiet --layers=false -f "$dir/Probefile" -t "$probe_tag" "$ctx" >"$dir/probe.out" 2>&1 \
    || die "probe build: $(cat "$dir/probe.out")"
wc=$(buildah from --pull-never "$probe_tag") || die "buildah from $probe_tag"
containers+=("$wc")
mnt=$(buildah mount "$wc") || die "buildah mount probe"
[ -f "$mnt/ctx/LICENSE" ] && [ -f "$mnt/ctx/Makefile" ] || fail "the probe build copied no context at all"
leaked=
for f in $planted; do [ -e "$mnt/ctx/$f" ] && leaked+=" $f"; done
[ -z "$leaked" ] && pass ".containerignore keeps .git, certs/, bin/, build/, keys and PEM files out of the context" \
    || fail "in the build context despite .containerignore:$leaked"
buildah umount "$wc" >/dev/null
buildah rm "$wc" >/dev/null
containers=()
podman rmi -f "$probe_tag" >/dev/null 2>&1

# --- how to run containers here ----------------------------------------------------

podman_opts=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
if [ "${EXPORTFLOWS_IMAGE_RUNNER:-}" != buildah ]; then
    for rt in crun runc; do
        command -v "$rt" >/dev/null || [ -x "/usr/sbin/$rt" ] || continue
        if out=$(podman --runtime "$rt" run --rm "${podman_opts[@]}" "$tag" \
                /usr/bin/exportflows --version 2>&1); then
            runner=podman
            podman_opts=(--runtime "$rt" "${podman_opts[@]}")
            break
        fi
        log "podman with runtime $rt cannot run containers here: $out"
    done
fi
[ -n "$runner" ] || runner=buildah
if [ "$runner" = podman ]; then
    log "containers run with: podman ${podman_opts[*]}"
else
    log "containers run with: buildah run --isolation chroot (no read-only root, no capability drop)"
fi

# start NAME USER MOUNT... -- ARG...: starts a container of the image in the
# background, host network, read-only root and no capabilities where the runner
# can; MOUNT is HOST:CONTAINER:ro.
start() {
    local name=$1 user=$2 mounts=() vols=()
    shift 2
    while [ "$1" != -- ]; do mounts+=("$1"); shift; done
    shift
    for m in "${mounts[@]}"; do vols+=(-v "$m"); done
    if [ "$runner" = podman ]; then
        podman "${podman_opts[@]:0:2}" run -d --name "$name" "${podman_opts[@]:2}" \
            --network host --read-only --cap-drop ALL --security-opt no-new-privileges \
            --user "$user" "${vols[@]}" "$tag" "$@" >/dev/null || return 1
    else
        buildah from --pull-never --name "$name" "$tag" >/dev/null || return 1
        buildah run --isolation chroot --network host --user "$user" "${vols[@]}" \
            "$name" -- "$@" >"$dir/$name.log" 2>&1 &
        pids+=($!)
    fi
    containers+=("$name")
}
container_logs() {
    if [ "$runner" = podman ]; then podman logs "$1"; else cat "$dir/$1.log"; fi
}
# program_pid PID NAME: the process among PID's descendants running
# /usr/bin/NAME (buildah run keeps the program two levels down).
program_pid() {
    local p
    for p in $(pgrep -P "$1"); do
        if [ "$(tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | head -n1)" = "/usr/bin/$2" ]; then
            echo "$p"
            return 0
        fi
        program_pid "$p" "$2" && return 0
    done
    return 1
}
# runner_pid NAME: the buildah run process of container NAME.
runner_pid() {
    local i
    for i in "${!containers[@]}"; do [ "${containers[$i]}" = "$1" ] && echo "${pids[$i]}"; done
}
# stop NAME PROGRAM: SIGTERM to the program; its exit status into stop_rc.
stop() {
    if [ "$runner" = podman ]; then
        podman stop -t 15 "$1" >/dev/null 2>&1
        stop_rc=$(podman inspect --format '{{.State.ExitCode}}' "$1")
    else
        local pid
        pid=$(runner_pid "$1")
        kill -TERM "$(program_pid "$pid" "$2")" 2>/dev/null
        wait "$pid"
        stop_rc=$?
    fi
}
port_of() {  # port_of NAME SERVER: from the "listening address=IP:PORT server=SERVER" line
    container_logs "$1" 2>&1 | sed -n "s/.* listening address=127.0.0.1:\([0-9]*\) server=$2.*/\1/p" | head -n1
}
has_port() { [ -n "$(port_of "$1" "$2")" ]; }
host_pid() {  # host_pid NAME PROGRAM
    if [ "$runner" = podman ]; then
        podman inspect --format '{{.State.Pid}}' "$1"
    else
        program_pid "$(runner_pid "$1")" "$2"
    fi
}

# --- 4. the webhook --------------------------------------------------------------------

certs=$dir/certs
"$BIN/exportflows" certs --out "$certs" --san 127.0.0.1 >/dev/null || die "exportflows certs"
# As a Secret volume with fsGroup gives them: readable by the pod's user.
chown -R 65532:65532 "$certs"
w=exportflows-webhook-$id
start "$w" 65532:65532 "$certs:/certs:ro" -- /usr/bin/exportflows-webhook \
    --tls-cert-file /certs/tls.crt --tls-private-key-file /certs/tls.key \
    --listen 127.0.0.1:0 --health-listen 127.0.0.1:0 --no-publish \
    || die "cannot start the webhook container"
wait_for 30 has_port "$w" https || die "webhook in the image did not start: $(container_logs "$w" 2>&1 | tail -n 5)"
wait_for 10 has_port "$w" health || die "webhook health listener not logged"
wport=$(port_of "$w" https)
whealth=$(port_of "$w" health)
pass "webhook running from the image, listening on 127.0.0.1:$wport"

review() {  # review CASE: the response body of POST /validate with the case's request
    curl -sS --max-time 10 --cacert "$certs/ca.crt" -H "Content-Type: application/json" \
        --data-binary "@tests/data/admission/$1/request.json" "https://127.0.0.1:$wport/validate"
}
got=$(review allowed-proposal)
grep -Eq '"allowed": ?true' <<<"$got" && pass "/validate over HTTPS allows the valid review" \
    || fail "allowed-proposal: $got"
got=$(review denied-duplicate)
grep -Eq '"allowed": ?false' <<<"$got" && grep -q 'Duplicate value' <<<"$got" \
    && pass "/validate denies the duplicate collector with its field error" \
    || fail "denied-duplicate: $got"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$whealth/readyz")
[ "$code" = 200 ] && pass "webhook /readyz 200" || fail "webhook /readyz $code"
pid=$(host_pid "$w" exportflows-webhook)
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
[ "$uid" = 65532 ] && pass "webhook runs as uid 65532" || fail "webhook runs as uid '$uid' (pid '$pid')"

# --- 5. the applier ------------------------------------------------------------------------

ovs=$dir/ovs
mkdir -p "$ovs"
ovs_db_start "$ovs" || die "cannot start ovsdb-server"
ovs_vsctl add-br br-int || die "add-br br-int"
mkdir -p "$dir/config"
printf '%s\n' '{"generation": 1, "netFlow": {"collectors": ["172.30.158.150:2056"], "activeTimeout": 60}}' \
    >"$dir/config/config.json"
a=exportflows-applier-$id
start "$a" 0:0 "$ovs:/var/run/openvswitch:ro" "$dir/config:/config:ro" -- \
    /usr/bin/exportflows-applier --config-file /config/config.json \
    --ovsdb unix:/var/run/openvswitch/db.sock --node-ip 10.0.0.9 --node-name image-test \
    --health-listen 127.0.0.1:0 || die "cannot start the applier container"
wait_for 30 has_port "$a" health || die "applier in the image did not start: $(container_logs "$a" 2>&1 | tail -n 5)"
ahealth=$(port_of "$a" health)
netflow_targets() {
    local ref
    ref=$(ovs_vsctl get bridge br-int netflow 2>/dev/null)
    [ -n "$ref" ] && [ "$ref" != "[]" ] && ovs_vsctl get netflow "$ref" targets
}
netflow_is() { [ "$(netflow_targets)" = '["172.30.158.150:2056"]' ]; }
wait_for 30 netflow_is && pass "applier in the image wrote br-int's NetFlow row through the mounted socket" \
    || fail "NetFlow targets '$(netflow_targets)'; log: $(container_logs "$a" 2>&1 | tail -n 5)"
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$ahealth/readyz")" = 200 ]; }
wait_for 15 ready && pass "applier /readyz 200" || fail "applier /readyz not 200"
in_sync=$(curl -s --max-time 5 "http://127.0.0.1:$ahealth/metrics" | awk '$1 == "exportflows_applier_in_sync" { print $2 }')
[ "$in_sync" = 1 ] && pass "applier reports in sync" || fail "exportflows_applier_in_sync '$in_sync'"

# --- 6. SIGTERM ---------------------------------------------------------------------------

stop "$w" exportflows-webhook
[ "$stop_rc" = 0 ] && pass "webhook container exits 0 on SIGTERM" || fail "webhook exit status '$stop_rc'"
stop "$a" exportflows-applier
[ "$stop_rc" = 0 ] && pass "applier container exits 0 on SIGTERM" || fail "applier exit status '$stop_rc'"

log "image size: $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.1f MB", s / 1e6 }'))"
check_verdict image
