#!/usr/bin/env bash
# manifests-dryrun.sh — the deployable manifests against a real kube-apiserver.
#
# Starts a throw-away control plane (tests/k8s/control-plane.sh), installs the
# test Network CRD, then for manifests/base and every overlay: `kubectl
# kustomize` must render, `kubectl apply --dry-run=server`
# must accept every object, and the objects as the server would store them must
# carry the settings the issue asks for (failurePolicy Fail, 2 replicas,
# hostNetwork, tolerate everything, ...).  Then the base is applied for real
# and the RBAC is probed as the two service accounts: everything they need is
# allowed, and a list of things they must not do is refused (the applier has
# no Lease right at all in exportflows, where the publisher's election Lease
# is: its Leases are in exportflows-nodes); the applier's
# Lease policy is tried with impersonated node names (tests/system/
# k8s-node-authz.sh does it with real pod-bound tokens), and the
# per-node status command of docs/DEPLOY.md is run on a status record written
# as an applier.  The image (.ci/build-image, Containerfile) is checked to
# install every program the manifests run.
#
# The Namespace is created for real first: a server dry run of namespaced
# objects needs the namespace to exist.
#
# cert-manager's Issuer/Certificate and OpenShift's SecurityContextConstraints
# are not served by a plain kube-apiserver.  The test installs stand-in CRDs
# for them whose schemas declare only the fields these manifests use, typed as
# in the real APIs (cert-manager.io/v1, security.openshift.io/v1), without
# x-kubernetes-preserve-unknown-fields.  kubectl applies with strict field
# validation, so a misspelt or misplaced field in those objects still fails;
# what the stand-ins cannot check is the real APIs' value rules (enums,
# defaults, cross-field checks).
#
# Environment: EXPORTFLOWS_BIN_DIR (for `exportflows certs`; openssl is used
# when it is missing), K8S_BIN_DIR (skip tests/k8s/build-fixtures.sh).
# Exit 0 = pass.
set -euo pipefail
cd "$(dirname "$0")/../.."

passed=0
say() { printf 'manifests-dryrun: %s\n' "$*" >&2; }
pass() { passed=$((passed + 1)); say "ok: $*"; }
fail() {
    say "FAIL: $*"
    exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/exportflows-manifests.XXXXXX")
cp_started=0
cleanup() {
    local rc=$?
    if [ "$cp_started" = 1 ]; then
        tests/k8s/control-plane.sh stop "$work/cp" || rc=1
    fi
    if [ "$rc" -ne 0 ]; then
        say "work directory kept: $work"
        [ -f "$work/cp/logs/kube-apiserver.log" ] \
            && tail -n 20 "$work/cp/logs/kube-apiserver.log" >&2
    else
        rm -rf "$work"
    fi
    say "$passed checks passed$([ "$rc" -eq 0 ] || echo ', FAILED')"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- fixtures and control plane ---------------------------------------------

# build-fixtures.sh builds (once, cached) etcd, kube-apiserver and kubectl and
# prints the bin directory on its last line.
if [ -z "${K8S_BIN_DIR:-}" ]; then
    [ -x tests/k8s/build-fixtures.sh ] || fail "tests/k8s/build-fixtures.sh missing"
    K8S_BIN_DIR=$(tests/k8s/build-fixtures.sh | tail -n1) || fail "build-fixtures.sh failed"
fi
export K8S_BIN_DIR
if [ -x "$K8S_BIN_DIR/kubectl" ]; then
    kubectl=$K8S_BIN_DIR/kubectl
elif command -v kubectl >/dev/null 2>&1; then
    kubectl=$(command -v kubectl)
    say "no kubectl in $K8S_BIN_DIR, using $kubectl"
else
    fail "no kubectl in $K8S_BIN_DIR nor on PATH"
fi
pass "fixtures in $K8S_BIN_DIR"

cp_started=1
tests/k8s/control-plane.sh start "$work/cp" || fail "control-plane.sh start"
# shellcheck disable=SC1091
. "$work/cp/env"
export KUBECONFIG
k() { "$kubectl" "$@"; }
pass "control plane at $APISERVER_URL"

# --- the Network CRD ----------------------------------------------------------

k apply -f tests/k8s/crd-network.yaml >/dev/null || fail "apply tests/k8s/crd-network.yaml"
k wait --for condition=Established --timeout=60s crd/networks.operator.openshift.io >/dev/null \
    || fail "Network CRD not established"
# The CRD leaves exportNetworkFlows to the webhook: both shapes, and even
# invalid values, must be stored as sent.
k create -f - >/dev/null <<'EOF' || fail "create Network cluster"
apiVersion: operator.openshift.io/v1
kind: Network
metadata:
  name: cluster
spec:
  clusterNetwork:
    - cidr: 10.128.0.0/14
      hostPrefix: 23
  serviceNetwork: ["172.30.0.0/16"]
  defaultNetwork:
    type: OVNKubernetes
  exportNetworkFlows:
    netFlow: ["172.30.158.150:2056"]
    ipfix:
      collectors: ["[fd00::5]:4739", "010.1.2.3:99999"]
EOF
got=$(k get network.operator.openshift.io cluster \
    -o jsonpath='{.spec.exportNetworkFlows.netFlow[0]} {.spec.exportNetworkFlows.ipfix.collectors[1]} {.spec.defaultNetwork.type}')
[ "$got" = "172.30.158.150:2056 010.1.2.3:99999 OVNKubernetes" ] \
    || fail "Network stored as '$got'"
k get --raw /apis/operator.openshift.io/v1/networks/cluster/status >/dev/null \
    || fail "Network has no status subresource"
pass "Network CRD: cluster-scoped, keeps exportNetworkFlows as sent, status subresource"

# --- stand-in CRDs for the overlays' foreign kinds ---------------------------

k apply -f - >/dev/null <<'EOF' || fail "apply stand-in CRDs"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: issuers.cert-manager.io
spec:
  group: cert-manager.io
  scope: Namespaced
  names: {kind: Issuer, listKind: IssuerList, plural: issuers, singular: issuer}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                selfSigned:
                  type: object
                  properties:
                    crlDistributionPoints: {type: array, items: {type: string}}
                ca:
                  type: object
                  required: [secretName]
                  properties:
                    secretName: {type: string}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: certificates.cert-manager.io
spec:
  group: cert-manager.io
  scope: Namespaced
  names: {kind: Certificate, listKind: CertificateList, plural: certificates, singular: certificate}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [issuerRef, secretName]
              properties:
                secretName: {type: string}
                commonName: {type: string}
                dnsNames: {type: array, items: {type: string}}
                duration: {type: string}
                renewBefore: {type: string}
                isCA: {type: boolean}
                usages:
                  type: array
                  items:
                    type: string
                    enum: ["signing", "digital signature", "content commitment",
                           "key encipherment", "key agreement", "data encipherment",
                           "cert sign", "crl sign", "encipher only", "decipher only",
                           "any", "server auth", "client auth", "code signing",
                           "email protection", "s/mime", "ipsec end system",
                           "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
                           "microsoft sgc", "netscape sgc"]
                privateKey:
                  type: object
                  properties:
                    algorithm: {type: string, enum: [RSA, ECDSA, Ed25519]}
                    size: {type: integer}
                    encoding: {type: string, enum: [PKCS1, PKCS8]}
                    rotationPolicy: {type: string, enum: [Never, Always]}
                issuerRef:
                  type: object
                  required: [name]
                  properties:
                    group: {type: string}
                    kind: {type: string}
                    name: {type: string}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: securitycontextconstraints.security.openshift.io
spec:
  group: security.openshift.io
  scope: Cluster
  names:
    kind: SecurityContextConstraints
    listKind: SecurityContextConstraintsList
    plural: securitycontextconstraints
    singular: securitycontextconstraints
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            allowHostDirVolumePlugin: {type: boolean}
            allowHostIPC: {type: boolean}
            allowHostNetwork: {type: boolean}
            allowHostPID: {type: boolean}
            allowHostPorts: {type: boolean}
            allowPrivilegeEscalation: {type: boolean, nullable: true}
            allowPrivilegedContainer: {type: boolean}
            allowedCapabilities: {type: array, nullable: true, items: {type: string}}
            defaultAddCapabilities: {type: array, nullable: true, items: {type: string}}
            requiredDropCapabilities: {type: array, nullable: true, items: {type: string}}
            readOnlyRootFilesystem: {type: boolean}
            priority: {type: integer, nullable: true}
            runAsUser:
              type: object
              properties:
                type: {type: string, enum: [MustRunAs, MustRunAsRange, MustRunAsNonRoot, RunAsAny]}
                uid: {type: integer}
            seLinuxContext:
              type: object
              properties:
                type: {type: string, enum: [MustRunAs, RunAsAny]}
            fsGroup:
              type: object
              properties:
                type: {type: string, enum: [MustRunAs, RunAsAny]}
            supplementalGroups:
              type: object
              properties:
                type: {type: string, enum: [MustRunAs, RunAsAny]}
            seccompProfiles: {type: array, items: {type: string}}
            users: {type: array, nullable: true, items: {type: string}}
            groups: {type: array, nullable: true, items: {type: string}}
            volumes: {type: array, nullable: true, items: {type: string}}
EOF
for crd in issuers.cert-manager.io certificates.cert-manager.io \
           securitycontextconstraints.security.openshift.io; do
    k wait --for condition=Established --timeout=60s "crd/$crd" >/dev/null \
        || fail "stand-in CRD $crd not established"
done
pass "stand-in CRDs for cert-manager Issuer/Certificate and OpenShift SCC"

# --- a working copy: dev certificates and a test overlay ----------------------

# Rendered from a copy so that the dev overlay's certificates and the test
# overlay never land in the repository.
cp -r manifests "$work/manifests"
certs=$work/manifests/overlays/dev/certs
bin_dir=${EXPORTFLOWS_BIN_DIR:-bin}
if [ -x "$bin_dir/exportflows" ]; then
    "$bin_dir/exportflows" certs --out "$certs" >/dev/null || fail "exportflows certs"
else
    say "no $bin_dir/exportflows, making the dev certificates with openssl"
    mkdir -p "$certs"
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 2 \
        -subj /CN=exportflows-ca -keyout "$work/ca.key" -out "$certs/ca.crt" 2>/dev/null \
        || fail "openssl CA"
    openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 2 \
        -subj /CN=exportflows-webhook.exportflows.svc -CA "$certs/ca.crt" -CAkey "$work/ca.key" \
        -addext subjectAltName=DNS:exportflows-webhook.exportflows.svc \
        -keyout "$certs/tls.key" -out "$certs/tls.crt" 2>/dev/null || fail "openssl serving cert"
fi

# --- render -------------------------------------------------------------------

variants="base overlays/openshift overlays/cert-manager overlays/dev"
for v in $variants; do
    out=$work/rendered-${v//\//-}.yaml
    k kustomize "$work/manifests/$v" >"$out" || fail "kubectl kustomize manifests/$v"
    [ -s "$out" ] || fail "kubectl kustomize manifests/$v rendered nothing"
done
pass "kubectl kustomize renders: $variants"

# The Namespace for real, from the base's own rendering (a dry run of
# namespaced objects needs it to exist).
k apply --dry-run=client -f "$work/rendered-base.yaml" -o name >"$work/base-objects" \
    || fail "client dry run of the base"
grep -qx 'namespace/exportflows' "$work/base-objects" || fail "base has no Namespace exportflows"
grep -qx 'namespace/exportflows-nodes' "$work/base-objects" || fail "base has no Namespace exportflows-nodes"
k apply -f manifests/base/namespace.yaml >/dev/null || fail "create namespaces exportflows, exportflows-nodes"
# The webhook's Role on ovs-flows-config lives in the network operator's
# namespace, which OpenShift has and a bare control plane lacks.
k create namespace openshift-network-operator >/dev/null || fail "create namespace openshift-network-operator"
pass "namespaces exportflows, exportflows-nodes and openshift-network-operator created"

# --- server dry run and the required settings -----------------------------------

# One jsonpath over the server's answer prints "key=value" lines for every
# setting checked below; filters pick objects by kind.
q_vwc='{range .items[?(@.kind=="ValidatingWebhookConfiguration")]}'
q_vwc+='vwc.failurePolicy={.webhooks[0].failurePolicy}{"\n"}'
q_vwc+='vwc.sideEffects={.webhooks[0].sideEffects}{"\n"}'
q_vwc+='vwc.timeoutSeconds={.webhooks[0].timeoutSeconds}{"\n"}'
q_vwc+='vwc.matchPolicy={.webhooks[0].matchPolicy}{"\n"}'
q_vwc+='vwc.admissionReviewVersions={.webhooks[0].admissionReviewVersions[*]}{"\n"}'
q_vwc+='vwc.operations={.webhooks[0].rules[0].operations[*]}{"\n"}'
q_vwc+='vwc.resource={.webhooks[0].rules[0].apiGroups[0]}/{.webhooks[0].rules[0].apiVersions[0]}/{.webhooks[0].rules[0].resources[*]}{"\n"}'
q_vwc+='vwc.service={.webhooks[0].clientConfig.service.namespace}/{.webhooks[0].clientConfig.service.name}:{.webhooks[0].clientConfig.service.port}{.webhooks[0].clientConfig.service.path}{"\n"}'
q_vwc+='vwc.caBundle={.webhooks[0].clientConfig.caBundle}{"\n"}'
q_vwc+='vwc.matchConditions={.webhooks[0].matchConditions[*].name}{"\n"}'
q_vwc+='vwc.injectCabundle={.metadata.annotations.service\.beta\.openshift\.io/inject-cabundle}{"\n"}'
q_vwc+='vwc.injectCaFrom={.metadata.annotations.cert-manager\.io/inject-ca-from}{"\n"}'
# The second entry: ovs-flows-config, selected by namespace and name.
q_vwc+='vwc2.name={.webhooks[1].name}{"\n"}'
q_vwc+='vwc2.failurePolicy={.webhooks[1].failurePolicy}{"\n"}'
q_vwc+='vwc2.resource={.webhooks[1].rules[0].apiGroups[0]}/{.webhooks[1].rules[0].apiVersions[0]}/{.webhooks[1].rules[0].resources[*]}:{.webhooks[1].rules[0].operations[*]}{"\n"}'
q_vwc+='vwc2.namespaceSelector={.webhooks[1].namespaceSelector.matchLabels.kubernetes\.io/metadata\.name}{"\n"}'
q_vwc+='vwc2.matchCondition={.webhooks[1].matchConditions[0].expression}{"\n"}'
q_vwc+='vwc2.service={.webhooks[1].clientConfig.service.namespace}/{.webhooks[1].clientConfig.service.name}:{.webhooks[1].clientConfig.service.port}{.webhooks[1].clientConfig.service.path}{"\n"}'
q_vwc+='vwc2.caBundle={.webhooks[1].clientConfig.caBundle}{"\n"}{end}'
q_dep='{range .items[?(@.kind=="Deployment")]}'
q_dep+='dep.replicas={.spec.replicas}{"\n"}'
q_dep+='dep.antiAffinity={.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey}{"\n"}'
q_dep+='dep.runAsNonRoot={.spec.template.spec.securityContext.runAsNonRoot}/{.spec.template.spec.containers[0].securityContext.runAsNonRoot}{"\n"}'
q_dep+='dep.runAsUser={.spec.template.spec.securityContext.runAsUser}{"\n"}'
q_dep+='dep.readOnlyRootFilesystem={.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem}{"\n"}'
q_dep+='dep.allowPrivilegeEscalation={.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation}{"\n"}'
q_dep+='dep.capDrop={.spec.template.spec.containers[0].securityContext.capabilities.drop[*]}{"\n"}'
q_dep+='dep.capAdd={.spec.template.spec.containers[0].securityContext.capabilities.add[*]}{"\n"}'
q_dep+='dep.requests={.spec.template.spec.containers[0].resources.requests.cpu}/{.spec.template.spec.containers[0].resources.requests.memory}{"\n"}'
q_dep+='dep.limits={.spec.template.spec.containers[0].resources.limits.cpu}/{.spec.template.spec.containers[0].resources.limits.memory}{"\n"}'
q_dep+='dep.readiness={.spec.template.spec.containers[0].readinessProbe.httpGet.path}{"\n"}'
q_dep+='dep.liveness={.spec.template.spec.containers[0].livenessProbe.httpGet.path}{"\n"}'
q_dep+='dep.tlsSecret={.spec.template.spec.volumes[0].secret.secretName}{"\n"}'
q_dep+='dep.command={.spec.template.spec.containers[0].command[0]}{"\n"}{end}'
q_ds='{range .items[?(@.kind=="DaemonSet")]}'
# The appliers' own namespace, the ConfigMap's (EXPORTFLOWS_NAMESPACE) and
# their own again for the Leases (EXPORTFLOWS_NODE_NAMESPACE, from the pod).
q_ds+='ds.namespaces={.metadata.namespace}/{.spec.template.spec.containers[0].env[?(@.name=="EXPORTFLOWS_NAMESPACE")].value}/{.spec.template.spec.containers[0].env[?(@.name=="EXPORTFLOWS_NODE_NAMESPACE")].valueFrom.fieldRef.fieldPath}{"\n"}'
q_ds+='ds.hostNetwork={.spec.template.spec.hostNetwork}{"\n"}'
q_ds+='ds.tolerations={range .spec.template.spec.tolerations[*]}[{.key}|{.operator}|{.effect}]{end}{"\n"}'
q_ds+='ds.nodeName={.spec.template.spec.containers[0].env[?(@.name=="EXPORTFLOWS_NODE_NAME")].valueFrom.fieldRef.fieldPath}{"\n"}'
q_ds+='ds.nodeIP={.spec.template.spec.containers[0].env[?(@.name=="EXPORTFLOWS_NODE_IP")].valueFrom.fieldRef.fieldPath}{"\n"}'
q_ds+='ds.hostPath={.spec.template.spec.volumes[?(@.name=="ovs-run")].hostPath.path}{"\n"}'
q_ds+='ds.hostPathType={.spec.template.spec.volumes[?(@.name=="ovs-run")].hostPath.type}{"\n"}'
q_ds+='ds.mountPath={.spec.template.spec.containers[0].volumeMounts[?(@.name=="ovs-run")].mountPath}{"\n"}'
q_ds+='ds.ovsdbArg={.spec.template.spec.containers[0].args[0]}{"\n"}'
q_ds+='ds.readOnlyRootFilesystem={.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem}{"\n"}'
q_ds+='ds.allowPrivilegeEscalation={.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation}{"\n"}'
q_ds+='ds.capDrop={.spec.template.spec.containers[0].securityContext.capabilities.drop[*]}{"\n"}'
q_ds+='ds.capAdd={.spec.template.spec.containers[0].securityContext.capabilities.add[*]}{"\n"}'
q_ds+='ds.seLinuxType={.spec.template.spec.securityContext.seLinuxOptions.type}{"\n"}'
q_ds+='ds.metricsPort={.spec.template.spec.containers[0].ports[?(@.name=="https-metrics")].containerPort}/{.spec.template.spec.containers[0].ports[?(@.name=="https-metrics")].hostPort}{"\n"}'
q_ds+='ds.probes={.spec.template.spec.containers[0].livenessProbe.httpGet.host}:{.spec.template.spec.containers[0].livenessProbe.httpGet.port}/{.spec.template.spec.containers[0].readinessProbe.httpGet.host}:{.spec.template.spec.containers[0].readinessProbe.httpGet.port}{"\n"}'
q_ds+='ds.listen={range .spec.template.spec.containers[0].args[*]}{@} {end}{"\n"}'
q_ds+='ds.uninstall={.metadata.name}/{.spec.template.spec.containers[0].env[?(@.name=="EXPORTFLOWS_DAEMONSET")].value}/{.spec.template.spec.containers[0].env[?(@.name=="EXPORTFLOWS_CLEAR_TIMEOUT")].value}/{.spec.template.spec.terminationGracePeriodSeconds}{"\n"}'
q_ds+='ds.command={.spec.template.spec.containers[0].command[0]}{"\n"}{end}'
q_misc='{range .items[?(@.kind=="PodDisruptionBudget")]}pdb.maxUnavailable={.spec.maxUnavailable}{"\n"}{end}'
q_misc+='{range .items[?(@.kind=="Service")]}svc.https={.spec.ports[?(@.name=="https")].port}->{.spec.ports[?(@.name=="https")].targetPort}{"\n"}'
q_misc+='svc.servingCertSecret={.metadata.annotations.service\.beta\.openshift\.io/serving-cert-secret-name}{"\n"}{end}'
q_misc+='{range .items[?(@.kind=="Certificate")]}cert.secretName={.spec.secretName}{"\n"}cert.dnsNames={.spec.dnsNames[*]}{"\n"}'
q_misc+='cert.{.metadata.name}={.spec.secretName} isCA={.spec.isCA} issuer={.spec.issuerRef.kind}/{.spec.issuerRef.name}{"\n"}{end}'
q_misc+='{range .items[?(@.kind=="Issuer")]}issuer.{.metadata.name}=selfSigned:{.spec.selfSigned} ca:{.spec.ca.secretName}{"\n"}{end}'
q_misc+='{range .items[?(@.kind=="SecurityContextConstraints")]}scc.name={.metadata.name}{"\n"}{end}'
q_misc+='{range .items[?(@.kind=="Secret")]}secret={.metadata.namespace}/{.metadata.name}:{.type}{"\n"}{end}'
q_misc+='{range .items[?(@.kind=="ValidatingAdmissionPolicy")]}vap={.metadata.name}{"\n"}'
q_misc+='vap.matchCondition={.spec.matchConditions[0].expression}{"\n"}{end}'
q_misc+='{range .items[?(@.kind=="Namespace")]}ns.{.metadata.name}={.metadata.labels.pod-security\.kubernetes\.io/enforce}{"\n"}{end}'
q_misc+='{range .items[?(@.kind=="Service")]}svc.namespace.{.metadata.name}={.metadata.namespace}{"\n"}{end}'
q_misc+='{range .items[?(@.kind=="RoleBinding")]}rb.{.metadata.namespace}/{.metadata.name}={range .subjects[*]}{.namespace}/{.name} {end}{"\n"}{end}'
q_misc+='{range .items[*]}object={.kind}/{.metadata.name}{"\n"}{end}'
query="$q_vwc$q_dep$q_ds$q_misc"

# has FILE LINE: FILE holds exactly the line LINE.
has() { grep -qxF -- "$2" "$1"; }
# expect_lines VARIANT FILE LINE...: every LINE is in FILE.
expect_lines() {
    local v=$1 f=$2 line
    shift 2
    for line in "$@"; do
        has "$f" "$line" || fail "$v: want '$line'; the server's objects give: $(grep -F -- "${line%%=*}=" "$f" | tr '\n' ' ')"
    done
}

# Settings every variant keeps from the base.
common_lines=(
    "vwc.failurePolicy=Fail"
    "vwc.sideEffects=None"
    "vwc.timeoutSeconds=5"
    "vwc.matchPolicy=Equivalent"
    "vwc.admissionReviewVersions=v1"
    "vwc.operations=CREATE UPDATE"
    "vwc.resource=operator.openshift.io/v1/networks"
    "vwc.service=exportflows/exportflows-webhook:443/validate"
    "vwc.matchConditions=flow-export-may-change"
    "dep.replicas=2"
    "dep.antiAffinity=kubernetes.io/hostname"
    "dep.readOnlyRootFilesystem=true"
    "dep.allowPrivilegeEscalation=false"
    "dep.capDrop=ALL"
    "dep.capAdd="
    "dep.requests=10m/32Mi"
    "dep.limits=500m/128Mi"
    "dep.readiness=/readyz"
    "dep.liveness=/healthz"
    "dep.tlsSecret=exportflows-webhook-tls"
    "dep.command=/usr/bin/exportflows-webhook"
    "ds.hostNetwork=true"
    # The applier asks about its own DaemonSet when it stops, and clears within
    # 6 s, under the 10 s grace period.
    "ds.uninstall=exportflows-applier/exportflows-applier/6/10"
    "ds.tolerations=[|Exists|]"
    "ds.nodeName=spec.nodeName"
    "ds.nodeIP=status.hostIP"
    "ds.hostPath=/var/run/openvswitch"
    "ds.hostPathType=Directory"
    "ds.mountPath=/var/run/openvswitch"
    "ds.ovsdbArg=--ovsdb=unix:/var/run/openvswitch/db.sock"
    "ds.readOnlyRootFilesystem=true"
    "ds.allowPrivilegeEscalation=false"
    "ds.capDrop=ALL"
    "ds.metricsPort=9482/9482"
    "ds.probes=127.0.0.1:health/127.0.0.1:health"
    "ds.command=/usr/bin/exportflows-applier"
    # The appliers in their own namespace, reading the ConfigMap in exportflows.
    "ds.namespaces=exportflows-nodes/exportflows/metadata.namespace"
    "svc.namespace.exportflows-applier-metrics=exportflows-nodes"
    "svc.namespace.exportflows-webhook=exportflows"
    "ns.exportflows=restricted"
    "ns.exportflows-nodes=privileged"
    "rb.exportflows/exportflows-applier=exportflows-nodes/exportflows-applier "
    "rb.exportflows-nodes/exportflows-applier=exportflows-nodes/exportflows-applier "
    "rb.exportflows-nodes/exportflows-webhook-node-status=exportflows/exportflows-webhook "
    "vap.matchCondition=request.userInfo.username == 'system:serviceaccount:exportflows-nodes:exportflows-applier'"
    "pdb.maxUnavailable=1"
    "svc.https=443->https"
    "object=Namespace/exportflows"
    "object=Namespace/exportflows-nodes"
    "object=ServiceAccount/exportflows-webhook"
    "object=ServiceAccount/exportflows-applier"
    "object=ClusterRole/exportflows-webhook"
    "object=ClusterRoleBinding/exportflows-webhook"
    "object=Role/exportflows-webhook"
    "object=Role/exportflows-webhook-events"
    "object=Role/exportflows-webhook-node-status"
    "object=Role/exportflows-applier"
    "object=PodDisruptionBudget/exportflows-webhook"
    "vap=exportflows-applier-own-lease"
    "object=ValidatingAdmissionPolicyBinding/exportflows-applier-own-lease"
    "vwc2.name=ovsflowsconfig.exportflows.io"
    "vwc2.failurePolicy=Fail"
    "vwc2.resource=/v1/configmaps:CREATE UPDATE"
    "vwc2.namespaceSelector=openshift-network-operator"
    'vwc2.matchCondition=request.namespace == "openshift-network-operator" && request.name == "ovs-flows-config"'
    "vwc2.service=exportflows/exportflows-webhook:443/validate"
    "object=Role/exportflows-webhook-ovs-flows-config"
    "object=RoleBinding/exportflows-webhook-ovs-flows-config"
)

for v in $variants; do
    name=${v//\//-}
    out=$work/server-$name.txt
    k apply --dry-run=server -f "$work/rendered-$name.yaml" -o jsonpath="$query" \
        >"$out" 2>"$work/server-$name.err" \
        || fail "kubectl apply --dry-run=server of manifests/$v: $(cat "$work/server-$name.err")"
    # The server answers with one object per input document.
    want=$(grep -c '^kind: ' "$work/rendered-$name.yaml" || true)
    got=$(grep -c '^object=' "$out" || true)
    [ "$want" = "$got" ] || fail "$v: rendered $want objects, server dry run returned $got"
    expect_lines "$v" "$out" "${common_lines[@]}"
    # Pod Security: the webhook passes "restricted" in exportflows, the
    # appliers run in the privileged exportflows-nodes.
    if grep -i 'PodSecurity' "$work/server-$name.err"; then
        fail "$v: Pod Security warnings: $(grep -i PodSecurity "$work/server-$name.err")"
    fi
    pass "manifests/$v: $got objects pass the server dry run with the required settings"
done

# Variant by variant: what each adds, and what the base leaves alone.
base=$work/server-base.txt
expect_lines base "$base" "dep.runAsUser=65532" "dep.runAsNonRoot=true/true" \
    "ds.capAdd=" "ds.seLinuxType=" "vwc.caBundle=" "vwc.injectCabundle=" "vwc.injectCaFrom=" "svc.servingCertSecret="
grep -q -- '^ds.listen=.*--health-listen=127.0.0.1:9483 --metrics-listen=0.0.0.0:9482 ' "$base" \
    || fail "base: the applier's health is not on loopback or its metrics not on 9482: $(grep '^ds.listen=' "$base")"
pass "base: webhook runs as 65532, applier adds no capability, caBundle left to the admin, applier health on loopback"

os=$work/server-overlays-openshift.txt
expect_lines openshift "$os" \
    "svc.servingCertSecret=exportflows-webhook-tls" "vwc.injectCabundle=true" \
    "vwc.injectCaFrom=" "vwc.caBundle=" \
    "dep.runAsUser=" "dep.runAsNonRoot=true/true" \
    "ds.capAdd=DAC_OVERRIDE" "ds.seLinuxType=spc_t" \
    "scc.name=exportflows-applier" "object=ClusterRole/exportflows-applier-scc" \
    "object=RoleBinding/exportflows-applier-scc" \
    "svc.servingCertSecret=exportflows-applier-metrics-tls"
grep -q -- '^ds.listen=.* --metrics-tls-cert-file=/etc/exportflows/metrics-tls/tls.crt --metrics-tls-private-key-file=/etc/exportflows/metrics-tls/tls.key ' "$os" \
    || fail "openshift: the applier does not use the service CA's metrics certificate: $(grep '^ds.listen=' "$os")"
pass "overlays/openshift: service CA annotations (webhook, applier metrics), restricted-v2 picks the uid, applier SCC"

cm=$work/server-overlays-cert-manager.txt
expect_lines cert-manager "$cm" \
    "vwc.injectCaFrom=exportflows/exportflows-ca" "vwc.injectCabundle=" \
    "svc.servingCertSecret=" \
    "cert.secretName=exportflows-webhook-tls" \
    "cert.dnsNames=exportflows-webhook.exportflows.svc exportflows-webhook.exportflows.svc.cluster.local" \
    "issuer.exportflows-selfsigned=selfSigned:{} ca:" \
    "cert.exportflows-ca=exportflows-ca isCA=true issuer=Issuer/exportflows-selfsigned" \
    "issuer.exportflows-ca=selfSigned: ca:exportflows-ca" \
    "cert.exportflows-webhook=exportflows-webhook-tls isCA= issuer=Issuer/exportflows-ca" \
    "object=Issuer/exportflows-selfsigned" "object=Certificate/exportflows-ca" \
    "object=Issuer/exportflows-ca" "object=Certificate/exportflows-webhook"
pass "overlays/cert-manager: selfSigned Issuer -> CA Certificate -> CA Issuer -> serving Certificate, CA injected from exportflows-ca"

dev=$work/server-overlays-dev.txt
expect_lines dev "$dev" "secret=exportflows/exportflows-webhook-tls:kubernetes.io/tls"
bundle=$(sed -n 's/^vwc\.caBundle=//p' "$dev")
[ -n "$bundle" ] || fail "dev: no caBundle"
printf '%s' "$bundle" | base64 -d >"$work/cabundle.pem" || fail "dev: caBundle is not base64"
cmp -s "$work/cabundle.pem" "$certs/ca.crt" || fail "dev: caBundle is not certs/ca.crt"
[ "$(sed -n 's/^vwc2\.caBundle=//p' "$dev")" = "$bundle" ] \
    || fail "dev: the ovs-flows-config entry has not the same caBundle"
openssl verify -CAfile "$work/cabundle.pem" "$certs/tls.crt" >/dev/null \
    || fail "dev: the serving certificate does not verify against the caBundle"
pass "overlays/dev: Secret from certs/, caBundle = ca.crt and verifies tls.crt"


# --- the image has what the manifests run --------------------------------------

sed -n 's/^\(dep\|ds\)\.command=//p' "$base" | sort -u >"$work/programs"
[ "$(wc -l <"$work/programs")" = 2 ] || fail "expected two programs run by the base"
while read -r prog; do
    grep -Eq "^programs=\".*\b${prog##*/}\b" .ci/build-image \
        || fail "the image (.ci/build-image) does not install $prog"
    [ -d "cmd/${prog##*/}" ] || fail "manifests run $prog, which is not a program in cmd/"
done <"$work/programs"
grep -q '^USER 65532' Containerfile || fail "Containerfile: runtime user is not 65532"
pass "the image installs every program the manifests run, as user 65532"

# --- for real: RBAC as the service accounts ---------------------------------------

k apply -f "$work/rendered-base.yaml" >/dev/null \
    || fail "kubectl apply of the base"
pass "base applied for real"

W=system:serviceaccount:exportflows:exportflows-webhook
A=system:serviceaccount:exportflows-nodes:exportflows-applier
NODES=exportflows-nodes
# can AS ANSWER VERB RESOURCE [NAMESPACE]
can() {
    local as=$1 want=$2 verb=$3 res=$4 ns=${5:-} got
    if [ -n "$ns" ]; then
        got=$(k auth can-i --as="$as" -n "$ns" "$verb" "$res" 2>/dev/null || true)
    else
        got=$(k auth can-i --as="$as" "$verb" "$res" 2>/dev/null || true)
    fi
    [ "$got" = "$want" ] || fail "${as##*:} $verb $res${ns:+ -n $ns}: want '$want', got '$got'"
}
net=networks.operator.openshift.io
for verb in get list watch; do
    can "$W" yes "$verb" "$net/cluster"
    can "$W" yes "$verb" configmaps/exportflows-config exportflows
    can "$A" yes "$verb" configmaps/exportflows-config exportflows
done
for verb in create update patch; do can "$W" no "$verb" "$net/cluster"; done
can "$W" no get "$net/other"
can "$W" no list "$net"
can "$W" yes create configmaps exportflows
can "$W" yes update configmaps/exportflows-config exportflows
can "$W" yes patch configmaps/exportflows-config exportflows
can "$W" no update configmaps/other exportflows
can "$W" no delete configmaps/exportflows-config exportflows
# The node summary's own ConfigMap: written, never watched (nor by the appliers).
for verb in get update patch; do can "$W" yes "$verb" configmaps/exportflows-status exportflows; done
for verb in list watch delete; do can "$W" no "$verb" configmaps/exportflows-status exportflows; done
can "$W" no list configmaps exportflows
can "$W" yes create leases.coordination.k8s.io exportflows
can "$W" yes get leases.coordination.k8s.io/exportflows-publisher exportflows
can "$W" yes update leases.coordination.k8s.io/exportflows-publisher exportflows
can "$W" no update leases.coordination.k8s.io/exportflows-node-a exportflows
can "$W" yes create events default
can "$W" yes create events.events.k8s.io default
can "$W" yes create events exportflows
# The node status Leases are watched where the appliers write them.
for verb in list watch; do can "$W" yes "$verb" leases.coordination.k8s.io "$NODES"; done
for verb in list watch; do can "$W" no "$verb" leases.coordination.k8s.io exportflows; done
for verb in create update delete; do
    can "$W" no "$verb" leases.coordination.k8s.io/exportflows-node-a "$NODES"
done
can "$W" no list leases.coordination.k8s.io default
can "$W" no delete leases.coordination.k8s.io/exportflows-node-a exportflows
can "$W" no get secrets exportflows
can "$W" no get configmaps/exportflows-config default
for verb in get list watch; do
    can "$W" yes "$verb" configmaps/ovs-flows-config openshift-network-operator
done
can "$W" yes create events openshift-network-operator
can "$W" no get configmaps/other openshift-network-operator
can "$W" no list configmaps openshift-network-operator
for verb in create update patch delete; do
    can "$W" no "$verb" configmaps/ovs-flows-config openshift-network-operator
done
can "$W" no get configmaps/ovs-flows-config exportflows
pass "webhook RBAC: the Network 'cluster', its ConfigMap, the status ConfigMap and Lease, read the node Leases, Events, read ovs-flows-config; nothing else"

can "$A" no list configmaps exportflows
can "$A" no get configmaps/other exportflows
for verb in get list watch; do can "$A" no "$verb" configmaps/exportflows-status exportflows; done
for verb in create update patch delete; do can "$A" no "$verb" configmaps/exportflows-config exportflows; done
can "$A" no create configmaps exportflows
# Its node's status Lease, in its own namespace (the policy narrows the names).
can "$A" yes create leases.coordination.k8s.io "$NODES"
can "$A" yes get leases.coordination.k8s.io/exportflows-node-a "$NODES"
can "$A" yes update leases.coordination.k8s.io/exportflows-node-a "$NODES"
can "$A" yes delete leases.coordination.k8s.io/exportflows-node-a "$NODES"
for verb in list watch patch; do can "$A" no "$verb" leases.coordination.k8s.io "$NODES"; done
# No Lease right at all where the publisher's election Lease is: RBAC itself
# keeps a node off it, whatever the admission policy says.
for verb in get update patch delete; do
    can "$A" no "$verb" leases.coordination.k8s.io/exportflows-publisher exportflows
done
for verb in create get list watch update patch delete; do
    can "$A" no "$verb" leases.coordination.k8s.io exportflows
done
can "$A" no create leases.coordination.k8s.io default
can "$A" no get "$net/cluster"
can "$A" no get nodes
can "$A" no get secrets exportflows
can "$A" no get secrets "$NODES"
can "$A" no get configmaps/exportflows-config "$NODES"
can "$A" no create events default
can "$A" yes get daemonsets.apps/exportflows-applier "$NODES"
for verb in list watch update patch delete; do can "$A" no "$verb" daemonsets.apps/exportflows-applier "$NODES"; done
can "$A" no get daemonsets.apps/other "$NODES"
can "$A" no get daemonsets.apps/exportflows-applier exportflows
can "$A" yes create tokenreviews.authentication.k8s.io
can "$A" yes create subjectaccessreviews.authorization.k8s.io
can "$A" no get /metrics
# The identity of the releases that ran the appliers in exportflows has nothing.
old_A=system:serviceaccount:exportflows:exportflows-applier
can "$old_A" no update leases.coordination.k8s.io/exportflows-publisher exportflows
can "$old_A" no get configmaps/exportflows-config exportflows
pass "applier RBAC: read exportflows-config, its own DaemonSet, write Leases in $NODES only (the policy narrows them), no Lease right in exportflows; nothing else"

# RBAC's resourceNames allow list/watch only with the matching field selector;
# the programs must use it.
k --as="$A" get configmaps -n exportflows --field-selector metadata.name=exportflows-config \
    >/dev/null 2>&1 || fail "applier cannot list configmaps with metadata.name=exportflows-config"
if k --as="$A" get configmaps -n exportflows >/dev/null 2>&1; then
    fail "applier can list all configmaps"
fi
k --as="$W" get "$net" --field-selector metadata.name=cluster -o name >"$work/w-list" 2>&1 \
    || fail "webhook cannot list networks with metadata.name=cluster: $(cat "$work/w-list")"
has "$work/w-list" "network.operator.openshift.io/cluster" || fail "webhook's list misses cluster"
pass "list with field selector metadata.name works for both, a plain list is refused"

# --- for real: the applier's Lease policy ----------------------------------------------

# lease_as NODE LEASE HOLDER [NAMESPACE]: create (or, when it exists, replace)
# LEASE in NAMESPACE (default exportflows-nodes) as the applier of NODE; prints
# the server's error.
lease_as() {
    local doc ns=${4:-$NODES}
    doc="apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: $2
  namespace: $ns
  labels:
    app.kubernetes.io/name: exportflows
    app.kubernetes.io/component: applier
spec:
  holderIdentity: $3"
    local extra=()
    [ -n "$1" ] && extra=(--as-user-extra="authentication.kubernetes.io/node-name=$1")
    # Only the error is wanted: stderr goes to the caller, stdout nowhere.
    # shellcheck disable=SC2069
    if k get lease -n "$ns" "$2" >/dev/null 2>&1; then
        printf '%s\n' "$doc" | k --as="$A" "${extra[@]}" replace -f - 2>&1 >/dev/null
    else
        printf '%s\n' "$doc" | k --as="$A" "${extra[@]}" create -f - 2>&1 >/dev/null
    fi
}
# Policies take effect asynchronously; poll until a foreign Lease is refused.
deadline=$(( $(date +%s) + 30 ))
until err=$(lease_as worker-1 exportflows-node-worker-2 worker-2); [ -n "$err" ]; do
    k delete lease -n "$NODES" exportflows-node-worker-2 >/dev/null 2>&1 || true
    [ "$(date +%s)" -lt "$deadline" ] || fail "the Lease policy is not in force after 30s"
    sleep 0.2
done
case "$err" in *"may only write the Lease exportflows-node-worker-1"*) ;;
    *) fail "foreign Lease refused with an unexpected message: $err" ;; esac
err=$(lease_as worker-1 exportflows-node-worker-1 worker-1) || true
[ -z "$err" ] || fail "applier of worker-1 cannot create its own Lease: $err"
err=$(lease_as worker-1 exportflows-node-worker-1 worker-1) || true
[ -z "$err" ] || fail "applier of worker-1 cannot update its own Lease: $err"
err=$(lease_as worker-1 exportflows-node-worker-1 worker-2) || true
case "$err" in *"holderIdentity must be the node name worker-1"*) ;;
    *) fail "wrong holder not refused: '$err'" ;; esac
# The publisher's election Lease, where it is (namespace exportflows): refused
# by RBAC itself, before any admission policy: a Lease of that name is
# created first (by the admin) so that both the replace and a create by the
# applier are tried.
err=$(lease_as worker-1 exportflows-publisher worker-1 exportflows) || true
case "$err" in *'cannot create resource "leases" in API group "coordination.k8s.io" in the namespace "exportflows"'*) ;;
    *) fail "applier creating the publisher's Lease: want RBAC's refusal, got '$err'" ;; esac
printf '%s\n' "apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: exportflows-publisher, namespace: exportflows}
spec: {holderIdentity: publisher-0}" | k apply -f - >/dev/null \
    || fail "admin cannot create the publisher's Lease"
err=$(lease_as worker-1 exportflows-publisher worker-1 exportflows) || true
case "$err" in *'cannot update resource "leases" in API group "coordination.k8s.io" in the namespace "exportflows"'*) ;;
    *) fail "applier taking the publisher's Lease: want RBAC's refusal, got '$err'" ;; esac
err=$(k --as="$A" --as-user-extra=authentication.kubernetes.io/node-name=worker-1 \
    delete lease -n exportflows exportflows-publisher 2>&1 >/dev/null) || true
case "$err" in *'cannot delete resource "leases"'*'in the namespace "exportflows"'*) ;;
    *) fail "applier deleting the publisher's Lease: want RBAC's refusal, got '$err'" ;; esac
[ "$(k get lease -n exportflows exportflows-publisher -o jsonpath='{.spec.holderIdentity}')" = publisher-0 ] \
    || fail "the publisher's Lease changed hands"
pass "RBAC refuses the applier the publisher's Lease (create, update, delete: forbidden in exportflows)"
# A Lease named like the publisher's in the appliers' namespace is refused by the policy.
err=$(lease_as worker-1 exportflows-publisher worker-1) || true
case "$err" in *"may only write the Lease exportflows-node-worker-1"*) ;;
    *) fail "applier creating exportflows-publisher in $NODES: '$err'" ;; esac
err=$(lease_as "" exportflows-node-worker-3 worker-3) || true
case "$err" in *"carry no node name"*) ;;
    *) fail "credentials without a node name not refused: '$err'" ;; esac
# Other users are not affected.
printf '%s\n' "apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: exportflows-node-worker-9, namespace: exportflows-nodes}
spec: {holderIdentity: somebody}" | k create -f - >/dev/null \
    || fail "admin cannot create a Lease with the policy in place"
got=$(k get lease -n "$NODES" exportflows-node-worker-1 -o jsonpath='{.spec.holderIdentity}')
[ "$got" = worker-1 ] || fail "Lease exportflows-node-worker-1 holder '$got'"
pass "Lease policy: an applier writes only exportflows-node-<its node>, held by its node"

# --- the per-node status command of docs/DEPLOY.md ------------------------------------

# The applier of worker-1 writes a full status record (as specified in
# docs/DEPLOY.md) through the Lease policy; the documented command must show it.
printf '%s\n' "apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: exportflows-node-worker-1
  namespace: exportflows-nodes
  labels:
    app.kubernetes.io/name: exportflows
    app.kubernetes.io/component: applier
    app.kubernetes.io/part-of: exportflows
  annotations:
    exportflows.io/state: Failed
    exportflows.io/applied-hash: sha256:4f1c
    exportflows.io/applied-generation: \"7\"
    exportflows.io/last-apply-time: 2026-01-02T03:04:05Z
    exportflows.io/last-error: \"cannot connect to 'unix:/var/run/openvswitch/db.sock': no such file\"
spec:
  holderIdentity: worker-1
  leaseDurationSeconds: 180
  renewTime: 2026-01-02T03:04:06.000000Z" \
    | k --as="$A" --as-user-extra=authentication.kubernetes.io/node-name=worker-1 replace -f - >/dev/null \
    || fail "applier of worker-1 cannot write its status record"
# The command exactly as docs/DEPLOY.md gives it (line continuation and all).
status_cmd=$(sed -n '/^    kubectl -n exportflows-nodes get leases -l app.kubernetes.io\/component=applier/,/custom-columns/p' \
    docs/DEPLOY.md | sed 's/^ *//; s/ *\\$//' | tr '\n' ' ')
case "$status_cmd" in "kubectl -n exportflows-nodes get leases"*"custom-columns="*) ;;
    *) fail "status command not found in docs/DEPLOY.md: '$status_cmd'" ;; esac
eval "${status_cmd/kubectl/k}" >"$work/status" || fail "the documented status command failed: $status_cmd"
want="worker-1 Failed 7 sha256:4f1c 2026-01-02T03:04:05Z 2026-01-02T03:04:06.000000Z cannot connect to 'unix:/var/run/openvswitch/db.sock': no such file"
got=$(grep '^worker-1 ' "$work/status" | tr -s ' ' | sed 's/ $//')
[ "$got" = "$want" ] || fail "status row: want '$want', got '$got' (all: $(cat "$work/status"))"
case "$(head -n1 "$work/status")" in
    NODE*STATE*GENERATION*HASH*APPLIED*RENEWED*ERROR) ;;
    *) fail "status header: $(head -n1 "$work/status")" ;; esac
pass "the per-node status command of docs/DEPLOY.md shows a node's record"
