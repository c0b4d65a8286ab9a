#!/usr/bin/env bash
# k8s-flowsconfig.sh — the network operator's ConfigMap
# openshift-network-operator/ovs-flows-config on a real control plane.
#
# tests/system/lib-cluster.sh brings up etcd, kube-apiserver, the test Network
# CRD, the manifests' RBAC (run as the ServiceAccounts) and exportflows-webhook
# with its publisher, registered with the manifest's own
# ValidatingWebhookConfiguration, whose second entry is the one for that
# ConfigMap (rules, namespaceSelector, matchConditions as shipped; only the
# clientConfig becomes a URL).  Then, with a Network listing one IPFIX collector:
#   1. merge: the ConfigMap created with sharedTarget, sampling, cacheMaxFlows
#      and cacheActiveTimeout -> the published config.json has the target after
#      the Network's collector and those settings (90 s from "1m30s"); nodePort
#      instead -> ":PORT";
#   2. denial: kubectl apply of a bad sharedTarget fails with the webhook's
#      field error, nothing is stored; the same data under another name or in
#      another namespace is not sent to the webhook at all (admitted);
#   3. a value the operator ignores (sampling "1:400") is admitted with the
#      webhook's warning and not merged: the rest applies, the publisher logs
#      it, counts it (exportflows_publisher_invalid_flows_config_total) and
#      records an Event on the ConfigMap;
#   4. an invalid target stored while that entry is gone (as when the webhook
#      is not registered for it) is not merged at all: reported the same way;
#   5. removal: the ConfigMap deleted -> the config is the Network's alone.
# EXPORTFLOWS_KEEP_TMP=1 keeps the work dir (kept on failure).
# Needs: jq, curl, openssl, python3; Go for the first build
# of the control plane.  About half a minute.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-check.sh
. "$here/lib-check.sh"
# shellcheck source=tests/system/lib-cluster.sh
. "$here/lib-cluster.sh"

DEADLINE_MS=5000      # the published config follows the ConfigMap this soon
NS=openshift-network-operator
ENTRY=ovsflowsconfig.exportflows.io

check_tools jq curl openssl

WORK=$(mktemp -d /tmp/exportflows-k8s-flowsconfig.XXXXXX) || die "mktemp failed"
trap cluster_cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

# registered_entry: the registration's entry for ovs-flows-config, compact
# JSON ("null" when it has none).
registered_entry() {
    cluster_kubectl get validatingwebhookconfiguration exportflows -o json |
        jq -c --arg e "$ENTRY" '[.webhooks[] | select(.name == $e)][0]
                                | {namespaceSelector, matchConditions}'
}

# drop_flows_entry: the registration without the entry for ovs-flows-config.
drop_flows_entry() {
    local i
    i=$(cluster_kubectl get validatingwebhookconfiguration exportflows -o json |
        jq --arg e "$ENTRY" '[.webhooks[].name] | index($e)') || return 1
    [ "$i" != null ] || return 1
    cluster_kubectl patch validatingwebhookconfiguration exportflows --type=json \
        -p "[{\"op\": \"remove\", \"path\": \"/webhooks/$i\"}]" >/dev/null
}

flows_webhook_effective() {
    cluster_kubectl -n $NS create configmap ovs-flows-config --dry-run=server \
        --from-literal=sharedTarget=0.0.0.0:1 2>&1 >/dev/null | grep -q 'data.sharedTarget'
}

# flows_configmap KEY=VALUE...: the ConfigMap ovs-flows-config with that data, as YAML.
flows_configmap() {
    local kv
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\ndata:\n' \
        "${CM_NAME:-ovs-flows-config}" "${CM_NS:-$NS}"
    for kv in "$@"; do
        printf '  %s: "%s"\n' "${kv%%=*}" "${kv#*=}"
    done
}

# apply_flows KEY=VALUE...: kubectl apply of it; stderr in $WORK/flows.err.
apply_flows() {
    flows_configmap "$@" | cluster_kubectl apply -f - >/dev/null 2>"$WORK/flows.err"
}

# published_ipfix: the ipfix member of the published config.json, compact.
published_ipfix() {
    cluster_kubectl -n exportflows get configmap exportflows-config \
        -o jsonpath='{.data.config\.json}' 2>/dev/null | jq -c '.ipfix // "off"' 2>/dev/null
}

# ipfix_is COLLECTORS SAMPLING TIMEOUT MAXFLOWS: true when the published
# ipfix member has these (COLLECTORS a JSON list, null for a key left out: OVS's
# default applies); SEEN holds what it had.
SEEN=
ipfix_is() {
    SEEN=$(published_ipfix)
    jq -e --argjson c "$1" --argjson s "$2" --argjson t "$3" --argjson m "$4" \
        '.collectors == $c and .sampling == $s and .cacheActiveTimeout == $t
         and .cacheMaxFlows == $m' <<<"$SEEN" >/dev/null 2>&1
}

# expect_ipfix DESCRIPTION COLLECTORS SAMPLING TIMEOUT MAXFLOWS
expect_ipfix() {
    local what=$1
    shift
    if cluster_wait_ms "$what" $DEADLINE_MS ipfix_is "$@"; then
        pass "$what: published ipfix is $SEEN (${CLUSTER_WAITED_MS} ms)"
    else
        fail "$what: published ipfix is $SEEN, want collectors $1 sampling $2 cacheActiveTimeout $3 cacheMaxFlows $4"
    fi
}

invalid_count() {
    cluster_metric webhook exportflows_publisher_invalid_flows_config_total 2>/dev/null || echo 0
}

# invalid_reported DESCRIPTION BEFORE TEXT: the counter went past BEFORE, the
# webhook logged it, and an Event on the ConfigMap says TEXT.
invalid_reported() {
    local what=$1 before=$2 text=$3
    counter_past() { [ "$(invalid_count)" -gt "$1" ]; }
    if cluster_wait_ms "$what: the counter" $DEADLINE_MS counter_past "$before"; then
        pass "$what: exportflows_publisher_invalid_flows_config_total $before -> $(invalid_count)"
    else
        fail "$what: exportflows_publisher_invalid_flows_config_total still $(invalid_count)"
    fi
    # The log line quotes the detail, its quotes escaped.
    if grep -F 'ovs-flows-config values are not merged' "$CLUSTER_DIR/logs/webhook.log" |
        grep -qF -- "${text//\"/\\\"}"; then
        pass "$what: the webhook logged it"
    else
        fail "$what: no log line about '$text'"
    fi
    event_has() {
        cluster_kubectl -n $NS get events --field-selector reason=InvalidOVSFlowsConfig \
            -o jsonpath='{range .items[*]}{.involvedObject.kind}/{.involvedObject.name}: {.message}{"\n"}{end}' \
            2>/dev/null | grep -F 'ConfigMap/ovs-flows-config: ' | grep -qF -- "$1"
    }
    if cluster_wait_ms "$what: the Event" $DEADLINE_MS event_has "$text"; then
        pass "$what: Event InvalidOVSFlowsConfig on ConfigMap $NS/ovs-flows-config"
    else
        fail "$what: no Event on the ConfigMap saying '$text'"
    fi
}

# ---------------------------------------------------------------- set up

log "work dir $WORK, identity $CLUSTER_IDENTITY"
cluster_up "$WORK" || die "could not bring up the control plane and the webhook"
cluster_wait_ms "the ovs-flows-config entry to take effect" 15000 flows_webhook_effective ||
    die "the registration does not send ovs-flows-config to the webhook: $(registered_entry)"
pass "ovs-flows-config entry of the manifest in effect: $(registered_entry)"

cluster_apply_network '{netFlow: {collectors: ["172.30.158.150:2056"]}, ipfix: {collectors: ["172.30.158.150:4739"]}}' ||
    die "cannot apply the Network"
expect_ipfix "Network alone" '["172.30.158.150:4739"]' null 60 null

# ---------------------------------------------------------------- 1. merge

log "1. merge"
apply_flows sharedTarget=10.0.0.5:4739 sampling=100 cacheMaxFlows=1000 cacheActiveTimeout=1m30s ||
    fail "kubectl apply of a valid ovs-flows-config failed: $(cat "$WORK/flows.err")"
[ -s "$WORK/flows.err" ] && fail "a valid ovs-flows-config printed: $(cat "$WORK/flows.err")"
expect_ipfix "sharedTarget merged" '["10.0.0.5:4739","172.30.158.150:4739"]' 100 90 1000
apply_flows nodePort=4740 ||
    fail "kubectl apply of nodePort failed: $(cat "$WORK/flows.err")"
expect_ipfix "nodePort merged" '["172.30.158.150:4739",":4740"]' null 60 null

# ---------------------------------------------------------------- 2. denial

log "2. denial through kubectl"
want='The ConfigMap "ovs-flows-config" is invalid: data.sharedTarget: Invalid value: "01.2.3.4:4739": IPv4 octets must not have leading zeros'
if apply_flows sharedTarget=01.2.3.4:4739; then
    fail "a leading-zero sharedTarget was admitted"
elif [ "$(cat "$WORK/flows.err")" = "$want" ]; then
    pass "bad sharedTarget refused: $(cat "$WORK/flows.err")"
else
    fail "bad sharedTarget: stderr differs"
    diff <(echo "$want") "$WORK/flows.err" | sed 's/^/    /'
fi
stored=$(cluster_kubectl -n $NS get configmap ovs-flows-config -o jsonpath='{.data.nodePort}')
[ "$stored" = 4740 ] && pass "the refused update stored nothing (nodePort still 4740)" ||
    fail "the refused update changed the ConfigMap: nodePort '$stored'"
reviews_before=$(cluster_webhook_reviews)
if CM_NAME=ovs-flows-config-copy apply_flows sharedTarget=01.2.3.4:4739 &&
    CM_NS=default apply_flows sharedTarget=01.2.3.4:4739; then
    pass "same data under another name and in namespace default: admitted"
else
    fail "a ConfigMap the registration does not select was refused: $(cat "$WORK/flows.err")"
fi
if [ "$(cluster_webhook_reviews)" = "$reviews_before" ]; then
    pass "... without calling the webhook (still $reviews_before reviews answered)"
else
    fail "the webhook was called for a ConfigMap the registration should not select"
fi
expect_ipfix "unselected ConfigMaps change nothing" '["172.30.158.150:4739",":4740"]' null 60 null

# ---------------------------------------------------------------- 3. ignored value

log "3. a value the network operator ignores"
before=$(invalid_count)
if apply_flows sharedTarget=10.0.0.6:4739 sampling=1:400 cacheMaxFlows=500 &&
    grep -qxF 'Warning: data.sampling: Invalid value: "1:400": must be an unsigned 32-bit integer; the network operator ignores it' \
        "$WORK/flows.err"; then
    pass "sampling \"1:400\" admitted with the webhook's warning"
else
    fail "sampling \"1:400\": $(cat "$WORK/flows.err")"
fi
expect_ipfix "the rest merged, sampling not" '["10.0.0.6:4739","172.30.158.150:4739"]' null 60 500
invalid_reported "sampling ignored" "$before" 'data.sampling: Invalid value: "1:400"'

# ---------------------------------------------------------------- 4. invalid target

log "4. an invalid target stored without the webhook"
drop_flows_entry || fail "cannot drop the ovs-flows-config entry from the registration"
stored_bad() { apply_flows sharedTarget=255.255.255.255:4739 sampling=10; }
if cluster_wait_ms "the registration to be gone" 15000 stored_bad; then
    pass "broadcast sharedTarget stored while the webhook is not registered for it"
else
    fail "could not store a broadcast sharedTarget: $(cat "$WORK/flows.err")"
fi
before_bad=$before
expect_ipfix "invalid target: nothing of the ConfigMap merged" '["172.30.158.150:4739"]' null 60 null
invalid_reported "invalid target" "$((before_bad + 1))" \
    'data.sharedTarget: Invalid value: "255.255.255.255:4739": must not be the broadcast address'
cluster_webhook_register && cluster_wait_ms "the entry back" 15000 flows_webhook_effective ||
    fail "could not register the ovs-flows-config entry again"

# ---------------------------------------------------------------- 5. removal

log "5. removal"
apply_flows sharedTarget=10.0.0.7:4739 sampling=50 ||
    fail "kubectl apply of a valid ovs-flows-config failed: $(cat "$WORK/flows.err")"
expect_ipfix "valid again" '["10.0.0.7:4739","172.30.158.150:4739"]' 50 60 null
cluster_kubectl -n $NS delete configmap ovs-flows-config >/dev/null || fail "cannot delete ovs-flows-config"
expect_ipfix "ConfigMap deleted: the Network's alone" '["172.30.158.150:4739"]' null 60 null

if cluster_alive webhook; then
    status=0
    cluster_stop_process webhook || status=$?
    [ $status = 0 ] && pass "webhook exited 0 on SIGTERM" || fail "webhook exited $status on SIGTERM"
else
    fail "the webhook died"
fi

check_verdict k8s-flowsconfig
