#!/usr/bin/env bash
# k8s-node-authz.sh — what one node's applier credentials can do to the Leases
# of namespaces exportflows (the publisher's election Lease) and
# exportflows-nodes (the node status Leases), on a real control plane.
#
# tests/system/lib-cluster.sh brings up etcd and kube-apiserver (with the
# OwnerReferencesPermissionEnforcement admission plugin, as OpenShift runs it),
# the manifests' ServiceAccounts and RBAC, and exportflows-webhook whose
# publisher holds the Lease exportflows-publisher.  Then the base's
# ValidatingAdmissionPolicy (manifests/base/applier-lease-policy.yaml) is
# applied, Nodes worker-1 and worker-2 are made with a Pod each bound to them
# (spec.nodeName; no kubelet), and tokens bound to those Pods are taken with
# `kubectl create token --bound-object-kind Pod`, as the kubelet's projected
# token would be.  As the applier of worker-1:
#   1. the token carries the node name (kubectl auth whoami);
#   2. the publisher's Lease (exportflows/exportflows-publisher) cannot be
#      updated, deleted or created: RBAC refuses it (403, no Lease right in
#      exportflows at all), before any admission policy; it stays the
#      publisher's;
#   3. worker-2's Lease cannot be created, updated or deleted (the policy), nor
#      can a Lease named like the publisher's in exportflows-nodes;
#   4. its own Lease can be created, updated and deleted, but not handed to
#      another holder;
#   5. a token that is not bound to a pod (no node name) writes no Lease;
#   6. the real exportflows-applier with the pod-bound token writes its status
#      Lease under the policy, owned by its Pod, and a second Pod on the same
#      node (a restarted applier) takes the Lease over: its ownerReferences
#      change, which the owner-reference plugin allows only with delete.
# EXPORTFLOWS_KEEP_TMP=1 keeps the work dir (kept on failure).
# Needs: ovsdb-server, ovsdb-client, ovs-vsctl, jq, curl, openssl; Go for the
# first build of the control plane.  About a minute.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-check.sh
. "$here/lib-check.sh"
# shellcheck source=tests/system/lib-cluster.sh
. "$here/lib-cluster.sh"

check_tools ovsdb-tool ovsdb-server ovsdb-client ovs-vsctl jq curl openssl

WORK=$(mktemp -d /tmp/exportflows-node-authz.XXXXXX) || die "mktemp failed"
trap cluster_cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

# as KUBECONFIG ARGS...: kubectl with the credentials in KUBECONFIG.
as() {
    local kc=$1
    shift
    "$K8S_BIN_DIR/kubectl" --kubeconfig "$kc" "$@"
}

# The publisher's election Lease, where the publisher keeps it.
PUBLISHER_LEASE=exportflows/exportflows-publisher

# lease_op KUBECONFIG create|update|delete [NAMESPACE/]NAME [HOLDER]: one write
# of the Lease NAME (in NAMESPACE, default exportflows-nodes) as KUBECONFIG's
# user (update: the stored Lease with HOLDER as holder).  Prints kubectl's
# error output; returns kubectl's status.
lease_op() {
    local kc=$1 op=$2 name=${3##*/} ns=exportflows-nodes holder=${4:-} doc
    [[ $3 != */* ]] || ns=${3%%/*}
    case $op in
    create)
        doc="apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: $name, namespace: $ns}
spec: {holderIdentity: $holder}"
        printf '%s\n' "$doc" | as "$kc" create -f - 2>&1 >/dev/null ;;
    update)
        # Without a resourceVersion the update is unconditional (Leases allow
        # it), so a renewal by the publisher between the get and the replace
        # cannot answer 409 Conflict before admission runs the policy.
        doc=$(cluster_kubectl -n "$ns" get lease "$name" -o json) || return 1
        jq --arg h "$holder" '.spec.holderIdentity = $h | del(.metadata.resourceVersion)' <<<"$doc" |
            as "$kc" replace -f - 2>&1 >/dev/null ;;
    delete)
        as "$kc" -n "$ns" delete lease "$name" 2>&1 >/dev/null ;;
    esac
}

# refused WHAT WANT KUBECONFIG OP NAME [HOLDER]: the write must fail with an
# error that contains WANT.
refused() {
    local what=$1 want=$2 out
    shift 2
    if out=$(lease_op "$@"); then
        fail "$what: allowed"
    elif [[ $out != *"$want"* ]]; then
        fail "$what: refused, but not with '$want': $out"
    else
        pass "$what: refused ($want)"
    fi
}

# allowed WHAT KUBECONFIG OP NAME [HOLDER]: the write must succeed.
allowed() {
    local what=$1 out
    shift
    if out=$(lease_op "$@"); then
        pass "$what: allowed"
    else
        fail "$what: $out"
    fi
}

# lease_field [NAMESPACE/]NAME JSONPATH: a field of the stored Lease NAME (in
# NAMESPACE, default exportflows-nodes; "" when absent).
lease_field() {
    local ns=exportflows-nodes
    [[ $1 != */* ]] || ns=${1%%/*}
    cluster_kubectl -n "$ns" get lease "${1##*/}" -o jsonpath="$2" 2>/dev/null
}

# lease_is [NAMESPACE/]NAME JSONPATH WANT: true when the field equals WANT.
lease_is() {
    [ "$(lease_field "$1" "$2")" = "$3" ]
}

# policy_in_force KUBECONFIG: true once a write of worker-2's Lease by worker-1's
# applier is refused by the policy (policies load asynchronously).
policy_in_force() {
    local out
    out=$(lease_op "$1" create exportflows-node-worker-2 worker-2) && {
        cluster_kubectl -n exportflows-nodes delete lease exportflows-node-worker-2 >/dev/null 2>&1
        return 1
    }
    [[ $out == *"may only write the Lease"* ]]
}

# ---------------------------------------------------------------- cluster

export K8S_ADMISSION_PLUGINS=OwnerReferencesPermissionEnforcement
cluster_up "$WORK" || die "the cluster did not come up"
log "control plane at $APISERVER_URL"
cluster_kubectl apply -f "$CLUSTER_ROOT/manifests/base/applier-lease-policy.yaml" >/dev/null ||
    die "cannot apply manifests/base/applier-lease-policy.yaml"

cluster_wait_ms "the publisher's Lease" 30000 \
    lease_is "$PUBLISHER_LEASE" '{.metadata.name}' exportflows-publisher ||
    die "the publisher took no Lease"
publisher_holder=$(lease_field "$PUBLISHER_LEASE" '{.spec.holderIdentity}')
[ -n "$publisher_holder" ] || die "the publisher's Lease has no holder"

uid1=$(cluster_node_pod worker-1 applier-worker-1) || die "cannot make worker-1 and its pod"
uid2=$(cluster_node_pod worker-2 applier-worker-2) || die "cannot make worker-2 and its pod"
kc1=$(cluster_pod_kubeconfig applier-worker-1 "$uid1") || die "no token bound to applier-worker-1"
kc2=$(cluster_pod_kubeconfig applier-worker-2 "$uid2") || die "no token bound to applier-worker-2"
kc_unbound=$(cluster_kubeconfig exportflows-applier) || die "no unbound applier token"
cluster_wait_ms "the lease policy in force" 30000 policy_in_force "$kc1" ||
    die "the ValidatingAdmissionPolicy did not take effect"
pass "policy exportflows-applier-own-lease in force"

# ---------------------------------------------------------------- 1. the token

node=$(as "$kc1" auth whoami -o jsonpath='{.status.userInfo.extra.authentication\.kubernetes\.io/node-name[0]}')
user=$(as "$kc1" auth whoami -o jsonpath='{.status.userInfo.username}')
if [ "$node" = worker-1 ] && [ "$user" = system:serviceaccount:exportflows-nodes:exportflows-applier ]; then
    pass "a token bound to applier-worker-1 is exportflows-applier on node worker-1"
else
    fail "token bound to applier-worker-1: user '$user', node '$node'"
fi
node=$(as "$kc_unbound" auth whoami -o jsonpath='{.status.userInfo.extra.authentication\.kubernetes\.io/node-name[0]}')
[ -z "$node" ] && pass "an unbound token carries no node name" ||
    fail "an unbound token carries node name '$node'"

# ---------------------------------------------------------------- 2. the publisher's Lease

# RBAC answers (403 Forbidden, the authorizer's message), before admission:
# the applier has no Lease right in exportflows at all.
forbidden() {  # forbidden VERB: RBAC's refusal of VERB on Leases in exportflows
    echo "User \"system:serviceaccount:exportflows-nodes:exportflows-applier\" cannot $1 resource \"leases\" in API group \"coordination.k8s.io\" in the namespace \"exportflows\""
}
can_i=$(as "$kc1" auth can-i update leases/exportflows-publisher -n exportflows 2>/dev/null)
[ "$can_i" = no ] && pass "worker-1's applier: can-i update leases/exportflows-publisher -n exportflows: no" ||
    fail "worker-1's applier: can-i update leases/exportflows-publisher -n exportflows: '$can_i'"
rv=$(lease_field "$PUBLISHER_LEASE" '{.metadata.resourceVersion}')
refused "worker-1 updates the publisher's Lease" "$(forbidden update)" \
    "$kc1" update "$PUBLISHER_LEASE" worker-1
refused "worker-1 deletes the publisher's Lease" "$(forbidden delete)" \
    "$kc1" delete "$PUBLISHER_LEASE"
# Authorization runs before storage: RBAC answers, not "AlreadyExists".
refused "worker-1 creates a Lease named exportflows-publisher in exportflows" "$(forbidden create)" \
    "$kc1" create "$PUBLISHER_LEASE" worker-1
holder=$(lease_field "$PUBLISHER_LEASE" '{.spec.holderIdentity}')
if [ "$holder" = "$publisher_holder" ] && [ -n "$holder" ]; then
    pass "the publisher's Lease is still held by $holder"
else
    fail "the publisher's Lease is held by '$holder', was '$publisher_holder'"
fi
[ "$(lease_field "$PUBLISHER_LEASE" '{.metadata.resourceVersion}')" = "$rv" ] ||
    log "note: the publisher renewed its Lease meanwhile"

# ---------------------------------------------------------------- 3. another node's Lease

refused "worker-1 creates worker-2's Lease" "not exportflows-node-worker-2" \
    "$kc1" create exportflows-node-worker-2 worker-2
allowed "worker-2 creates its own Lease" "$kc2" create exportflows-node-worker-2 worker-2
refused "worker-1 updates worker-2's Lease" "not exportflows-node-worker-2" \
    "$kc1" update exportflows-node-worker-2 worker-1
refused "worker-1 deletes worker-2's Lease" "not exportflows-node-worker-2" \
    "$kc1" delete exportflows-node-worker-2
lease_is exportflows-node-worker-2 '{.spec.holderIdentity}' worker-2 &&
    pass "worker-2's Lease is unchanged" || fail "worker-2's Lease was changed"
# Where RBAC lets it write Leases, the policy still holds the name to its node.
refused "worker-1 creates a Lease named exportflows-publisher in exportflows-nodes" \
    "may only write the Lease exportflows-node-worker-1" "$kc1" create exportflows-publisher worker-1

# ---------------------------------------------------------------- 4. its own Lease

allowed "worker-1 creates its own Lease" "$kc1" create exportflows-node-worker-1 worker-1
allowed "worker-1 updates its own Lease" "$kc1" update exportflows-node-worker-1 worker-1
refused "worker-1 hands its Lease to worker-2" "holderIdentity must be the node name worker-1" \
    "$kc1" update exportflows-node-worker-1 worker-2
allowed "worker-1 deletes its own Lease" "$kc1" delete exportflows-node-worker-1

# ---------------------------------------------------------------- 5. no node name

refused "an unbound applier token creates a node Lease" "carry no node name" \
    "$kc_unbound" create exportflows-node-worker-3 worker-3
refused "an unbound applier token updates the publisher's Lease" "$(forbidden update)" \
    "$kc_unbound" update "$PUBLISHER_LEASE" x
refused "an unbound applier token updates worker-2's Lease" "carry no node name" \
    "$kc_unbound" update exportflows-node-worker-2 x

# ---------------------------------------------------------------- 6. the real applier

cluster_apply_network '{netFlow: {collectors: ["192.0.2.100:2056"]}}' ||
    die "cannot create the Network"
cluster_ovsdb_start worker-1 br-int || die "ovsdb-server for worker-1 did not start"
db=$CLUSTER_OVSDB

# start_applier POD UID: the applier of worker-1 as Pod POD, with its token.
start_applier() {
    CLUSTER_APPLIER_KUBECONFIG[worker-1]=$(cluster_pod_kubeconfig "$1" "$2") || return 1
    cluster_applier_start worker-1 192.0.2.21 "$db" br-int --pod-name "$1" --pod-uid "$2"
}

# own_lease_by UID: worker-1's Lease, Applied, held by worker-1 and owned by Pod UID.
own_lease_by() {
    lease_is exportflows-node-worker-1 \
        '{.spec.holderIdentity}/{.metadata.annotations.exportflows\.io/state}/{.metadata.ownerReferences[0].uid}' \
        "worker-1/Applied/$1"
}

# no_refused_writes: the running applier logged no failed status write (its log
# starts afresh with each start).
no_refused_writes() {
    if grep -h "cannot write node status" "$CLUSTER_DIR/logs/applier-worker-1.log"; then
        fail "the applier logged refused status writes"
    else
        pass "no status write of the applier was refused"
    fi
}

start_applier applier-worker-1 "$uid1" || die "cannot start the applier"
if cluster_wait_ms "worker-1's status Lease" 20000 own_lease_by "$uid1"; then
    pass "exportflows-applier writes its status Lease under the policy (Applied, owned by its Pod)"
else
    fail "worker-1's Lease: $(lease_field exportflows-node-worker-1 '{.spec.holderIdentity}/{.metadata.annotations}/{.metadata.ownerReferences}')"
fi
no_refused_writes
cluster_stop_process applier-worker-1 || fail "the applier did not exit 0"

uid1b=$(cluster_node_pod worker-1 applier-worker-1b) || die "cannot make a second pod on worker-1"
start_applier applier-worker-1b "$uid1b" || die "cannot start the second applier"
if cluster_wait_ms "worker-1's Lease taken over" 20000 own_lease_by "$uid1b"; then
    pass "a new applier pod on worker-1 takes its node's Lease over (ownerReferences changed)"
else
    fail "worker-1's Lease after the restart: $(lease_field exportflows-node-worker-1 '{.metadata.ownerReferences}')"
fi
no_refused_writes
cluster_stop_process applier-worker-1 || fail "the second applier did not exit 0"

log "$checks checks, $failures failed"
[ "$failures" = 0 ]
