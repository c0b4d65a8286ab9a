#!/usr/bin/env bash
# monitoring-rules.sh — manifests/components/monitoring against the metrics the
# programs really expose.
#
# On a real control plane (tests/system/lib-cluster.sh) with
# exportflows-webhook publishing (as its ServiceAccount) and one
# exportflows-applier (Kubernetes source, its own ovsdb-server):
#   1. both programs' /metrics are scraped (the webhook's also on its HTTPS
#      port with a bearer token, as the ServiceMonitor does; the applier's over
#      TLS with a token allowed to get /metrics) and pass
#      `promtool check metrics`;
#   2. the base plus the component renders, and `kubectl apply
#      --dry-run=server` accepts it with stand-in CRDs for ServiceMonitor and
#      PrometheusRule (tests/k8s/crd-monitoring.yaml: typed, strict); each
#      ServiceMonitor selects its Service (webhook, applier metrics) and names
#      one of its ports, Prometheus may read the appliers' /metrics, and the
#      namespaces get the cluster-monitoring label;
#   3. the PrometheusRule's groups pass `promtool check rules`;
#   4. every metric name and label matcher in every rule expression exists in
#      the scraped output, and docs/DEPLOY.md lists each alert with its exact
#      expression;
#   5. `promtool test rules` runs the rules on input series named and labelled
#      exactly as scraped (plus the labels Prometheus adds to a target): the
#      values as scraped fire nothing; each alert fires on the values that must
#      fire it and not before its time.
# Needs: promtool (Debian package prometheus), openvswitch-switch, jq, curl,
# openssl, python3.  EXPORTFLOWS_KEEP_TMP=1 keeps the work dir.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/system/lib-check.sh
. "$here/lib-check.sh"
# shellcheck source=tests/system/lib-cluster.sh
. "$here/lib-cluster.sh"

check_tools promtool ovsdb-tool ovsdb-server ovsdb-client ovs-vsctl jq curl openssl
check_python

WORK=$(mktemp -d /tmp/exportflows-monitoring.XXXXXX) || die "mktemp failed"
trap cluster_cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- 1. the programs

log "work dir $WORK"
cluster_up "$WORK" || die "could not bring up the control plane and the webhook"
# The applier's /metrics are behind TLS and a token with get on /metrics
# (docs/DEPLOY.md "Applier metrics"): scrape as a service account bound to
# the manifests' exportflows-metrics-reader, as Prometheus would.
cluster_kubectl -n exportflows create serviceaccount scraper >/dev/null || die "create sa scraper"
cluster_kubectl create clusterrolebinding exportflows-test-scraper \
    --clusterrole exportflows-metrics-reader --serviceaccount exportflows:scraper >/dev/null ||
    die "bind the scraper"
SCRAPER=$(cluster_kubectl -n exportflows create token scraper --duration 1h) || die "no token"
mkdir -p "$WORK/tmp"
export TMPDIR=$WORK/tmp
cluster_ovsdb_start n1 br-int || die "ovsdb-server did not start"
cluster_applier_start n1 192.0.2.11 "$CLUSTER_OVSDB" br-int --metrics-listen 127.0.0.1:0 ||
    die "applier did not start"
cluster_applier_health n1 || die "applier did not come up"
cluster_wait_ms "the applier's metrics address" 15000 \
    cluster_listen_addr applier-n1 metrics >/dev/null || die "the applier did not listen"
APPLIER_METRICS=https://$(cluster_listen_addr applier-n1 metrics)/metrics
applier_scrape() {
    curl -fsSk --max-time 10 -H "Authorization: Bearer $SCRAPER" "$APPLIER_METRICS"
}
cluster_apply_network '{netFlow: {collectors: ["172.30.158.150:2056"]}}' ||
    die "kubectl apply of the Network failed"
# Scrape once the system has settled: the node is in sync, the publisher leads.
settled() {
    [ "$(cluster_metric webhook 'exportflows_publisher_nodes{state="in_sync"}')" = 1 ] &&
        [ "$(cluster_metric webhook exportflows_publisher_leader)" = 1 ] &&
        applier_scrape | grep -qx 'exportflows_applier_in_sync 1'
}
cluster_wait_ms "the node in sync" 20000 settled || fail "the system did not settle"
curl -fsS --max-time 5 "http://$CLUSTER_WEBHOOK_HEALTH/metrics" >"$WORK/webhook.prom" ||
    die "cannot scrape the webhook"
applier_scrape >"$WORK/applier.prom" || die "cannot scrape the applier"
# The ServiceMonitor's way: the HTTPS port, the service CA, a bearer token.
token=$(cluster_kubectl -n exportflows create token exportflows-webhook --duration 10m) ||
    die "no token"
if curl -fsS --max-time 5 --cacert "$CLUSTER_DIR/webhook-certs/ca.crt" \
    -H "Authorization: Bearer $token" "$CLUSTER_WEBHOOK_URL/metrics" >"$WORK/webhook-https.prom" &&
    grep -q '^exportflows_publisher_leader ' "$WORK/webhook-https.prom"; then
    pass "webhook /metrics on its HTTPS port with a bearer token, as the ServiceMonitor scrapes it"
else
    fail "webhook /metrics on the HTTPS port: $(head -c 300 "$WORK/webhook-https.prom")"
fi
for p in webhook applier; do
    if promtool check metrics <"$WORK/$p.prom" >"$WORK/$p.lint" 2>&1; then
        pass "promtool check metrics: $p ($(grep -c '^exportflows_' "$WORK/$p.prom") series)"
    else
        fail "promtool check metrics: $p: $(head -n 5 "$WORK/$p.lint")"
    fi
done

# ---------------------------------------------------------------- 2. the manifests

cluster_kubectl apply -f "$CLUSTER_ROOT/tests/k8s/crd-monitoring.yaml" >/dev/null ||
    die "cannot install the stand-in monitoring CRDs"
cluster_kubectl wait --for condition=Established --timeout=60s \
    crd/servicemonitors.monitoring.coreos.com crd/prometheusrules.monitoring.coreos.com >/dev/null ||
    die "stand-in monitoring CRDs not established"
# An overlay of the base with the component, in a copy of manifests/ (kustomize
# wants relative paths).
cp -r "$CLUSTER_ROOT/manifests" "$WORK/manifests"
mkdir -p "$WORK/manifests/overlays/test-monitoring"
cat >"$WORK/manifests/overlays/test-monitoring/kustomization.yaml" <<'EOF'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
components:
  - ../../components/monitoring
EOF
cluster_kubectl kustomize "$WORK/manifests/overlays/test-monitoring" >"$WORK/rendered.yaml" ||
    die "kubectl kustomize failed"
if cluster_kubectl apply --dry-run=server -f "$WORK/rendered.yaml" -o json >"$WORK/server.json" \
    2>"$WORK/server.err"; then
    pass "base + components/monitoring: kubectl apply --dry-run=server accepts every object"
else
    die "kubectl apply --dry-run=server: $(cat "$WORK/server.err")"
fi
# One JSON object per line (kubectl prints a List, or objects one after another).
jq -c 'if .kind == "List" then .items[] else . end' "$WORK/server.json" >"$WORK/objects.jsonl" ||
    die "cannot read the dry run's output"
obj() { jq -c --arg k "$1" --arg n "$2" 'select(.kind == $k and .metadata.name == $n)' "$WORK/objects.jsonl"; }
asm=$(obj ServiceMonitor exportflows-applier)
asvc=$(obj Service exportflows-applier-metrics)
if [ -n "$asm" ] && [ -n "$asvc" ] &&
    jq -e --argjson svc "$asvc" '(.spec.selector.matchLabels | to_entries |
            all(.value == $svc.metadata.labels[.key])) and
        (.spec.endpoints[0].port as $p | any($svc.spec.ports[]; .name == $p)) and
        .spec.endpoints[0].scheme == "https" and
        $svc.metadata.namespace == "exportflows-nodes" and
        .spec.namespaceSelector.matchNames == [$svc.metadata.namespace] and
        .spec.endpoints[0].tlsConfig.serverName ==
            "exportflows-applier-metrics." + $svc.metadata.namespace + ".svc"' \
        <<<"$asm" >/dev/null; then
    pass "applier ServiceMonitor selects Service exportflows-applier-metrics in exportflows-nodes and names its port, https"
else
    fail "applier ServiceMonitor does not fit Service exportflows-applier-metrics: $asm"
fi
if [ "$(obj ClusterRoleBinding exportflows-prometheus-metrics-reader |
        jq -r '.roleRef.name + " " + .subjects[0].namespace + "/" + .subjects[0].name')" = \
    "exportflows-metrics-reader openshift-monitoring/prometheus-k8s" ]; then
    pass "prometheus-k8s may get the appliers' /metrics (exportflows-metrics-reader)"
else
    fail "no ClusterRoleBinding of exportflows-metrics-reader to openshift-monitoring/prometheus-k8s"
fi
sm=$(obj ServiceMonitor exportflows-webhook)
svc=$(obj Service exportflows-webhook)
[ -n "$sm" ] && [ -n "$svc" ] || die "the ServiceMonitor or the Service is missing from the rendering"
sm_port=$(jq -r '.spec.endpoints[0].port' <<<"$sm")
if jq -e --arg p "$sm_port" '.spec.ports[] | select(.name == $p and .targetPort == "https")' \
    <<<"$svc" >/dev/null; then
    pass "ServiceMonitor scrapes Service port '$sm_port', the webhook's HTTPS port"
else
    fail "ServiceMonitor port '$sm_port' is not the Service's https port"
fi
if jq -e --argjson svc "$svc" '.spec.selector.matchLabels | to_entries |
        all(.value == $svc.metadata.labels[.key])' <<<"$sm" >/dev/null &&
    [ "$(jq -r '.spec.endpoints[0] | [.scheme, .path, .bearerTokenFile, .tlsConfig.serverName] | join(" ")' <<<"$sm")" = \
        "https /metrics /var/run/secrets/kubernetes.io/serviceaccount/token exportflows-webhook.exportflows.svc" ]; then
    pass "ServiceMonitor selects the webhook Service; https, bearer token file, service name checked"
else
    fail "ServiceMonitor does not select the Service or its endpoint differs: $sm"
fi
for ns in exportflows exportflows-nodes; do
    if [ "$(obj Namespace "$ns" | jq -r '.metadata.labels["openshift.io/cluster-monitoring"]')" = true ]; then
        pass "namespace $ns labelled openshift.io/cluster-monitoring=true"
    else
        fail "namespace $ns lacks openshift.io/cluster-monitoring=true"
    fi
    # Prometheus discovers the targets in both namespaces.
    if [ "$(jq -r --arg ns "$ns" 'select(.kind == "RoleBinding" and .metadata.name == "exportflows-prometheus"
            and .metadata.namespace == $ns) | .subjects[0].namespace + "/" + .subjects[0].name' \
            "$WORK/objects.jsonl")" = openshift-monitoring/prometheus-k8s ]; then
        pass "prometheus-k8s may discover the targets in namespace $ns"
    else
        fail "no RoleBinding exportflows-prometheus for prometheus-k8s in namespace $ns"
    fi
done
obj PrometheusRule exportflows | jq '{groups: .spec.groups}' >"$WORK/rules.json"
[ -s "$WORK/rules.json" ] || die "no PrometheusRule in the rendering"

# ---------------------------------------------------------------- 3. promtool check rules

if promtool check rules "$WORK/rules.json" >"$WORK/check-rules.out" 2>&1; then
    pass "promtool check rules: $(grep -o 'SUCCESS.*' "$WORK/check-rules.out")"
else
    fail "promtool check rules: $(cat "$WORK/check-rules.out")"
fi

# ---------------------------------------------------------------- 4. names and labels

# rules-check.py prints "ok: ..." or "FAIL: ..." lines, and writes the
# promtool unit test (5.) from the scraped series.
"$PYTHON" - "$WORK" "$CLUSTER_ROOT/docs/DEPLOY.md" >"$WORK/names.out" 2>&1 <<'PYEOF'
import json, re, sys

work, deploy = sys.argv[1], sys.argv[2]
rules = json.load(open(work + "/rules.json"))
series = {}         # metric name -> list of label dicts, from both scrapes
for prog in ("webhook", "applier"):
    for line in open("%s/%s.prom" % (work, prog)):
        if not line.strip() or line.startswith("#"):
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line.strip())
        if not m:
            print("FAIL: cannot read the scraped line %r" % line)
            continue
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        series.setdefault(m.group(1), []).append((prog, labels, m.group(4)))

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
            "and", "or", "unless", "offset", "inf", "nan"}

def selectors(expr):
    """(metric, [(label, op, value)]) for every vector selector of a PromQL
    expression, and the label names of by/without/on/ignoring clauses."""
    expr = re.sub(r'\[[^\]]*\]', ' ', expr)                  # range durations
    grouping = []
    def keep_grouping(m):
        grouping.extend(re.findall(r'[a-zA-Z_][a-zA-Z0-9_]*', m.group(2)))
        return " "
    expr = re.sub(r'\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)',
                  keep_grouping, expr)
    out = []
    for m in re.finditer(r'(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?', expr):
        name, matchers, call = m.group(1), m.group(2), m.group(3)
        if call or name in KEYWORDS:
            continue
        out.append((name, re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"',
                                     matchers or "")))
    return out, grouping

def matches(labels, op, want, got):
    v = labels.get(got[0], "")
    return {"=": v == want, "!=": v != want,
            "=~": re.fullmatch(want, v) is not None,
            "!~": re.fullmatch(want, v) is None}[op]

used = {}
docs = open(deploy).read()
for group in rules["groups"]:
    for rule in group["rules"]:
        name = rule.get("alert") or rule.get("record")
        sels, grouping = selectors(rule["expr"])
        if not sels:
            print("FAIL: %s: no metric in %r" % (name, rule["expr"]))
        for metric, matchers in sels:
            if metric not in series:
                print("FAIL: %s: metric %s is not exposed by the webhook or the applier"
                      % (name, metric))
                continue
            ok = [s for s in series[metric]
                  if all(matches(s[1], op, v, (l,)) for l, op, v in matchers)]
            if not ok:
                print("FAIL: %s: no %s series matches %s" % (name, metric, matchers))
                continue
            for l in grouping:
                if not any(l in s[1] for s in series[metric]):
                    print("FAIL: %s: %s has no label %s" % (name, metric, l))
            used.setdefault(metric, ok)
            print("ok: %s uses %s%s, exposed by the %s" % (
                name, metric, "".join("{%s%s\"%s\"}" % m for m in matchers), ok[0][0]))
        row = "| `%s` | `%s` |" % (name, rule["expr"])
        if row not in docs:
            print("FAIL: docs/DEPLOY.md has no row starting %s" % row)
        else:
            print("ok: docs/DEPLOY.md lists %s with its expression" % name)

# ---- 5. the promtool unit test, on the series as scraped ----

# The labels Prometheus adds to every target of the ServiceMonitor.
def target(pod):
    return {"job": "exportflows-webhook", "namespace": "exportflows", "pod": pod,
            "instance": pod + ":8443", "endpoint": "https", "service": "exportflows-webhook"}

def series_text(metric, labels):
    return metric + "{" + ",".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"

def inputs(values, pods=("webhook-a", "webhook-b")):
    """Input series for every metric the rules use, one per scraped series and
    pod; 'values' maps a metric to (pod -> promtool values) or to None to leave
    it out; metrics not in 'values' keep the value scraped, constant."""
    out = []
    for metric, found in sorted(used.items()):
        for _prog, labels, scraped in found:
            for pod in pods:
                v = values.get(metric, "scraped")
                if v is None:
                    continue
                v = ("%sx30" % scraped) if v == "scraped" else v[pod] if isinstance(v, dict) else v
                out.append({"series": series_text(metric, dict(labels, **target(pod))),
                            "values": v})
    return out

def fires(alert, at, labels=None):
    return {"eval_time": at, "alertname": alert,
            "exp_alerts": [{"exp_labels": labels}] if labels is not None else []}

healthy = {"exportflows_publisher_nodes_out_of_sync_seconds": "0x30",
           "exportflows_publisher_spec_invalid": "0x30",
           "exportflows_webhook_tls_certificate_not_after_seconds": "1e10x30",
           "exportflows_publisher_leader": {"webhook-a": "1x30", "webhook-b": "0x30"}}
ALERTS = ["ExportflowsNodesOutOfSync", "ExportflowsInvalidStoredSpec",
          "ExportflowsWebhookCertificateExpiresSoon", "ExportflowsNoPublisherLeader"]
cert = "exportflows_webhook_tls_certificate_not_after_seconds"
cert_labels = dict(used[cert][0][1], **target("webhook-b")) if cert in used else {}
tests = [
    # As scraped from the running system: nothing is wrong, nothing fires.
    {"interval": "1m", "input_series": inputs({}),
     "alert_rule_test": [fires(a, "20m") for a in ALERTS]},
    # Healthy values, for the same 30 minutes.
    {"interval": "1m", "input_series": inputs(healthy),
     "alert_rule_test": [fires(a, "29m") for a in ALERTS]},
    # One node behind, growing a minute a minute: fires once past 300 s.
    {"interval": "1m",
     "input_series": inputs(dict(healthy, exportflows_publisher_nodes_out_of_sync_seconds=
                                 {"webhook-a": "0+60x30", "webhook-b": "0+60x30"})),
     "alert_rule_test": [fires("ExportflowsNodesOutOfSync", "5m"),
                         fires("ExportflowsNodesOutOfSync", "6m", {"severity": "warning"})]},
    # An invalid stored spec, seen by both replicas: fires after 1m.
    {"interval": "1m",
     "input_series": inputs(dict(healthy, exportflows_publisher_spec_invalid="1x30")),
     "alert_rule_test": [fires("ExportflowsInvalidStoredSpec", "0m"),
                         fires("ExportflowsInvalidStoredSpec", "2m", {"severity": "warning"})]},
    # webhook-b's certificate ends 10 days after the epoch, the test's time 0:
    # fires after 15m, for that pod only.
    {"interval": "1m",
     "input_series": inputs(dict(healthy, **{cert: {"webhook-a": "1e10x30",
                                                    "webhook-b": "864000x30"}})),
     "alert_rule_test": [fires("ExportflowsWebhookCertificateExpiresSoon", "10m"),
                         fires("ExportflowsWebhookCertificateExpiresSoon", "16m",
                               dict(cert_labels, severity="warning"))]},
    # Nobody leads: fires after 2m; and nobody is scraped at all: fires too.
    {"interval": "1m",
     "input_series": inputs(dict(healthy, exportflows_publisher_leader="0x30")),
     "alert_rule_test": [fires("ExportflowsNoPublisherLeader", "1m"),
                         fires("ExportflowsNoPublisherLeader", "3m", {"severity": "critical"})]},
    {"interval": "1m",
     "input_series": inputs(dict(healthy, exportflows_publisher_leader=None)),
     "alert_rule_test": [fires("ExportflowsNoPublisherLeader", "3m", {"severity": "critical"})]},
]
# promtool compares annotations too; the expressions are what is tested here
# (check rules has parsed the templates).
bare = {"groups": [dict(g, rules=[{k: v for k, v in r.items() if k != "annotations"}
                                  for r in g["rules"]]) for g in rules["groups"]]}
json.dump(bare, open(work + "/rules-bare.json", "w"))
json.dump({"rule_files": ["rules-bare.json"], "evaluation_interval": "1m", "tests": tests},
          open(work + "/rules-test.json", "w"), indent=1)
print("ok: %d promtool test groups written" % len(tests))
PYEOF
while read -r line; do
    case "$line" in
        ok:*) pass "${line#ok: }" ;;
        *) fail "${line#FAIL: }" ;;
    esac
done <"$WORK/names.out"

# ---------------------------------------------------------------- 5. promtool test rules

if (cd "$WORK" && promtool test rules rules-test.json) >"$WORK/test-rules.out" 2>&1; then
    pass "promtool test rules: every alert fires when it must and only then, on the series as scraped"
else
    fail "promtool test rules: $(head -n 40 "$WORK/test-rules.out")"
fi

check_verdict monitoring-rules
