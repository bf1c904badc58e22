#!/usr/bin/env bash
# The real kube-apiserver calls `execgov serve` through a
# ValidatingWebhookConfiguration (url + caBundle), and real kubectl sees the
# decisions:
#   - an unsigned Pod is refused with "execgov: MissingArtifact: ...";
#   - a Job signed with `execgov sign` is admitted (its digest, computed from the
#     manifest, matches the object the API server defaulted), and the Pods the
#     real Job controller makes from it are admitted by inheritance;
#   - the same artifact on a second Job is refused (ReplayDetected);
#   - a namespace not labelled governed is never touched;
#   - the ledger the webhook wrote verifies and holds every step.
# Usage: serve_admission_test.sh PATH-TO-EXECGOV (run by ctest with the fixture).
set -euo pipefail

execgov=$1
source "$(dirname "$0")/lib.sh"

id=$$
ns=e2e-serve-$id
plain_ns=e2e-serve-plain-$id
work=$(mktemp -d)
serve_pid=""
cleanup() {
  kubectl delete validatingwebhookconfiguration "e2e-serve-$id" --ignore-not-found >/dev/null 2>&1 || true
  kubectl delete namespace "$ns" "$plain_ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

kubectl create namespace "$ns" >/dev/null
kubectl label namespace "$ns" execgov.io/governed=true >/dev/null
kubectl create namespace "$plain_ns" >/dev/null
for n in "$ns" "$plain_ns"; do
  poll 60 kubectl get serviceaccount default -n "$n" >/dev/null 2>&1 || fail "no default ServiceAccount in $n"
done

# An authority, and a policy trusting it for this namespace.
"$execgov" keygen --alg ed25519 --kid e2e-1 --out authority >key-entry.yaml
mkdir policies
{
  cat <<YAML
apiVersion: execgov.io/v1alpha1
kind: ExecutionPolicy
metadata: {name: e2e}
spec:
  audience: e2e-cluster
  maxTTL: 15m
  match: {namespaces: [$ns]}
  trustedControllers: [system:serviceaccount:kube-system:job-controller]
  issuers:
  - name: e2e-authority
    subjects: ["agent:*"]
    keys:
YAML
  sed 's/^/    /' key-entry.yaml
} >policies/e2e.yaml

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
ops=$(free_port)
"$execgov" serve --policy policies --state-dir state --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$ops" \
  >serve.log 2>&1 &
serve_pid=$!
poll 30 curl -sf "http://127.0.0.1:$ops/readyz" -o /dev/null || { cat serve.log; fail "serve did not become ready"; }

ca=$(base64 -w0 <state/tls/ca.crt)
kubectl apply -f - >/dev/null <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: e2e-serve-$id}
webhooks:
- name: validate.execgov.io
  admissionReviewVersions: [v1]
  sideEffects: NoneOnDryRun
  failurePolicy: Fail
  timeoutSeconds: 5
  clientConfig:
    url: https://127.0.0.1:$port/validate
    caBundle: $ca
  namespaceSelector:
    matchLabels: {execgov.io/governed: "true", kubernetes.io/metadata.name: $ns}
  rules:
  - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
  - {apiGroups: [batch], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [jobs]}
YAML

# 1. An unsigned Pod: refused, and kubectl shows execgov's reason.
denied() { ! kubectl run unsigned -n "$ns" --image=registry.example.com/x:1 --restart=Never >out.txt 2>err.txt; }
poll 30 denied || fail "an unsigned Pod was admitted"
grep -q 'execgov: MissingArtifact: ' err.txt || { cat err.txt; fail "kubectl did not show MissingArtifact"; }
echo "unsigned Pod refused: $(cat err.txt)"

# 2. A signed Job is admitted, and its Pods by inheritance.
job_manifest rotate "$ns" >job.yaml
"$execgov" sign --key authority.key --kid e2e-1 --issuer e2e-authority --subject agent:e2e --audience e2e-cluster \
  -f job.yaml >signed.yaml
kubectl apply -f signed.yaml || { tail -5 serve.log; fail "the signed Job was refused"; }
pods() { [ "$(kubectl get pods -n "$ns" -l job-name=rotate -o name | wc -l)" -ge 1 ]; }
poll 60 pods || { tail -20 serve.log; kubectl get events -n "$ns"; fail "the Job controller's Pod was not admitted"; }
echo "signed Job admitted; its Pod: $(kubectl get pods -n "$ns" -l job-name=rotate -o name)"

# 3. The same artifact on another Job: a replay.
sed 's/^  name: rotate$/  name: rotate-again/' signed.yaml >replay.yaml
grep -q 'name: rotate-again' replay.yaml || fail 'could not rename the Job'
if kubectl apply -f replay.yaml 2>err.txt; then fail "a replayed artifact was admitted"; fi
grep -q 'execgov: ReplayDetected: ' err.txt || { cat err.txt; fail "kubectl did not show ReplayDetected"; }
echo "replay refused: $(cat err.txt)"

# 4. A namespace not labelled governed is not touched.
kubectl run unsigned -n "$plain_ns" --image=registry.example.com/x:1 --restart=Never >/dev/null ||
  fail "an ungoverned namespace was blocked"

# 5. The ledger verifies and holds the Job and its Pod.
kill "$serve_pid"
wait "$serve_pid" || true
serve_pid=""
"$execgov" ledger verify --ledger file:state/ledger.jsonl --checkpoint-key state/ledger.jsonl.key.pub
"$execgov" ledger show --ledger file:state/ledger.jsonl -o json >records.json
python3 - "$ns" <<'PY'
import json, sys
ns = sys.argv[1]
text = open("records.json").read().strip()
records = json.loads(text) if text.startswith("[") else [json.loads(l) for l in text.splitlines() if l.strip()]
def has(kind, decision, reason):
    return any(r.get("object", {}).get("kind") == kind and r.get("object", {}).get("namespace") == ns
               and r.get("decision") == decision and r.get("reason") == reason for r in records)
for want in [("Pod", "denied", "MissingArtifact"), ("Job", "allowed", "Allowed"), ("Pod", "allowed", "Allowed"),
             ("Job", "denied", "ReplayDetected")]:
    if not has(*want):
        sys.exit("ledger lacks %s %s %s" % want)
print("ledger holds every step")
PY
echo PASS
