#!/usr/bin/env bash
# k8s-skew.sh — a rolling upgrade's mixed versions: the previous release's
# programs beside this tree's, on a real control plane (tests/system/lib-cluster.sh:
# etcd, kube-apiserver, the manifests' RBAC, exportflows-webhook publishing the
# ConfigMap, as the ServiceAccounts).  docs/DEPLOY.md "Upgrades" states the rule
# this test holds the programs to.
#
# The previous release's programs are built from PREVIOUS_RELEASE (below) with
# `git archive | tar -x` and `make programs`, once: they are cached in
# $EXPORTFLOWS_BUILD_DIR/skew/<commit>/bin (default build/), so later runs
# start at once.  Two nodes, each with its own ovsdb-server and br-int, their
# appliers in Kubernetes mode: n-old runs the previous release's applier,
# n-new this tree's.  Both run as this tree's applier identity
# (exportflows-nodes/exportflows-applier) with this tree's RBAC, the same
# command line (--namespace exportflows; the new applier's status Lease goes
# to its default --node-namespace exportflows-nodes): n-old is what a rollback
# of the DaemonSet's image to the previous release would run.  The previous
# release writes its status Lease in --namespace, exportflows, where the
# applier has no Lease right any more (the publisher's election Lease is
# there): those writes are refused by RBAC, and only its status is lost.
#   1. New publisher, old and new appliers (the publisher's Deployment was
#      upgraded first): config.json carries no "version" (version 1 is implied
#      by its absence, and the previous release refuses keys it does not know);
#      both appliers apply it, n-new's status Lease says Applied at the
#      published hash, n-old's status writes are refused (403) and it has no
#      Lease, and the publisher's node summary counts 1/1.  What each node's OVS
#      holds is asserted: the new applier leaves the unset tuning to OVS (what
#      ovnkube-node writes), the old applier fills the tuning config.json does
#      not carry with its own defaults (sFlow sampling 64, header 128, polling
#      10; IPFIX sampling 400, observation ids 123/456): that is what an old
#      applier writes during the skew window.
#   2. Old publisher, old and new appliers (the DaemonSet was upgraded first,
#      or the publisher rolled back): it republishes with every tuning key
#      explicit; the new applier applies that too, then follows a change of the
#      Network published by the old publisher.
#   3. New publisher again (the upgrade completes): the new applier drops the
#      tuning the old publisher had set; the old applier still applies.
# docs/DEPLOY.md "Upgrading from a release with everything in exportflows"
# says why a real upgrade deletes the old DaemonSet before the new one runs.
# EXPORTFLOWS_KEEP_TMP=1 keeps the work dir (kept on failure).
# Needs: git and the repository's history (PREVIOUS_RELEASE must be in it),
# make and the build dependencies, openvswitch-switch (ovsdb-server,
# ovsdb-client, ovs-vsctl), jq, curl, openssl, python3.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-check.sh
. "$here/lib-check.sh"
# shellcheck source=tests/system/lib-cluster.sh
. "$here/lib-cluster.sh"

# The previous release: the last commit released before this tree's changes.
# Bump it when a release lands (docs/DEPLOY.md "Upgrades" names this line).
PREVIOUS_RELEASE=407dbf47192b6656e14ffd0a777790d8aeea221a

BUILD_DIR=${EXPORTFLOWS_BUILD_DIR:-$CLUSTER_ROOT/build}
DEADLINE_MS=20000
SUMMARY_MS=20000    # Lease rate limit 2 s + summary settle + 5 s between writes
COLLECTOR=192.0.2.100
NETFLOW=$COLLECTOR:2056
NETFLOW2=192.0.2.101:2056
SFLOW=$COLLECTOR:6343
IPFIX=$COLLECTOR:4739
declare -A NODE_IP=([n-old]=192.0.2.21 [n-new]=192.0.2.22)
declare -A NODE_DB=()

check_tools git make tar flock ovsdb-tool ovsdb-server ovsdb-client ovs-vsctl jq curl openssl

WORK=$(mktemp -d /tmp/exportflows-k8s-skew.XXXXXX) || die "mktemp failed"
trap cluster_cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

# previous_programs: prints the directory of the previous release's programs,
# building them first when they are not cached.  Serialised with flock: two
# runs at once build once.
previous_programs() {
    local cache=$BUILD_DIR/skew/$PREVIOUS_RELEASE src p
    mkdir -p "$BUILD_DIR/skew" || return 1
    (
        flock 9
        for p in exportflows exportflows-webhook exportflows-applier; do
            [ -x "$cache/bin/$p" ] || break
        done
        [ -x "$cache/bin/$p" ] && exit 0
        if ! git -C "$CLUSTER_ROOT" cat-file -e "$PREVIOUS_RELEASE^{commit}" 2>/dev/null; then
            log "commit $PREVIOUS_RELEASE is not in the repository (a shallow clone? git fetch --unshallow)"
            exit 1
        fi
        src=$(mktemp -d "$BUILD_DIR/skew/src.XXXXXX") || exit 1
        git -C "$CLUSTER_ROOT" archive "$PREVIOUS_RELEASE" | tar -x -C "$src" || exit 1
        # VERSION given: the tree is inside this repository, whose `git describe`
        # the Makefile would otherwise take.  Built plainly, whatever this run's
        # make passes down (`make SANITIZE=...` exports it through MAKEFLAGS and
        # would put the old programs elsewhere).
        if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
            make -C "$src" -j2 programs SANITIZE= VERSION="${PREVIOUS_RELEASE:0:12}" >"$src.log" 2>&1; then
            tail -n 30 "$src.log" >&2
            exit 1
        fi
        rm -rf "$cache" && mkdir -p "$cache" && mv "$src/bin" "$cache/bin" || exit 1
        rm -rf "$src" "$src.log"
    ) 9>"$BUILD_DIR/skew/lock" || return 1
    echo "$cache/bin"
}


# config_text: the ConfigMap's config.json.
config_text() {
    cluster_kubectl -n exportflows get configmap exportflows-config \
        -o jsonpath='{.data.config\.json}' 2>/dev/null
}

# config_is JQ_FILTER: true when the published config.json satisfies the filter.
# The text last seen is in CONFIG_SEEN.
CONFIG_SEEN=
config_is() {
    CONFIG_SEEN=$(config_text)
    [ -n "$CONFIG_SEEN" ] && jq -e "$1" >/dev/null 2>&1 <<<"$CONFIG_SEEN"
}

config_hash() { jq -r '.hash // empty' <<<"$(config_text)" 2>/dev/null; }

# expect_config DESCRIPTION JQ_FILTER
expect_config() {
    if cluster_wait_ms "$1" $DEADLINE_MS config_is "$2"; then
        pass "$1: $CONFIG_SEEN"
    else
        fail "$1: config.json is '$CONFIG_SEEN', wants $2"
    fi
}

# expect_bridge NODE DESCRIPTION WANT: NODE's br-int shows WANT (cluster_bridges'
# form: netflow=TARGETS/active_timeout sflow=TARGETS/sampling/header/polling/agent
# ipfix=TARGETS/sampling/cache_active_timeout/obs_domain_id/obs_point_id).
expect_bridge() {
    if cluster_wait_ms "$1 $2" $DEADLINE_MS cluster_bridge_is "${NODE_DB[$1]}" br-int "$3"; then
        pass "$1 ($2) after $CLUSTER_WAITED_MS ms: $3"
    else
        fail "$1 ($2): br-int is '$CLUSTER_BRIDGE_SEEN', wants 'br-int $3'"
    fi
}

# lease_is NODE STATE HASH: NODE's status Lease (in exportflows-nodes) says
# STATE with applied-hash HASH.
LEASE_SEEN=
lease_is() {
    LEASE_SEEN=$(cluster_kubectl -n exportflows-nodes get lease "exportflows-node-$1" -o \
        jsonpath='{.metadata.annotations.exportflows\.io/state} {.metadata.annotations.exportflows\.io/applied-hash} {.metadata.annotations.exportflows\.io/last-error}' \
        2>/dev/null)
    [ "$LEASE_SEEN" = "$2 $3 " ]
}

expect_lease() {
    if cluster_wait_ms "$1's Lease" $DEADLINE_MS lease_is "$1" "$2" "$3"; then
        pass "$1's status Lease: $2 at ${3:0:19}..."
    else
        fail "$1's status Lease is '$LEASE_SEEN', wants '$2 $3'"
    fi
}

# old_status_refused NODE: the previous release's applier on NODE tried to
# write its status Lease in exportflows and RBAC refused it; no Lease of NODE
# exists in either namespace.
old_status_refused() {
    local log=$CLUSTER_DIR/logs/applier-$1.log ns
    if ! cluster_wait_ms "$1's refused status write" $DEADLINE_MS \
        grep -Eq 'cannot write node status.*(forbidden|403)' "$log"; then
        fail "$1's applier logged no refused status write: $(grep -m1 'node status' "$log")"
        return
    fi
    for ns in exportflows exportflows-nodes; do
        if cluster_kubectl -n "$ns" get lease "exportflows-node-$1" >/dev/null 2>&1; then
            fail "$1 has a status Lease in $ns"
            return
        fi
    done
    pass "$1's status writes in exportflows are refused by RBAC; it has no Lease"
}

# summary_is APPLIED HASH: the publisher's node summary (ConfigMap exportflows-status).
SUMMARY_SEEN=
summary_is() {
    SUMMARY_SEEN=$(cluster_kubectl -n exportflows get configmap exportflows-status -o \
        jsonpath='{.metadata.annotations.exportflows\.io/nodes-applied} {.metadata.annotations.exportflows\.io/nodes-hash} {.metadata.annotations.exportflows\.io/failing-nodes}' \
        2>/dev/null)
    [ "$SUMMARY_SEEN" = "$1 $2 " ]
}

expect_summary() {
    if cluster_wait_ms "the node summary" $SUMMARY_MS summary_is "$1" "$2"; then
        pass "node summary: $1 applied at ${2:0:19}..."
    else
        fail "node summary is '$SUMMARY_SEEN', wants '$1 $2'"
    fi
}

# no_refusal NODE: NODE's applier never refused a config: neither "no usable
# config yet" nor "config refused, keeping the last good one" (both Failed).
no_refusal() {
    local log=$CLUSTER_DIR/logs/applier-$1.log
    if grep -Eq ' error .*refused' "$log"; then
        fail "$1's applier refused a config: $(grep -Em 1 ' error .*refused' "$log")"
    else
        pass "$1's applier refused no config"
    fi
}

# switch_publisher DIR: stops the running webhook (its publisher gives the Lease
# up) and starts the one in DIR.
switch_publisher() {
    cluster_stop_process webhook || fail "the webhook did not stop cleanly"
    CLUSTER_WEBHOOK_BIN=$1
    cluster_webhook_start || die "the webhook from $1 did not start"
}

# What OVS holds.  The new applier leaves unset tuning to OVS (empty columns);
# the previous release's applier writes its own defaults for what config.json
# does not carry; the previous release's publisher writes them all.
OLD_TUNING_SFLOW=64/128/10/ovn-k8s-mp0
OLD_TUNING_IPFIX=400/60/123/456
NEW_TUNING_SFLOW=///ovn-k8s-mp0
NEW_TUNING_IPFIX=/60//
want() {  # want NETFLOW_TARGETS SFLOW_TUNING IPFIX_TUNING
    echo "netflow=$1/60 sflow=$SFLOW/$2 ipfix=$IPFIX/$3"
}

# ---------------------------------------------------------------- set-up

log "work dir $WORK; previous release ${PREVIOUS_RELEASE:0:12}"
start=$SECONDS
OLD_BIN=$(previous_programs) || die "could not build the programs of $PREVIOUS_RELEASE"
NEW_BIN=$(cd "${EXPORTFLOWS_BIN_DIR:-$CLUSTER_ROOT/bin}" && pwd) || die "no programs built (make)"
pass "the previous release's programs in $OLD_BIN ($((SECONDS - start)) s): $("$OLD_BIN/exportflows-applier" --version 2>&1 | head -n 1)"

cluster_up "$WORK" || die "could not bring up the control plane and the webhook"
pass "kube-apiserver at $APISERVER_URL, this tree's exportflows-webhook publishing"

CLUSTER_APPLIER_BIN[n-old]=$OLD_BIN
CLUSTER_APPLIER_BIN[n-new]=$NEW_BIN
for node in n-old n-new; do
    cluster_ovsdb_start "$node" br-int || die "ovsdb-server for $node did not start"
    NODE_DB[$node]=$CLUSTER_OVSDB
    cluster_applier_start "$node" "${NODE_IP[$node]}" "${NODE_DB[$node]}" br-int ||
        die "applier $node did not start"
done
for node in n-old n-new; do
    cluster_applier_health "$node" || die "applier $node did not come up"
done
pass "appliers up: n-old from ${PREVIOUS_RELEASE:0:12}, n-new from this tree"

cluster_apply_network "{netFlow: {collectors: [\"$NETFLOW\"]}, sFlow: {collectors: [\"$SFLOW\"]},
  ipfix: {collectors: [\"$IPFIX\"]}}" || die "kubectl apply of the Network failed"

# ---------------------------------------------------------------- 1. new publisher

log "1. this tree's publisher, both appliers"
expect_config "new publisher: no version key, unset tuning left out" \
    "(has(\"version\") | not) and .netFlow.collectors == [\"$NETFLOW\"]
     and (.sFlow | has(\"sampling\") | not) and .ipfix.cacheActiveTimeout == 60"
HASH1=$(config_hash)
expect_bridge n-new "new applier, new publisher" "$(want "$NETFLOW" "$NEW_TUNING_SFLOW" "$NEW_TUNING_IPFIX")"
expect_bridge n-old "old applier, new publisher" "$(want "$NETFLOW" "$OLD_TUNING_SFLOW" "$OLD_TUNING_IPFIX")"
expect_lease n-new Applied "$HASH1"
old_status_refused n-old
expect_summary 1/1 "$HASH1"
no_refusal n-old

# ---------------------------------------------------------------- 2. old publisher

log "2. the previous release's publisher, both appliers"
switch_publisher "$OLD_BIN"
expect_config "old publisher: every tuning key explicit" \
    "(has(\"version\") | not) and .sFlow.sampling == 64 and .ipfix.obsDomainID == 123
     and .hash != \"$HASH1\""
HASH2=$(config_hash)
expect_bridge n-new "new applier, old publisher" "$(want "$NETFLOW" "$OLD_TUNING_SFLOW" "$OLD_TUNING_IPFIX")"
expect_bridge n-old "old applier, old publisher" "$(want "$NETFLOW" "$OLD_TUNING_SFLOW" "$OLD_TUNING_IPFIX")"
expect_lease n-new Applied "$HASH2"

cluster_apply_network "{netFlow: {collectors: [\"$NETFLOW\", \"$NETFLOW2\"]}, sFlow: {collectors: [\"$SFLOW\"]},
  ipfix: {collectors: [\"$IPFIX\"]}}" || fail "kubectl apply of the changed Network failed"
expect_config "old publisher: the change" ".netFlow.collectors == [\"$NETFLOW\", \"$NETFLOW2\"]"
HASH3=$(config_hash)
expect_bridge n-new "new applier, old publisher's change" \
    "$(want "$NETFLOW,$NETFLOW2" "$OLD_TUNING_SFLOW" "$OLD_TUNING_IPFIX")"
expect_bridge n-old "old applier, old publisher's change" \
    "$(want "$NETFLOW,$NETFLOW2" "$OLD_TUNING_SFLOW" "$OLD_TUNING_IPFIX")"
expect_lease n-new Applied "$HASH3"
no_refusal n-new

# ---------------------------------------------------------------- 3. new publisher again

log "3. this tree's publisher again (the upgrade completes)"
switch_publisher "$NEW_BIN"
expect_config "new publisher again" \
    "(has(\"version\") | not) and (.sFlow | has(\"sampling\") | not)
     and .netFlow.collectors == [\"$NETFLOW\", \"$NETFLOW2\"]"
HASH4=$(config_hash)
expect_bridge n-new "new applier drops the old publisher's tuning" \
    "$(want "$NETFLOW,$NETFLOW2" "$NEW_TUNING_SFLOW" "$NEW_TUNING_IPFIX")"
expect_bridge n-old "old applier, new publisher" \
    "$(want "$NETFLOW,$NETFLOW2" "$OLD_TUNING_SFLOW" "$OLD_TUNING_IPFIX")"
expect_summary 1/1 "$HASH4"
no_refusal n-old

check_verdict k8s-skew
