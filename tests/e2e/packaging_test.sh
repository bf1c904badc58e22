#!/usr/bin/env bash
# Packaging (issue 7) against the real API server, kubectl and helm:
#
#   packaging_test.sh lint       helm lint of the chart in each certificate mode;
#                                values that would make an unsafe install refused
#   packaging_test.sh render     crds/ copies in the chart and manifests/install.yaml
#                                are what hack/render-manifests.sh writes
#   packaging_test.sh template   the rendered chart, accepted by the API server
#                                (dry run), holds the docs/design.md §8 webhook
#                                configuration, restricted pods, least-privilege
#                                RBAC, a serving certificate its caBundle verifies
#   packaging_test.sh dryrun     the CRDs and manifests/install.yaml are accepted
#                                by `kubectl apply --dry-run=server`
#   packaging_test.sh crd        malformed ExecutionPolicies and ExecutionRequests
#                                are refused by the CRD schema with a clear message;
#                                explain, short names, category, printer columns
#   packaging_test.sh plugin     `cmake --install` of the build dir EXECGOV_BUILD puts
#                                kubectl-execgov beside execgov: the real kubectl
#                                lists it and runs `kubectl execgov approve --help`
#   packaging_test.sh etcdtls    ledger.etcdTLS: every Deployment that opens the
#                                ledger mounts the Secret and names its files in
#                                --ledger; that URL opens a real etcd requiring
#                                client certificates (EXECGOV: the binary)
#   packaging_test.sh uninstall  a real `helm install`: with no webhook running,
#                                governed namespaces are refused (fail closed) and
#                                nothing else is; `helm uninstall` leaves no
#                                webhook configuration behind
#
# Cluster-wide objects carry this run's id; the chart's webhook configuration
# is narrowed (webhook.admission.extraNamespaceSelectorExpressions) to this
# run's namespaces, so parallel tests are never affected. The CRDs are applied
# and left installed, as every test using them expects.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
chart=$repo/charts/execgov
id=$$
ns=e2e-pkg-$1-$id
work=$(mktemp -d)
cleanup=("rm -rf $work")
on_exit() {
  local i
  for ((i = ${#cleanup[@]} - 1; i >= 0; i--)); do eval "${cleanup[i]}" || true; done
}
trap on_exit EXIT
cd "$work"

new_namespace() {  # new_namespace NAME [LABEL=VALUE...]
  local name=$1
  shift
  kubectl create namespace "$name" >/dev/null
  cleanup+=("kubectl delete namespace $name --wait=false --ignore-not-found >/dev/null 2>&1")
  [ $# -eq 0 ] || kubectl label namespace "$name" "$@" >/dev/null
}

# expect_refused MESSAGE-SUBSTRING FILE: the API server refuses FILE and says so.
expect_refused() {
  local want=$1 file=$2 out
  if out=$(kubectl apply --dry-run=server -f "$file" 2>&1); then
    fail "accepted, but should be refused with '$want': $(cat "$file")"
  fi
  grep -qF -- "$want" <<<"$out" || fail "refused, but without '$want': $out"
  echo "refused as expected: $(grep -F -- "$want" <<<"$out" | head -n1)"
}

# json_check FILE PYTHON: runs PYTHON with `objs` (the items of the kubectl
# List in FILE) and `fail(msg)`; a failed assertion fails the test.
json_check() {
  python3 - "$1" "$2" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
objs = doc["items"] if doc.get("kind") == "List" else [doc]
def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)
def one(kind, name=None):
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    if len(found) != 1:
        fail("expected one %s %s, found %d" % (kind, name or "", len(found)))
    return found[0]
exec(sys.argv[2])
PY
}

case_lint() {
  helm lint --strict "$chart"
  helm lint --strict "$chart" --set certificates.mode=certManager
  helm lint --strict "$chart" --set certificates.mode=helm
  helm lint --strict "$chart" --set webhook.admission.url=https://127.0.0.1:9443/validate
  helm lint --strict "$chart" --set ledger.generate=false --set ledger.existingSecret=my-ledger-key \
    --set-json 'policies=[{"name":"p","spec":{"audience":"a","issuers":[{"name":"i","subjects":["agent:*"],"keys":[{"kid":"k","algorithm":"Ed25519","publicKey":"-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n"}]}]}}]'
  # A witness, and the witnesses the operator submits to (issue 23).
  helm lint --strict "$chart" --set witness.enabled=true --set witness.name=witness.b.example \
    --set 'witness.logKeys[0]=ledger.a.example+01020304+AQ==' --set ledger.origin=ledger.b.example/execgov \
    --set 'ledger.witnesses[0].url=https://witness.a.example/' --set 'ledger.witnesses[0].key=witness.a.example+01020304+BA=='
  # The governance console (issue 22).
  helm lint --strict "$chart" --set console.enabled=true --set console.allowWrites=true --set console.tlsSecret=console-tls
  # The ledger on a dedicated etcd over mutual TLS (case_etcdtls).
  helm lint --strict "$chart" --set ledger.url=etcds://etcd.example:2379/execgov --set ledger.etcdTLS.secretName=ledger-etcd
  local bad why out
  while IFS='|' read -r bad why; do
    if out=$(helm template t "$chart" --set "$bad" 2>&1); then fail "helm template accepted --set $bad"; fi
    grep -qF "$why" <<<"$out" || fail "--set $bad refused without saying '$why': $out"
    echo "refused --set $bad: $(grep -F "$why" <<<"$out")"
  done <<'EOF'
certificates.mode=none|certificates.mode must be operator, helm or certManager, not "none"
webhook.replicas=0|webhook.replicas must be at least 1 (failurePolicy is Fail)
webhook.admission.timeoutSeconds=30|webhook.admission.timeoutSeconds must be at most 15
ledger.generate=false|ledger: set existingSecret to a Secret holding the Ed25519 ledger key, or generate: true
witness.enabled=true|witness.enabled needs witness.name
ledger.witnesses[0].url=https://w.example/|ledger.witnesses[].key
authority.enabled=true,authority.kid=k,authority.issuer=i,authority.audience=a,authority.authorize.enabled=true|authority.authorize.enabled needs authority.authorize.tlsSecret
ledger.etcdTLS.secretName=ledger-etcd|ledger.etcdTLS.secretName is for a ledger on an etcd reached over TLS: set ledger.url to etcds://HOST:PORT[/prefix], not ""
ledger.etcdTLS.secretName=ledger-etcd,ledger.url=etcd://etcd.example:2379/execgov|not "etcd://etcd.example:2379/execgov"
ledger.etcdTLS.secretName=ledger-etcd,ledger.url=etcds://etcd.example:2379/execgov?cacert=/ca.crt|leave out ?cacert=, cert= and key= when ledger.etcdTLS.secretName is set
EOF
}

case_render() {
  "$repo/hack/render-manifests.sh" --check
  # The check itself must notice a stale copy.
  cp -r "$repo/crds" "$repo/charts" "$repo/manifests" "$repo/hack" .
  mkdir -p .cache && ln -s "$repo/.cache/controlplane" .cache/controlplane
  echo "# drift" >>charts/execgov/crds/executionpolicies.execgov.io.yaml
  if hack/render-manifests.sh --check 2>err; then fail "render-manifests --check missed a changed CRD copy"; fi
  grep -q "charts/execgov/crds/executionpolicies.execgov.io.yaml" err || fail "the stale file is not named: $(cat err)"
  hack/render-manifests.sh && hack/render-manifests.sh --check || fail "rendering did not fix the copy"
  sed -i 's/timeoutSeconds: 5/timeoutSeconds: 7/' charts/execgov/values.yaml
  if hack/render-manifests.sh --check 2>err; then fail "render-manifests --check missed a chart change"; fi
  grep -q "manifests/install.yaml" err || fail "install.yaml not named stale: $(cat err)"
}

case_template() {
  new_namespace "$ns"
  helm template "e2e-$id" "$chart" --namespace "$ns" --set certificates.mode=helm >chart.yaml
  kubectl apply --dry-run=server -f chart.yaml -o json >chart.json
  json_check chart.json "
import base64
vwc = one('ValidatingWebhookConfiguration')
hooks = vwc['webhooks']
if [h['name'] for h in hooks] != ['validate.execgov.io', 'guard.execgov.io']: fail('webhooks: %s' % hooks)
# The guard on the door: Namespace UPDATEs only, of governed namespaces
# (objectSelector: old or new labelled), never the excluded ones, and Ignore
# so that a guard that is down locks nothing.
g = hooks[1]
if g['failurePolicy'] != 'Ignore' or g['sideEffects'] != 'NoneOnDryRun': fail('guard policies %s' % g)
if g['rules'] != [{'apiGroups': [''], 'apiVersions': ['v1'], 'operations': ['UPDATE'], 'resources': ['namespaces'], 'scope': 'Cluster'}]:
    fail('guard rules %s' % g['rules'])
if g['objectSelector'].get('matchLabels') != {'execgov.io/governed': 'true'}: fail('guard selector %s' % g['objectSelector'])
gex = [e for e in g['objectSelector']['matchExpressions'] if e['key'] == 'kubernetes.io/metadata.name']
if len(gex) != 1 or gex[0]['operator'] != 'NotIn' or not {'kube-system', 'execgov-system', '$ns'} <= set(gex[0]['values']):
    fail('guard exclusions %s' % gex)
h = hooks[0]
for k, v in [('failurePolicy', 'Fail'), ('sideEffects', 'NoneOnDryRun'), ('admissionReviewVersions', ['v1'])]:
    if h[k] != v: fail('%s is %s, not %s' % (k, h[k], v))
if not 1 <= h['timeoutSeconds'] <= 10: fail('timeoutSeconds %s' % h['timeoutSeconds'])
sel = h['namespaceSelector']
if sel.get('matchLabels') != {'execgov.io/governed': 'true'}: fail('matchLabels %s' % sel)
ex = [e for e in sel['matchExpressions'] if e['key'] == 'kubernetes.io/metadata.name']
if len(ex) != 1 or ex[0]['operator'] != 'NotIn' or not {'kube-system', 'execgov-system', '$ns'} <= set(ex[0]['values']):
    fail('namespace exclusions %s' % ex)
covered = {(g, r, op) for rule in h['rules'] for g in rule['apiGroups'] for r in rule['resources'] for op in rule['operations']}
for want in [('', 'pods'), ('batch', 'jobs'), ('execgov.io', 'executionrequests')]:
    for op in ['CREATE', 'UPDATE']:
        if (want[0], want[1], op) not in covered: fail('no rule for %s %s' % (want, op))
if any(op in ('DELETE', '*') for (_, _, op) in covered): fail('DELETE is never governed')
svc = h['clientConfig']['service']
if (svc['name'], svc['namespace'], svc['path'], svc['port']) != ('e2e-$id-execgov-webhook', '$ns', '/validate', 443): fail('service %s' % svc)
open('ca.crt', 'wb').write(base64.b64decode(h['clientConfig']['caBundle']))
tls = one('Secret', 'e2e-$id-execgov-webhook-tls')
open('tls.crt', 'wb').write(base64.b64decode(tls['data']['tls.crt']))

s = one('Service', 'e2e-$id-execgov-webhook')
ports = {(p['port'], p['targetPort']) for p in s['spec']['ports']}
if (443, 'https') not in ports or (8080, 'metrics') not in ports: fail('webhook service ports %s' % ports)
one('Service', 'e2e-$id-execgov-operator-metrics')
pdb = one('PodDisruptionBudget')
if pdb['spec']['minAvailable'] != 1: fail('pdb %s' % pdb['spec'])

for d in [o for o in objs if o['kind'] == 'Deployment']:
    name = d['metadata']['name']
    pod = d['spec']['template']['spec']
    psc = pod['securityContext']
    if psc.get('runAsNonRoot') is not True or psc.get('seccompProfile', {}).get('type') != 'RuntimeDefault':
        fail('%s pod securityContext %s' % (name, psc))
    for c in pod['containers']:
        sc = c['securityContext']
        if sc.get('readOnlyRootFilesystem') is not True or sc.get('allowPrivilegeEscalation') is not False \
           or sc.get('capabilities', {}).get('drop') != ['ALL']:
            fail('%s container securityContext %s' % (name, sc))
        if c['readinessProbe']['httpGet']['path'] != '/readyz' or c['livenessProbe']['httpGet']['path'] != '/healthz':
            fail('%s probes' % name)
    if 'podAntiAffinity' not in pod.get('affinity', {}): fail('%s has no anti-affinity' % name)
web = one('Deployment', 'e2e-$id-execgov-webhook')
if web['spec']['replicas'] != 2: fail('webhook replicas %s' % web['spec']['replicas'])
if web['spec']['template']['spec']['containers'][0]['args'][0] != 'webhook': fail('webhook args')
op = one('Deployment', 'e2e-$id-execgov-operator')
args = op['spec']['template']['spec']['containers'][0]['args']
if args[0] != 'operator' or '--leader-elect=true' not in args: fail('operator args %s' % args)
# The webhook configuration is guarded whoever manages its certificates: the
# operator names it and may read it, and nothing more.
if '--guard-webhook-configuration=e2e-$id-execgov' not in args: fail('helm mode: the webhook configuration is not guarded: %s' % args)
vwc_rules = [r for o in objs if o['kind'] == 'ClusterRole' for r in o['rules'] if 'validatingwebhookconfigurations' in r['resources']]
if len(vwc_rules) != 1 or vwc_rules[0].get('resourceNames') != ['e2e-$id-execgov'] or vwc_rules[0]['verbs'] != ['get']:
    fail('helm mode: webhook configuration access: %s' % vwc_rules)

# Least privilege: cluster-wide roles never touch ConfigMaps, Secrets or
# Leases, never use wildcards, and write only status, Jobs, Events, the
# requests' finalizers (for the Jobs' blockOwnerDeletion), PolicyReports, and
# for the runtime verifier's Terminate a Pod's deletion and a Job's suspension.
for r in [o for o in objs if o['kind'] == 'ClusterRole']:
    for rule in r['rules']:
        if '*' in rule['verbs'] or '*' in rule['resources'] or '*' in rule['apiGroups']: fail('wildcard in %s' % r['metadata']['name'])
        if set(rule['resources']) & {'configmaps', 'secrets', 'leases'}: fail('%s grants %s cluster-wide' % (r['metadata']['name'], rule['resources']))
        writes = set(rule['verbs']) - {'get', 'list', 'watch'}
        if writes and not set(rule['resources']) <= {'executionpolicies/status', 'executionrequests/status', 'executionrequests/finalizers', 'jobs', 'events', 'pods', 'policyreports'}:
            fail('%s writes %s' % (r['metadata']['name'], rule['resources']))
        if 'jobs' in rule['resources'] and writes - {'create', 'patch'}: fail('jobs: only create and patch, not %s' % writes)
        if 'pods' in rule['resources'] and writes - {'delete'}: fail('pods: only delete, not %s' % writes)
        if 'executionrequests/finalizers' in rule['resources'] and writes - {'update'}: fail('finalizers: only update, not %s' % writes)
for r in [o for o in objs if o['kind'] == 'Role']:
    if r['metadata']['namespace'] != '$ns': fail('Role outside the release namespace')
print('chart checks passed:', len(objs), 'objects')
"
  # certificates.mode=operator (the default): no certificate or caBundle in
  # the chart; the operator is told to manage them and may write exactly this
  # release's webhook configuration and its two Secrets.
  helm template "e2e-$id" "$chart" --namespace "$ns" >operator.yaml
  kubectl apply --dry-run=server -f operator.yaml -o json >operator.json
  json_check operator.json "
vwc = one('ValidatingWebhookConfiguration')
if 'caBundle' in vwc['webhooks'][0]['clientConfig']: fail('operator mode renders a caBundle')
if [o for o in objs if o['kind'] == 'Secret' and o['metadata']['name'].endswith('-webhook-tls')]: fail('operator mode renders the serving Secret')
args = one('Deployment', 'e2e-$id-execgov-operator')['spec']['template']['spec']['containers'][0]['args']
for want in ['--webhook-configuration=e2e-$id-execgov', '--guard-webhook-configuration=e2e-$id-execgov',
             '--webhook-service=e2e-$id-execgov-webhook',
             '--webhook-ca-secret=e2e-$id-execgov-webhook-ca', '--webhook-tls-secret=e2e-$id-execgov-webhook-tls']:
    if want not in args: fail('operator args lack ' + want)
vwc_rules = [r for o in objs if o['kind'] == 'ClusterRole' for r in o['rules'] if 'validatingwebhookconfigurations' in r['resources']]
if len(vwc_rules) != 1 or vwc_rules[0].get('resourceNames') != ['e2e-$id-execgov'] or set(vwc_rules[0]['verbs']) - {'get', 'update', 'patch'}:
    fail('webhook configuration access: %s' % vwc_rules)
role = one('Role', 'e2e-$id-execgov-operator')
named = [r for r in role['rules'] if 'secrets' in r['resources'] and set(r['verbs']) & {'update', 'patch'}]
if len(named) != 1 or sorted(named[0].get('resourceNames', [])) != ['e2e-$id-execgov-webhook-ca', 'e2e-$id-execgov-webhook-tls']:
    fail('secret writes: %s' % named)
print('operator-mode checks passed')
"
  # A witness (witness.enabled) and the witnesses the operator submits to
  # (ledger.witnesses), with a chosen origin (ledger.origin).
  helm template "e2e-$id" "$chart" --namespace "$ns" --set witness.enabled=true --set witness.name=witness.b.example \
    --set 'witness.logKeys[0]=ledger.a.example+01020304+AQ==' --set ledger.origin=ledger.b.example/execgov \
    --set 'ledger.witnesses[0].url=https://witness.a.example/' \
    --set 'ledger.witnesses[0].key=witness.a.example+01020304+BA==' >witness.yaml
  kubectl apply --dry-run=server -f witness.yaml -o json >witness.json
  json_check witness.json "
w = one('Deployment', 'e2e-$id-execgov-witness')
spec = w['spec']['template']['spec']
c = spec['containers'][0]
for want in ['witness', '--name=witness.b.example', '--key=/etc/execgov/witness/witness.key',
             '--state=/var/lib/execgov-witness/state.json', '--log-key=ledger.a.example+01020304+AQ==']:
    if want not in c['args']: fail('witness args lack ' + want + ': %s' % c['args'])
if w['spec']['replicas'] != 1 or w['spec']['strategy']['type'] != 'Recreate': fail('one witness holds its state')
if spec.get('automountServiceAccountToken') is not False: fail('the witness needs no API token')
if not c['securityContext'].get('readOnlyRootFilesystem'): fail('witness root filesystem is writable')
claim = [v for v in spec['volumes'] if v['name'] == 'state'][0]['persistentVolumeClaim']['claimName']
pvc = one('PersistentVolumeClaim', claim)
if pvc['metadata']['annotations'].get('helm.sh/resource-policy') != 'keep': fail('the witness state is deleted with the release')
one('Service', 'e2e-$id-execgov-witness')
op = one('Deployment', 'e2e-$id-execgov-operator')['spec']['template']['spec']['containers'][0]['args']
for want in ['--witness=https://witness.a.example/', '--witness-key=witness.a.example+01020304+BA==',
             '--ledger-origin=ledger.b.example/execgov']:
    if want not in op: fail('operator args lack ' + want)
if '--ledger-origin=ledger.b.example/execgov' not in one('Deployment', 'e2e-$id-execgov-webhook')['spec']['template']['spec']['containers'][0]['args']:
    fail('webhook args lack the origin')
print('witness checks passed')
"
  if grep -q 'execgov-witness' operator.yaml; then fail "a witness is rendered by default"; fi

  # The governance console (console.enabled, issue 22): --kube-auth in the
  # release namespace, its account only reviews tokens and reads the ledger,
  # users get the reader Role, read-only unless allowWrites.
  helm template "e2e-$id" "$chart" --namespace "$ns" --set console.enabled=true >console.yaml
  kubectl apply --dry-run=server -f console.yaml -o json >console.json
  json_check console.json "
d = one('Deployment', 'e2e-$id-execgov-console')
spec = d['spec']['template']['spec']
c = spec['containers'][0]
if spec['serviceAccountName'] != 'e2e-$id-execgov-console': fail('the console runs as %s' % spec['serviceAccountName'])
for want in ['console', '--kube-auth', '--namespace=$ns', '--ledger=configmap://$ns']:
    if want not in c['args']: fail('console args lack ' + want + ': %s' % c['args'])
if '--allow-writes' in c['args'] or any(a.startswith('--token-file') for a in c['args']): fail('console args: %s' % c['args'])
if not c['securityContext'].get('readOnlyRootFilesystem'): fail('console root filesystem is writable')
if c['readinessProbe']['httpGet']['scheme'] != 'HTTPS': fail('the console probe is not HTTPS')
crb = one('ClusterRoleBinding', 'e2e-$id-execgov-console-auth-delegator')
if crb['roleRef']['name'] != 'system:auth-delegator': fail('the console account is bound to %s' % crb['roleRef'])
role = one('Role', 'e2e-$id-execgov-console')
if role['rules'] != [{'apiGroups': [''], 'resources': ['configmaps'], 'verbs': ['get', 'list', 'watch']}]:
    fail('the console account may do more than read the ledger: %s' % role['rules'])
reader = one('Role', 'e2e-$id-execgov-console-reader')
if reader['rules'] != [{'apiGroups': ['execgov.io'], 'resources': ['ledgers'], 'verbs': ['get']}]:
    fail('the reader role: %s' % reader['rules'])
viewer = one('ClusterRole', 'e2e-$id-execgov-console-viewer')
if viewer['rules'] != [{'apiGroups': ['execgov.io'], 'resources': ['executionpolicies', 'authoritypolicies', 'executionrequests'], 'verbs': ['get', 'list']},
                       {'apiGroups': ['wgpolicyk8s.io'], 'resources': ['policyreports'], 'verbs': ['get', 'list']}]:
    fail('the viewer role: %s' % viewer['rules'])
for b in objs:
    if b['kind'] in ('RoleBinding', 'ClusterRoleBinding') and b['roleRef']['name'].endswith('-console-viewer'):
        fail('the chart binds the viewer role itself: %s' % b['metadata']['name'])
svc = one('Service', 'e2e-$id-execgov-console')
if svc['spec']['ports'][0]['targetPort'] != 'https': fail('the console Service: %s' % svc['spec']['ports'])
print('console checks passed')
"
  helm template "e2e-$id" "$chart" --namespace "$ns" --set console.enabled=true --set console.allowWrites=true |
    grep -q -- '- --allow-writes' || fail "console.allowWrites does not enable writes"
  if grep -q 'execgov-console' operator.yaml; then fail "a console is rendered by default"; fi

  # The authority's HTTPS endpoint (authority.authorize, issue 20): off by
  # default; when on, the listen port, its serving Secret, a Service, and in
  # its ClusterRole TokenReviews and ExecutionRequest creation, nothing more.
  local authority_values=(--set authority.enabled=true --set authority.kid=k1 --set authority.issuer=iss
    --set authority.audience=aud)
  helm template "e2e-$id" "$chart" --namespace "$ns" "${authority_values[@]}" >authority.yaml
  if grep -q -e '--authorize-listen' -e tokenreviews authority.yaml; then fail "the authority's HTTPS endpoint is on by default"; fi
  helm template "e2e-$id" "$chart" --namespace "$ns" "${authority_values[@]}" --set authority.authorize.enabled=true \
    --set authority.authorize.tlsSecret=authority-tls --set 'authority.authorize.audiences[0]=execgov-authority' >authorize.yaml
  kubectl apply --dry-run=server -f authorize.yaml -o json >authorize.json
  json_check authorize.json "
d = one('Deployment', 'e2e-$id-execgov-authority')
spec = d['spec']['template']['spec']
c = spec['containers'][0]
for want in ['--authorize-listen=:8443', '--tls-cert=/etc/execgov/authority-tls/tls.crt',
             '--tls-key=/etc/execgov/authority-tls/tls.key', '--authorize-audience=execgov-authority']:
    if want not in c['args']: fail('authority args lack ' + want + ': %s' % c['args'])
if not [p for p in c['ports'] if p['name'] == 'https' and p['containerPort'] == 8443]: fail('ports: %s' % c['ports'])
tls = [v for v in spec['volumes'] if v['name'] == 'authority-tls']
if len(tls) != 1 or tls[0]['secret']['secretName'] != 'authority-tls': fail('the serving Secret: %s' % tls)
svc = one('Service', 'e2e-$id-execgov-authority')
if svc['spec']['ports'][0]['targetPort'] != 'https' or svc['spec']['ports'][0]['port'] != 443:
    fail('the authority Service: %s' % svc['spec']['ports'])
role = one('ClusterRole', 'e2e-$id-execgov-authority')
creates = sorted((g, r) for rule in role['rules'] if 'create' in rule['verbs'] for g in rule['apiGroups'] for r in rule['resources'])
if creates != [('', 'events'), ('authentication.k8s.io', 'tokenreviews'), ('events.k8s.io', 'events'), ('execgov.io', 'executionrequests')]:
    fail('the authority may create: %s' % creates)
if any(set(rule['verbs']) & {'impersonate', 'delete', 'deletecollection', '*'} for rule in role['rules']):
    fail('the authority role: %s' % role['rules'])
print('authority checks passed')
"
  # Without a Secret, cert-manager issues the endpoint's certificate for its Service.
  helm template "e2e-$id" "$chart" --namespace "$ns" "${authority_values[@]}" --set authority.authorize.enabled=true \
    --set certificates.mode=certManager >authorize-cm.yaml
  python3 - authorize-cm.yaml "e2e-$id-execgov" "$ns" <<'PY' || fail "the authority's cert-manager Certificate is wrong"
import sys, yaml
objs = [o for o in yaml.safe_load_all(open(sys.argv[1])) if o]
full, ns = sys.argv[2], sys.argv[3]
cert = [o for o in objs if o["kind"] == "Certificate" and o["metadata"]["name"] == full + "-authority"]
assert len(cert) == 1, [o["metadata"]["name"] for o in objs if o["kind"] == "Certificate"]
spec = cert[0]["spec"]
assert spec["secretName"] == full + "-authority-tls", spec
assert full + "-authority." + ns + ".svc" in spec["dnsNames"], spec["dnsNames"]
assert spec["issuerRef"] == {"name": full + "-ca", "kind": "Issuer"}, spec["issuerRef"]
d = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == full + "-authority"][0]
vols = [v for v in d["spec"]["template"]["spec"]["volumes"] if v["name"] == "authority-tls"]
assert vols[0]["secret"]["secretName"] == full + "-authority-tls", vols
PY

  # The API server will verify the serving certificate with the caBundle.
  openssl verify -CAfile ca.crt tls.crt
  openssl x509 -in tls.crt -noout -ext subjectAltName >san.txt
  grep -q "DNS:e2e-$id-execgov-webhook.$ns.svc" san.txt ||
    fail "the serving certificate does not name the Service"

  # cert-manager mode: a Certificate for the Service and the injector's
  # annotation instead of a caBundle (cert-manager's CRDs are not installed
  # here, so this is checked on the rendered YAML).
  helm template "e2e-$id" "$chart" --namespace "$ns" --set certificates.mode=certManager >cm.yaml
  grep -q "cert-manager.io/inject-ca-from: $ns/e2e-$id-execgov-webhook" cm.yaml || fail "no CA injector annotation"
  grep -q "caBundle:" cm.yaml && fail "cert-manager mode must leave caBundle to the injector"
  grep -q "kind: Certificate" cm.yaml || fail "no Certificate in cert-manager mode"
  grep -q "e2e-$id-execgov-webhook.$ns.svc$" cm.yaml || fail "the Certificate does not name the Service"
  grep -q "kind: Secret" <(grep -v "^#" cm.yaml | grep -B2 -A3 "webhook-tls" | grep "^kind") &&
    fail "cert-manager mode must not render the serving Secret"
  python3 - "e2e-$id-execgov" <<'PY' || fail "cert-manager mode does not guard the webhook configuration"
import sys, yaml
objs = [o for o in yaml.safe_load_all(open("cm.yaml")) if o]
name = sys.argv[1]
op = [o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == name + "-operator"][0]
args = op["spec"]["template"]["spec"]["containers"][0]["args"]
assert "--guard-webhook-configuration=" + name in args, args
rules = [r for o in objs if o["kind"] == "ClusterRole" for r in o["rules"] if "validatingwebhookconfigurations" in r["resources"]]
assert len(rules) == 1 and rules[0].get("resourceNames") == [name] and rules[0]["verbs"] == ["get"], rules
PY
  echo "cert-manager mode renders a Certificate and the injector annotation, and guards the webhook configuration"

  # Optional pieces: a ServiceMonitor per component, and ExecutionPolicies
  # from values, which the API server accepts as they are rendered.
  kubectl apply -f "$repo/crds/" >/dev/null
  write_policy
  python3 - <<'PY' >policies-values.json
import json
key = open("k.pub").read()
print(json.dumps({"policies": [{"name": "e2e-values-policy", "spec": {
    "audience": "e2e", "match": {"namespaces": ["nowhere"]},
    "issuers": [{"name": "i", "subjects": ["agent:*"],
                 "keys": [{"kid": "k", "algorithm": "Ed25519", "publicKey": key}]}]}}]}))
PY
  helm template "e2e-$id" "$chart" --namespace "$ns" -f policies-values.json \
    --set metrics.serviceMonitor.enabled=true >extras.yaml
  [ "$(grep -c '^kind: ServiceMonitor$' extras.yaml)" = 2 ] || fail "expected a ServiceMonitor for each component"
  python3 - <<'PY'
docs = open("extras.yaml").read().split("\n---\n")
open("policy-doc.yaml", "w").write("\n---\n".join(d for d in docs if "kind: ExecutionPolicy" in d))
PY
  kubectl apply --dry-run=server -f policy-doc.yaml || fail "the API server refused the policy rendered from values"
}

case_dryrun() {
  new_namespace "$ns"
  kubectl apply --dry-run=server -f "$repo/crds/"
  # install.yaml targets execgov-system, which other tests may be using: the
  # dry run is of the same manifests in this test's namespace.
  sed "s/execgov-system/$ns/g" "$repo/manifests/install.yaml" >install.yaml
  grep -q "^kind: Namespace" install.yaml || fail "install.yaml creates no Namespace"
  grep -q "cert-manager.io" install.yaml && fail "install.yaml needs cert-manager"
  # The Namespace exists only in this dry run, so its objects go to the
  # test's namespace, which does.
  python3 - install.yaml <<'PY'
import sys
docs = open(sys.argv[1]).read().split("\n---\n")
open("core.yaml", "w").write("\n---\n".join(d for d in docs if "kind: Namespace" not in d))
PY
  kubectl apply --dry-run=server -f core.yaml >applied.txt || fail "the API server refused install.yaml"
  cat applied.txt
  for kind in customresourcedefinition.apiextensions.k8s.io/executionpolicies.execgov.io \
    customresourcedefinition.apiextensions.k8s.io/executionrequests.execgov.io \
    validatingwebhookconfiguration.admissionregistration.k8s.io/execgov deployment.apps/execgov-webhook \
    deployment.apps/execgov-operator; do
    grep -q "^$kind " applied.txt || fail "install.yaml has no $kind"
  done
}

# A valid policy with one Ed25519 key; the malformed ones are edits of it.
write_policy() {
  openssl genpkey -algorithm ed25519 -out k.pem 2>/dev/null
  openssl pkey -in k.pem -pubout -out k.pub
  cat >good.yaml <<EOF
apiVersion: execgov.io/v1alpha1
kind: ExecutionPolicy
metadata: {name: e2e-pkg-$id}
spec:
  audience: e2e-cluster
  match: {namespaces: [$ns]}
  issuers:
  - name: ops
    subjects: ["agent:*"]
    keys:
    - kid: ops-1
      algorithm: Ed25519
      publicKey: |
$(sed 's/^/        /' k.pub)
EOF
}

case_crd() {
  new_namespace "$ns"
  kubectl apply -f "$repo/crds/" >/dev/null
  kubectl wait --for condition=established --timeout=60s crd/executionpolicies.execgov.io crd/executionrequests.execgov.io >/dev/null
  write_policy
  kubectl apply --dry-run=server -f good.yaml || fail "the valid policy was refused"
  # with_spec LINE: the valid policy with LINE added to its spec.
  with_spec() { sed "s/^  audience: e2e-cluster/&\n  $1/" good.yaml; }

  with_spec 'enforcement: Block' >bad-enforcement.yaml
  expect_refused 'spec.enforcement: Unsupported value: "Block": supported values: "Enforce", "Warn", "Audit"' bad-enforcement.yaml
  sed 's/"agent:\*"/"agent:[a-z]*"/' good.yaml >bad-glob.yaml
  expect_refused 'spec.issuers[0].subjects[0]: Invalid value: "agent:[a-z]*": is not a valid glob: only * and ? are special' bad-glob.yaml
  with_spec 'images: {allowedRegistries: ["registry\\\\example.com\/*"]}' >bad-registry.yaml
  expect_refused 'spec.images.allowedRegistries[0]: Invalid value: "registry\\example.com/*": is not a valid glob' bad-registry.yaml
  with_spec 'maxTTL: 8d' >ttl-8d.yaml
  expect_refused 'spec.maxTTL: Invalid value: "8d": must be a duration such as 15m, 30s or 1h30m (units ms, s, m, h; 7 days is 168h)' ttl-8d.yaml
  with_spec 'maxTTL: 169h' >ttl-169h.yaml
  expect_refused 'spec.maxTTL: Invalid value: "169h": must be at least 1s and at most 7 days (168h)' ttl-169h.yaml
  with_spec 'maxTTL: "0"' >ttl-0.yaml
  expect_refused 'spec.maxTTL: Invalid value: "0"' ttl-0.yaml
  with_spec 'maxTTL: 168h' >ttl-7d.yaml
  kubectl apply --dry-run=server -f ttl-7d.yaml >/dev/null || fail "maxTTL 168h (7 days) was refused"
  with_spec 'clockSkew: 11m' >skew.yaml
  expect_refused 'spec.clockSkew: Invalid value: "11m": must be at most 10 minutes' skew.yaml
  sed 's/^      algorithm: Ed25519/&\n      publicKeyRef: {kind: Secret, namespace: execgov-system, name: keys, key: ops.pub}/' good.yaml >two-sources.yaml
  expect_refused 'spec.issuers[0].keys[0]: Invalid value: a key needs exactly one of publicKey and publicKeyRef' two-sources.yaml
  sed '/^      publicKey: |/,$d' good.yaml >no-source.yaml
  expect_refused 'a key needs exactly one of publicKey and publicKeyRef' no-source.yaml
  sed 's/^      algorithm: Ed25519/      algorithm: HS256/' good.yaml >bad-alg.yaml
  expect_refused 'spec.issuers[0].keys[0].algorithm: Unsupported value: "HS256": supported values: "Ed25519", "ES256"' bad-alg.yaml
  { cat good.yaml; printf '  - name: other\n    subjects: ["a"]\n    keys:\n    - {kid: ops-1, algorithm: ES256, publicKeyRef: {kind: Secret, namespace: execgov-system, name: k, key: k.pub}}\n'; } >dup-kid.yaml
  expect_refused 'spec.issuers: Invalid value: a kid may appear only once in a policy' dup-kid.yaml
  { cat good.yaml; printf '  - name: ops\n    subjects: ["a"]\n    keys:\n    - {kid: ops-2, algorithm: ES256, publicKey: "not a key"}\n'; } >dup-issuer.yaml
  expect_refused 'spec.issuers[1]: Duplicate value: {"name":"ops"}' dup-issuer.yaml
  expect_refused 'spec.issuers[1].keys[0].publicKey: Invalid value: "not a key": must be an SPKI PEM public key' dup-issuer.yaml
  sed 's/^  issuers:/  issuers: []\n  x:/; /^  - name: ops/,$d' good.yaml | sed '/^  x:$/d' >no-issuer.yaml
  expect_refused 'spec.issuers: Invalid value: 0: spec.issuers in body should have at least 1 items' no-issuer.yaml
  sed 's/^  audience: e2e-cluster/  audience: ""/' good.yaml >no-audience.yaml
  expect_refused 'spec.audience: Invalid value: "": spec.audience in body should be at least 1 chars long' no-audience.yaml
  sed 's/^  match: {namespaces: \[.*\]}/  match: {namespaceSelector: {matchExpressions: [{key: team, operator: Exists, values: [a]}]}}/' good.yaml >bad-selector.yaml
  expect_refused 'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist' bad-selector.yaml

  # Defaults, as the compiler assumes them.
  kubectl apply --dry-run=server -f good.yaml -o jsonpath='{.spec.enforcement} {.spec.maxTTL} {.spec.clockSkew}' >defaults.txt
  [ "$(cat defaults.txt)" = "Enforce 15m 30s" ] || fail "defaults: $(cat defaults.txt)"

  # Short names, category and printer columns on a real object.
  kubectl apply -f good.yaml >/dev/null
  cleanup+=("kubectl delete executionpolicy e2e-pkg-$id --ignore-not-found >/dev/null")
  kubectl get epol "e2e-pkg-$id" >get.txt
  cat get.txt
  head -n1 get.txt | grep -qE '^NAME +ENFORCEMENT +READY +KEYS +AGE$' || fail "policy columns: $(head -n1 get.txt)"
  grep -qE "^e2e-pkg-$id +Enforce " get.txt || fail "policy row: $(cat get.txt)"
  kubectl get execgov >category.txt
  grep -q "executionpolicy.execgov.io/e2e-pkg-$id" category.txt || fail "kubectl get execgov does not list the policy"
  kubectl explain executionpolicy.spec.issuers.keys >explain.txt
  grep -q "exactly one of" explain.txt || grep -q "never both" explain.txt || fail "explain keys: $(cat explain.txt)"
  grep -q "publicKeyRef" explain.txt || fail "explain keys lacks publicKeyRef"
  kubectl explain executionpolicy.spec.maxTTL >explain-ttl.txt
  grep -q "at most 7 days" explain-ttl.txt || fail "explain maxTTL says nothing of its bound"

  # ExecutionRequests: a Job that never ends restarting is refused up front.
  cat >ereq.yaml <<EOF
apiVersion: execgov.io/v1alpha1
kind: ExecutionRequest
metadata: {name: r1, namespace: $ns}
spec:
  initiator: agent:e2e
  intent: packaging test
  template:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: main, image: busybox, command: [/bin/true]}]
EOF
  kubectl apply --dry-run=server -f ereq.yaml >/dev/null || fail "a valid ExecutionRequest was refused"
  sed 's/restartPolicy: Never/restartPolicy: Always/' ereq.yaml >always.yaml
  expect_refused 'spec.template.spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "Never", "OnFailure"' always.yaml
  sed '/initiator:/d' ereq.yaml >no-initiator.yaml
  expect_refused 'spec.initiator: Required value' no-initiator.yaml
  sed 's/containers: \[.*\]/containers: []/' ereq.yaml >no-containers.yaml
  expect_refused 'spec.template.spec.template.spec.containers: Invalid value: 0' no-containers.yaml
  kubectl apply -f ereq.yaml >/dev/null
  kubectl get ereq -n "$ns" r1 >ereq.txt
  cat ereq.txt
  head -n1 ereq.txt | grep -qE '^NAME +PHASE +INITIATOR +WAITING FOR +JOB +AGE$' || fail "request columns: $(cat ereq.txt)"
  grep -q "agent:e2e" ereq.txt || fail "request row lacks the initiator"
}

case_uninstall() {
  local release=e2e-pkg-$id gov=$ns-gov plain=$ns-plain out
  new_namespace "$ns"
  new_namespace "$gov" execgov.io/governed=true "e2e-packaging=$id"
  new_namespace "$plain" "e2e-packaging=$id"
  for n in "$gov" "$plain"; do
    poll 60 kubectl get serviceaccount default -n "$n" >/dev/null 2>&1 || fail "no default ServiceAccount in $n"
  done
  cat >scope.yaml <<EOF
webhook:
  admission:
    extraNamespaceSelectorExpressions:
    - {key: e2e-packaging, operator: In, values: ["$id"]}
EOF
  cleanup+=("helm uninstall $release -n $ns >/dev/null 2>&1; kubectl delete validatingwebhookconfiguration $release-execgov --ignore-not-found >/dev/null")
  helm install "$release" "$chart" -n "$ns" -f scope.yaml >/dev/null
  kubectl get validatingwebhookconfiguration "$release-execgov" >/dev/null || fail "helm install made no webhook configuration"

  # No webhook pod runs here (no kubelet): a governed namespace is refused,
  # fail closed; a namespace that is not governed is never touched.
  poll 30 bash -c "! kubectl run p1 --image=busybox -n $gov --restart=Never --dry-run=server >/dev/null 2>&1" ||
    fail "a governed namespace admitted a Pod while no webhook runs"
  out=$(kubectl run p1 --image=busybox -n "$gov" --restart=Never 2>&1) && fail "governed Pod admitted: $out"
  grep -q 'failed calling webhook "validate.execgov.io"' <<<"$out" || fail "unexpected refusal: $out"
  kubectl run p1 --image=busybox -n "$plain" --restart=Never >/dev/null || fail "a namespace that is not governed was refused"

  helm uninstall "$release" -n "$ns" >uninstall.txt
  cat uninstall.txt
  kubectl get validatingwebhookconfiguration -l "app.kubernetes.io/instance=$release" -o name >left.txt
  [ ! -s left.txt ] || fail "uninstall left $(cat left.txt)"
  kubectl get validatingwebhookconfiguration "$release-execgov" >/dev/null 2>&1 && fail "uninstall left the webhook configuration"
  kubectl run p2 --image=busybox -n "$gov" --restart=Never >/dev/null || fail "the governed namespace is still locked after uninstall"
  # The ledger key outlives the release, so old checkpoints stay verifiable.
  kubectl get secret -n "$ns" "$release-execgov-ledger-key" >/dev/null || fail "uninstall deleted the ledger key"
  grep -q "$release-execgov-ledger-key" uninstall.txt || fail "helm did not say it kept the ledger key"
}

case_rotation() {
  local release=e2e-rot-$id gov=$ns-gov port port2 mport mport2 oport
  source "$here/chart_lib.sh"
  CHART_NS=$ns CHART_WORK=$work EXECGOV=${EXECGOV:?the rotation case needs EXECGOV, the execgov binary}
  cleanup+=("chart_stop_all")
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  port=$(free_port) port2=$(free_port) mport=$(free_port) mport2=$(free_port) oport=$(free_port)
  new_namespace "$ns"
  new_namespace "$gov" execgov.io/governed=true
  kubectl apply -f "$repo/crds/" >/dev/null
  # The webhook configuration calls replica 0 by URL; replica 1 is not called,
  # but the rotation must wait for it as for any replica.
  cat >values.yaml <<EOF
webhook:
  admission:
    url: https://127.0.0.1:$port/validate
    extraNamespaceSelectorExpressions:
    - {key: kubernetes.io/metadata.name, operator: In, values: ["$gov"]}
operator:
  extraArgs: ["--webhook-probe=127.0.0.1:$port2"]
EOF
  cleanup+=("helm uninstall $release -n $ns >/dev/null 2>&1")
  helm install "$release" "$chart" -n "$ns" -f values.yaml >/dev/null
  local full=$release-execgov

  # A signed Pod: a server dry run of it is decided by the webhook like a real
  # create but consumes nothing, so it can be sent again and again, and must
  # be allowed every time.
  "$EXECGOV" keygen --alg ed25519 --kid rot-1 --out authority >key.yaml
  {
    echo "apiVersion: execgov.io/v1alpha1"
    echo "kind: ExecutionPolicy"
    echo "metadata: {name: $gov}"
    echo "spec:"
    echo "  audience: e2e-cluster"
    echo "  maxTTL: 1h"
    echo "  match: {namespaces: [$gov]}"
    echo "  issuers:"
    echo "  - name: rot"
    echo "    subjects: [\"agent:*\"]"
    echo "    keys:"
    sed 's/^/    /' key.yaml
  } >policy.yaml
  kubectl apply -f policy.yaml >/dev/null
  cleanup+=("kubectl delete executionpolicy $gov --ignore-not-found >/dev/null")
  cat >pod.yaml <<EOF
apiVersion: v1
kind: Pod
metadata: {name: steady, namespace: $gov}
spec:
  restartPolicy: Never
  containers: [{name: main, image: registry.example.com/steady:1, command: [/run]}]
EOF
  "$EXECGOV" sign --key authority.key --kid rot-1 --issuer rot --subject agent:steady --audience e2e-cluster \
    --ttl 1h -f pod.yaml >signed.yaml
  poll 60 kubectl get serviceaccount default -n "$gov" >/dev/null 2>&1 || fail "no default ServiceAccount in $gov"

  chart_sync_secret "$full-ledger-key" "$work/ledger"
  chart_run "$full-operator" operator --metrics-listen=127.0.0.1:$oport --ledger-key=$work/ledger/ledger.key \
    --identity=rotation-test --watch-namespaces=$gov
  poll 60 kubectl -n "$ns" get secret "$full-webhook-tls" -o name >/dev/null 2>&1 ||
    { cat operator.log; fail "the operator made no serving certificate"; }
  chart_sync_secret "$full-webhook-tls" "$work/tls"
  poll 30 test -s "$work/tls/tls.key" || fail "the serving certificate did not reach the files"
  chart_run "$full-webhook" webhook-0 --listen=127.0.0.1:$port --metrics-listen=127.0.0.1:$mport \
    --tls-cert=$work/tls/tls.crt --tls-key=$work/tls/tls.key --ledger-key=$work/ledger/ledger.key
  chart_run "$full-webhook" webhook-1 --listen=127.0.0.1:$port2 --metrics-listen=127.0.0.1:$mport2 \
    --tls-cert=$work/tls/tls.crt --tls-key=$work/tls/tls.key --ledger-key=$work/ledger/ledger.key
  local p
  for p in $mport $mport2; do
    poll 60 curl -sf "http://127.0.0.1:$p/readyz" -o /dev/null || { cat webhook-*.log; fail "a webhook replica is not ready"; }
  done
  poll 60 kubectl create --dry-run=server -f signed.yaml -o name >/dev/null 2>&1 ||
    { kubectl create --dry-run=server -f signed.yaml || true; fail "the signed Pod is not admitted before the rotation"; }
  local before_ca
  before_ca=$(kubectl -n "$ns" get secret "$full-webhook-ca" -o jsonpath='{.data.ca\.crt}')

  # Steady traffic from four senders, every result recorded.
  local senders=() s
  for s in 1 2 3 4; do
    (
      while [ ! -e "$work/stop-traffic" ]; do
        if out=$(kubectl create --dry-run=server -f signed.yaml -o name 2>&1); then echo ok; else echo "FAIL $out"; fi
      done >"$work/results.$s"
    ) &
    senders+=($!)
  done
  cleanup+=("touch $work/stop-traffic")
  sleep 3
  local stamp=forced-$id
  kubectl -n "$ns" annotate secret "$full-webhook-ca" "execgov.io/rotate=$stamp" --overwrite >/dev/null
  kubectl -n "$ns" wait "secret/$full-webhook-ca" \
    --for=jsonpath='{.metadata.annotations.execgov\.io/rotated-for}'="$stamp" --timeout=60s >/dev/null
  ca_count() {
    kubectl get validatingwebhookconfiguration "$full" -o jsonpath='{.webhooks[0].clientConfig.caBundle}' |
      base64 -d | grep -c 'BEGIN CERTIFICATE'
  }
  previous_gone() {
    [ -z "$(kubectl -n "$ns" get secret "$full-webhook-ca" -o jsonpath='{.data.previous-ca\.crt}')" ]
  }
  poll 60 test "$(ca_count)" = 2 || fail "caBundle never held the old and the new CA together"
  poll 120 previous_gone || { tail -n 20 operator.log; fail "the rotation did not finish"; }
  sleep 3  # traffic goes on after the old CA is gone
  touch "$work/stop-traffic"
  wait "${senders[@]}"
  cat "$work"/results.* >results

  # The CA changed, the caBundle holds it alone, and each replica serves a
  # certificate from it.
  local after_ca bundle
  after_ca=$(kubectl -n "$ns" get secret "$full-webhook-ca" -o jsonpath='{.data.ca\.crt}')
  [ "$after_ca" != "$before_ca" ] || fail "the CA did not change"
  bundle=$(kubectl get validatingwebhookconfiguration "$full" -o jsonpath='{.webhooks[0].clientConfig.caBundle}')
  [ "$bundle" = "$after_ca" ] || fail "caBundle is not the new CA alone"
  base64 -d <<<"$after_ca" >new-ca.crt
  for p in $port $port2; do
    openssl s_client -connect "127.0.0.1:$p" -CAfile new-ca.crt -verify_return_error </dev/null >sclient.txt 2>&1 ||
      { cat sclient.txt; fail "the replica on port $p does not serve a certificate from the new CA"; }
  done
  grep -q "rotating the CA" operator.log || fail "the operator did not log the rotation"
  local total failures
  total=$(wc -l <results)
  failures=$(grep -c '^FAIL' results || true)
  echo "admission requests during the rotation: $total, failed: $failures"
  if [ "$failures" != 0 ]; then
    grep '^FAIL' results | sort | uniq -c | head
    fail "$failures admission requests failed during the rotation"
  fi
  [ "$total" -ge 20 ] || fail "too little traffic to prove anything ($total requests)"
}

case_plugin() {
  [ -n "${EXECGOV_BUILD:-}" ] || fail "set EXECGOV_BUILD to the build directory"
  cmake --install "$EXECGOV_BUILD" --prefix "$work/prefix" >install.log || { cat install.log; fail "cmake --install failed"; }
  [ "$(readlink "$work/prefix/bin/kubectl-execgov")" = execgov ] || fail "no relative kubectl-execgov link: $(ls -l "$work/prefix/bin")"
  # Only the installed prefix and kubectl's own directory: no other
  # kubectl-execgov (the build tree's) may answer instead.
  local path="$work/prefix/bin:$(dirname "$(command -v kubectl)")"
  PATH=$path kubectl plugin list >plugins.txt 2>&1 || { cat plugins.txt; fail "kubectl plugin list failed"; }
  grep -qx "$work/prefix/bin/kubectl-execgov" plugins.txt || fail "kubectl does not find the plugin: $(cat plugins.txt)"
  PATH=$path kubectl execgov approve --help >help.txt 2>&1 || { cat help.txt; fail "kubectl execgov approve --help failed"; }
  grep -q "NAMESPACE/NAME" help.txt || fail "not approve's help: $(cat help.txt)"
  echo "kubectl execgov approve --help through $work/prefix/bin/kubectl-execgov"
}

# The ledger on a dedicated etcd over mutual TLS (ledger.etcdTLS, the backend
# docs/ledger.md names for sustained high rates): every Deployment that opens
# the ledger mounts the Secret's three files and gets a --ledger URL naming
# them. That URL, with the mount's directory mapped to the same files here,
# opens a real etcd that requires client certificates; without the client
# certificate the same etcd refuses it.
case_etcdtls() {
  [ -n "${EXECGOV:-}" ] || fail "EXECGOV (the execgov binary) is not set"
  local port peer out url
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 1 \
    -subj /CN=ledger-etcd-ca 2>/dev/null
  issue() {  # issue NAME EXTENSIONS: a certificate signed by ca.crt
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
    printf '%b\n' "$2" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  }
  # etcd's JSON gateway, which execgov talks to, calls etcd itself with the
  # serving certificate: with --client-cert-auth it needs clientAuth too.
  issue server 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth'
  issue client 'extendedKeyUsage=clientAuth'
  read -r port peer < <(python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
  etcd --name=ledger --data-dir="$work/etcd" \
    --listen-client-urls="https://127.0.0.1:$port" --advertise-client-urls="https://127.0.0.1:$port" \
    --listen-peer-urls="http://127.0.0.1:$peer" --initial-advertise-peer-urls="http://127.0.0.1:$peer" \
    --initial-cluster="ledger=http://127.0.0.1:$peer" \
    --cert-file=server.crt --key-file=server.key --trusted-ca-file=ca.crt --client-cert-auth \
    --unsafe-no-fsync --log-level=warn >etcd.log 2>&1 &
  cleanup+=("kill $! 2>/dev/null; wait $! 2>/dev/null")
  poll 30 curl -fsS --max-time 2 --cacert ca.crt --cert client.crt --key client.key \
    "https://127.0.0.1:$port/health" -o /dev/null || fail "etcd did not start: $(tail -n 5 etcd.log)"

  helm template "e2e-$id" "$chart" --namespace "$ns" --set "ledger.url=etcds://127.0.0.1:$port/execgov/e2e-$id" \
    --set ledger.etcdTLS.secretName=ledger-etcd --set console.enabled=true \
    --set authority.enabled=true --set authority.kid=k --set authority.issuer=i --set authority.audience=a \
    --set authority.keySecret=authority-key >chart.yaml
  # Each Deployment's --ledger, checked against its mounts; one URL for all.
  url=$(python3 - chart.yaml <<'PY'
import sys, yaml
want_dir = "/etc/execgov/ledger-etcd/"
urls, seen = set(), []
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if not doc or doc.get("kind") != "Deployment":
        continue
    name = doc["metadata"]["name"]
    pod = doc["spec"]["template"]["spec"]
    for c in pod["containers"]:
        ledger = [a[len("--ledger="):] for a in c.get("args", []) if a.startswith("--ledger=")]
        if not ledger:
            continue
        seen.append(name)
        u = ledger[0]
        q = "?cacert=%sca.crt&cert=%stls.crt&key=%stls.key" % (want_dir, want_dir, want_dir)
        if not u.endswith(q):
            sys.exit("%s: --ledger=%s does not name the mounted files" % (name, u))
        mounts = [m for m in c.get("volumeMounts", []) if m["mountPath"] == want_dir.rstrip("/")]
        if len(mounts) != 1 or not mounts[0].get("readOnly"):
            sys.exit("%s: nothing mounted read-only at %s" % (name, want_dir))
        vol = [v for v in pod["volumes"] if v["name"] == mounts[0]["name"]]
        secret = vol[0].get("secret", {}) if vol else {}
        items = sorted((i["key"], i["path"]) for i in secret.get("items", []))
        if secret.get("secretName") != "ledger-etcd" or items != [("ca.crt", "ca.crt"), ("tls.crt", "tls.crt"), ("tls.key", "tls.key")]:
            sys.exit("%s: the volume at %s is not Secret ledger-etcd's ca.crt, tls.crt, tls.key: %s" % (name, want_dir, vol))
        if secret.get("defaultMode") != 0o400:
            sys.exit("%s: the client key is mounted with mode %s, not 0400" % (name, oct(secret.get("defaultMode", 0))))
        urls.add(u)
if sorted(n.rsplit("-", 1)[-1] for n in seen) != ["authority", "console", "operator", "webhook"]:
    sys.exit("the Deployments that open the ledger are %s, not the authority, console, operator and webhook" % seen)
if len(urls) != 1:
    sys.exit("the Deployments open different ledgers: %s" % urls)
print(urls.pop())
PY
) || fail "the rendered chart: $url"
  echo "every Deployment opens $url"

  # The same URL with the mount's directory here: the files the Secret holds.
  mkdir files
  cp ca.crt files/ca.crt && cp client.crt files/tls.crt && cp client.key files/tls.key && chmod 0400 files/*
  url=${url//\/etc\/execgov\/ledger-etcd\//$work/files/}
  out=$("$EXECGOV" ledger verify --ledger "$url" 2>&1) || fail "the chart's ledger URL did not open the etcd: $out"
  grep -q "^OK size 0" <<<"$out" || fail "not an empty ledger verified: $out"
  echo "opened over mutual TLS: $out"
  if out=$("$EXECGOV" ledger verify --ledger "${url%%&cert=*}" 2>&1); then
    fail "etcd answered a client without a certificate: $out"
  fi
  grep -q "certificate required" <<<"$out" || fail "refused, but not for want of the client certificate: $out"
  echo "without the client certificate: $out"
}

"case_$1"
