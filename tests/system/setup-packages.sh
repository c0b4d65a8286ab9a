#!/usr/bin/env bash
# setup-packages.sh — the README's two commands set up a fresh machine.
#
# Packages cannot be uninstalled here, so the missing ones are made visible to
# .ci/install-packages by hiding them, not by removing them:
#   - `make -n test` (and `make -n run`) starts with the install step, before
#     anything is built;
#   - as a non-root user (nobody) with pkg-config looking in an empty directory
#     (PKG_CONFIG_LIBDIR), .ci/install-packages names exactly the -dev packages,
#     prints the apt-get line and exits 1, and `make test` stops there without
#     building anything;
#   - with a PATH that lacks the test components, it names their packages;
#   - in a private mount namespace where /usr/local/go is an empty tmpfs and no
#     go is on PATH, it says that Go is missing and where it is expected; with a
#     go on PATH that reports an old version, it says the version is too old;
#   - on this machine, as root, with everything installed, it succeeds silently.
# Needs root (setpriv to nobody, unshare -m).  Exit 0 = pass.
set -u
cd "$(dirname "$0")/../.."
. tests/system/lib-check.sh
check_tools setpriv unshare make

[ "$(id -u)" = 0 ] || die "needs root (to run as nobody and to hide /usr/local/go)"
dir=$(mktemp -d "${TMPDIR:-/tmp}/exportflows-setup.XXXXXX")
chmod 755 "$dir"
trap 'check_finish "$dir" $?' EXIT

# as_nobody CMD...: CMD as the user nobody, in a copy of the repository nobody
# cannot write to (so nothing may be built there).
repo=$dir/repo
git ls-files -z | tar --null -T - -cf - | (mkdir -p "$repo" && tar -xf - -C "$repo") \
    || die "copy of the repository"
chmod -R a+rX "$repo"
as_nobody() {
    (cd "$repo" && setpriv --reuid=nobody --regid=nogroup --clear-groups \
        env -i PATH="$PATH" HOME=/nonexistent "$@")
}

build_pkgs="libmicrohttpd-dev libgnutls28-dev libjansson-dev libcurl4-openssl-dev libssl-dev libyaml-dev libcmocka-dev"

# --- make -n: the install step comes first --------------------------------------

first=$(make -s -n -C "$repo" test TESTS=none 2>/dev/null | head -n1)
[ "$first" = ".ci/install-packages build test" ] \
    && pass "make -n test starts with .ci/install-packages build test" \
    || fail "make -n test starts with '$first'"
first=$(make -s -n -C "$repo" run 2>/dev/null | head -n1)
[ "$first" = ".ci/install-packages build" ] \
    && pass "make -n run starts with .ci/install-packages build" \
    || fail "make -n run starts with '$first'"

# --- not root, libraries missing -------------------------------------------------

mkdir -p "$dir/empty"
as_nobody PKG_CONFIG_LIBDIR="$dir/empty" .ci/install-packages build test >"$dir/out" 2>&1
rc=$?
[ "$rc" = 1 ] && pass "not root, libraries missing: exit 1" || fail "exit $rc, want 1"
grep -qxF "missing Debian packages: $build_pkgs" "$dir/out" \
    && grep -qxF "    apt-get install --no-install-recommends $build_pkgs" "$dir/out" \
    && pass "names exactly the -dev packages and the apt-get line" \
    || fail "message: $(cat "$dir/out")"

as_nobody PKG_CONFIG_LIBDIR="$dir/empty" make test TESTS=none >"$dir/make.out" 2>&1
rc=$?
if [ "$rc" != 0 ] && grep -qxF "missing Debian packages: $build_pkgs" "$dir/make.out" \
    && [ ! -e "$repo/build" ] && [ ! -e "$repo/bin" ]; then
    pass "make test as nobody stops at the install step, names the packages, builds nothing"
else
    fail "make test as nobody: exit $rc, build/ $([ -e "$repo/build" ] && echo made || echo absent): $(cat "$dir/make.out")"
fi

# --- not root, test components missing ---------------------------------------------

# A PATH holding only what the script itself runs (and the build tools).
mkdir -p "$dir/path"
for c in bash env id cat awk sort head mapfile dirname pkg-config cc make; do
    p=$(command -v "$c" 2>/dev/null) && [ "${p#/}" != "$p" ] && ln -sf "$p" "$dir/path/$c"
done
(cd "$repo" && setpriv --reuid=nobody --regid=nogroup --clear-groups \
    env -i PATH="$dir/path" HOME=/nonexistent .ci/install-packages test) >"$dir/out" 2>&1
rc=$?
line=$(sed -n 's/^missing Debian packages: //p' "$dir/out")
if [ "$rc" = 1 ]; then
    for pkg in nfdump tshark wrk socat curl git buildah podman; do
        case " $line " in *" $pkg "*) ;; *) fail "test components: $pkg not named in '$line'" ;; esac
    done
    pass "not root, test components missing: exit 1, names their packages ($line)"
else
    fail "test components missing: exit $rc: $(cat "$dir/out")"
fi

# --- Go -------------------------------------------------------------------------------

# No go anywhere: /usr/local/go hidden under an empty tmpfs, PATH without go.
nogo_path=
for p in ${PATH//:/ }; do [ -x "$p/go" ] || nogo_path+=${nogo_path:+:}$p; done
unshare -m sh -c '[ ! -d /usr/local/go ] || mount -t tmpfs none /usr/local/go || exit 3
    exec env PATH="$1" .ci/install-packages test' sh "$nogo_path" >"$dir/out" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q "^Go not found: no go on PATH and no /usr/local/go/bin/go" "$dir/out" \
    && grep -q "need Go [0-9.]* or newer (tests/k8s/fixtures/go.mod)" "$dir/out" \
    && pass "no Go: says so, with the version go.mod needs" \
    || fail "no Go: exit $rc: $(cat "$dir/out")"

# An old go first on PATH.
mkdir -p "$dir/oldgo"
printf '#!/bin/sh\n[ "$1 $2" = "env GOVERSION" ] && echo go1.19.8\n' >"$dir/oldgo/go"
chmod +x "$dir/oldgo/go"
PATH="$dir/oldgo:$PATH" .ci/install-packages test >"$dir/out" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q "is Go 1.19.8; the Kubernetes test fixtures need Go [0-9.]* or newer" "$dir/out" \
    && pass "old Go: says it is too old" || fail "old Go: exit $rc: $(cat "$dir/out")"

# --- this machine, as root --------------------------------------------------------------

.ci/install-packages build test >"$dir/out" 2>&1
rc=$?
[ "$rc" = 0 ] && [ ! -s "$dir/out" ] && pass "as root with everything installed: silent, exit 0" \
    || fail "as root: exit $rc: $(cat "$dir/out")"

check_verdict setup-packages
