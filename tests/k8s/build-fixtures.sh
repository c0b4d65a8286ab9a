#!/usr/bin/env bash
# build-fixtures.sh: builds the real Kubernetes control-plane binaries the
# tests run (etcd, kube-apiserver, kubectl) from the Go modules pinned in
# tests/k8s/fixtures/go.mod, into a cache directory outside the repository:
#
#   ${EXPORTFLOWS_FIXTURE_CACHE:-/var/cache/exportflows}/k8s-<kube>-etcd-<etcd>/bin/
#
# Idempotent: when the binaries and a matching stamp file already exist it
# does nothing.  The last line on stdout is always the bin directory, so
# callers can do:  BIN=$(tests/k8s/build-fixtures.sh | tail -n1)
# Progress and build output go to stderr.
# Environment: EXPORTFLOWS_FIXTURE_CACHE (cache root), FIXTURE_BUILD_JOBS
# (go build -p, default: number of cores).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fixtures="$here/fixtures"

log() { printf 'build-fixtures: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The machine image ships Go in /usr/local/go; a login shell may not have it
# on PATH (CI runs without one).
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || die "go not found (needed to build the fixtures)"

# Versions come straight from go.mod (the require lines, not the replaces).
modver() { awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$fixtures/go.mod"; }
kube_version=$(modver k8s.io/kubernetes)
etcd_version=$(modver go.etcd.io/etcd/server/v3)
[ -n "$kube_version" ] || die "k8s.io/kubernetes not found in $fixtures/go.mod"
[ -n "$etcd_version" ] || die "go.etcd.io/etcd/server/v3 not found in $fixtures/go.mod"

cache_root=${EXPORTFLOWS_FIXTURE_CACHE:-/var/cache/exportflows}
dest="$cache_root/k8s-$kube_version-etcd-$etcd_version"
bin="$dest/bin"
binaries="etcd kube-apiserver kubectl"

# Version information kube's own build (hack/lib/version.sh) stamps in, so
# that `kubectl version` and /version report the real release instead of
# v0.0.0-master.  etcd's version is a constant in its source already.
kube_minor=${kube_version#v1.}; kube_minor=${kube_minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1"
    ldflags+=" -X $pkg.gitMinor=$kube_minor -X $pkg.gitTreeState=clean"
done

# The stamp records exactly what was built; a change to go.mod, go.sum or the
# flags (e.g. a new etcd patch in the same directory name) triggers a rebuild.
stamp_want=$( { cat "$fixtures/go.mod" "$fixtures/go.sum"; echo "$ldflags"; go env GOVERSION GOOS GOARCH; } \
    | sha256sum | cut -d' ' -f1)

is_built() {
    [ -f "$dest/stamp" ] && [ "$(cat "$dest/stamp")" = "$stamp_want" ] || return 1
    local b
    for b in $binaries; do [ -x "$bin/$b" ] || return 1; done
}

if is_built; then
    log "up to date: $bin"
    echo "$bin"
    exit 0
fi

mkdir -p "$dest"
# Serialise concurrent callers (e.g. two test scripts starting at once).
exec 9>"$dest/.lock"
flock 9
if is_built; then   # someone else finished it while we waited
    log "up to date: $bin"
    echo "$bin"
    exit 0
fi

jobs=${FIXTURE_BUILD_JOBS:-$(nproc)}
tmp="$dest/bin.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

log "building kube-apiserver, kubectl ($kube_version) and etcd ($etcd_version) with -p $jobs"
log "into $bin (first build takes a while: module download plus compile)"
start=$(date +%s)
(
    cd "$fixtures"
    # Static, reproducible binaries like upstream's release builds.  One go
    # build invocation for all three shares the package graph and the -p
    # parallelism.  The go.etcd.io/etcd/server/v3 main package would be named
    # "server" (major-version suffix dropped), hence the rename below.
    # -mod=readonly (go's default) insists that go.mod/go.sum are complete.
    CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly -buildvcs=false" \
        go build -p "$jobs" -trimpath -ldflags="$ldflags" -o "$tmp/" \
            k8s.io/kubernetes/cmd/kube-apiserver \
            k8s.io/kubernetes/cmd/kubectl \
            go.etcd.io/etcd/server/v3 >&2
)
mv "$tmp/server" "$tmp/etcd"
for b in $binaries; do [ -x "$tmp/$b" ] || die "build produced no $b"; done
rm -rf "$bin"
mv "$tmp" "$bin"
echo "$stamp_want" >"$dest/stamp"
log "built in $(( $(date +%s) - start ))s: $(du -sh "$bin" | cut -f1) in $bin"
echo "$bin"
