#!/usr/bin/env bash
# Captures AdmissionReviews exactly as a real kube-apiserver sends them, into
# OUT_DIR (tests/unit/webhook/testdata/apiserver by default): a signed Job
# created by agent:bench, the Pod its Job controller creates, the same Job
# under another name as a server dry run, a label change on that Pod, and a
# signed ExecutionRequest, with the throwaway authority's public key.
#
#   hack/capture-reviews.sh [OUT_DIR]     (builds execgov if needed)
#
# It starts its own control plane (hack/testenv.sh, in a temporary directory)
# and a webhook that allows everything and saves each body
# (hack/capture_webhook.py), and stops both when it ends.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/tests/unit/webhook/testdata/apiserver}")
execgov="$root/build/src/cmd/execgov"
[ -x "$execgov" ] || "$root/hack/build.sh" >/dev/null

work=$(mktemp -d /tmp/execgov-capture.XXXXXX)
export EXECGOV_TESTENV_DIR="$work/env"
capture_pid=
cleanup() {
  [ -z "$capture_pid" ] || { kill "$capture_pid" 2>/dev/null; wait "$capture_pid" 2>/dev/null || true; }
  "$root/hack/testenv.sh" stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
eval "$("$root/hack/testenv.sh" start)"
cd "$work"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout webhook.key -out webhook.crt \
  -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
mkdir bodies
coproc CAPTURE { python3 "$root/hack/capture_webhook.py" webhook.crt webhook.key bodies; }
capture_pid=$CAPTURE_PID
read -r -t 30 port <&"${CAPTURE[0]}"

kubectl create namespace agents >/dev/null
kubectl apply -f "$root/crds/" >/dev/null
kubectl wait --for condition=Established crd --all --timeout=60s >/dev/null
kubectl create rolebinding agent-jobs -n agents --clusterrole=edit --user=agent:bench >/dev/null
kubectl create clusterrole capture-executionrequests --verb=create,get,list,update \
  --resource=executionrequests.execgov.io >/dev/null
kubectl create rolebinding agent-executionrequests -n agents --clusterrole=capture-executionrequests \
  --user=agent:bench >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: execgov-capture}
webhooks:
- name: capture.execgov.io
  admissionReviewVersions: [v1]
  sideEffects: NoneOnDryRun
  failurePolicy: Fail
  timeoutSeconds: 10
  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: agents}}
  clientConfig: {url: "https://127.0.0.1:$port/validate", caBundle: "$(base64 -w0 webhook.crt)"}
  rules:
  - {apiGroups: [""], apiVersions: [v1], resources: [pods], operations: [CREATE, UPDATE]}
  - {apiGroups: [batch], apiVersions: [v1], resources: [jobs], operations: [CREATE, UPDATE]}
  - {apiGroups: [execgov.io], apiVersions: ["*"], resources: [executionrequests], operations: [CREATE, UPDATE]}
YAML
sleep 2  # the API server picks up a new webhook configuration within a second

"$execgov" keygen --alg ed25519 --kid bench-1 --out authority >/dev/null 2>&1
sign=("$execgov" sign --key authority.key --kid bench-1 --issuer ops-authority --subject agent:bench --audience cluster-a --ttl 10m)
# The manifest bench/webhook/run.sh signs: its digests match these objects.
spec='{"restartPolicy":"Never","containers":[{"name":"main","image":"registry.example.com/tools/rotate@sha256:0b6f3a1b5ad0ee0aa0c2b1c3e0e5d8a3c1b8e6f0d2a4c6e8f0a2c4e6f8a0c2e4","command":["/rotate"],"args":["--service","payments"],"env":[{"name":"MODE","value":"safe"}]}]}'
echo '{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"rotate-payments","namespace":"agents"},"spec":{"template":{"spec":'"$spec"'}}}' > job.json
"${sign[@]}" -f job.json > job-signed.json
kubectl create --as agent:bench -f job-signed.json >/dev/null
for _ in $(seq 100); do [ -n "$(ls bodies/*-CREATE-Pod.json 2>/dev/null)" ] && break; sleep 0.2; done
sed 's/"rotate-payments"/"rotate-payments-again"/' job-signed.json | kubectl create --as agent:bench --dry-run=server -f - >/dev/null
kubectl label pod -n agents -l job-name=rotate-payments tier=batch >/dev/null
cat > request.yaml <<'YAML'
apiVersion: execgov.io/v1alpha1
kind: ExecutionRequest
metadata: {name: rotate-keys-1, namespace: agents}
spec:
  initiator: agent:bench
  intent: rotate the payments service keys (ticket OPS-1234)
  template:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: rotate
            image: registry.example.com/tools/rotate@sha256:0b6f3a1b5ad0ee0aa0c2b1c3e0e5d8a3c1b8e6f0d2a4c6e8f0a2c4e6f8a0c2e4
            command: ["/rotate"]
            args: ["--service", "payments"]
YAML
"${sign[@]}" -f request.yaml | kubectl create --as agent:bench -f - >/dev/null

take() {  # PATTERN NAME: the one body matching PATTERN, saved as NAME
  local found=(bodies/$1)
  [ ${#found[@]} -eq 1 ] && [ -f "${found[0]}" ] || { ls bodies >&2; echo "capture: expected one $1" >&2; exit 1; }
  cp "${found[0]}" "$out/$2"
}
mkdir -p "$out"
take "01-CREATE-Job.json" job-create.json
take "02-CREATE-Pod.json" pod-create-by-job-controller.json
take "03-CREATE-Job.json" job-create-dry-run.json
take "04-UPDATE-Pod.json" pod-update.json
take "05-CREATE-ExecutionRequest.json" executionrequest-create.json
cp authority.pub "$out/authority.pub"
echo "captured $(ls bodies | wc -l) reviews from $(kubectl version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])') into $out"
