#!/usr/bin/env bash
# The README's first command: installs what is needed, builds execgov, and
# walks through the whole flow on this machine:
#   keygen -> sign -> check offline -> execgov serve -> four admissions over
#   HTTPS (allowed, MissingArtifact, DigestMismatch, ReplayDetected) -> ledger verify.
# It ends by itself, stops the server and removes its temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/build.sh execgov
execgov="$PWD/build/src/cmd/execgov"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }

step "1. An authority creates a signing key (the private key file is mode 0600)"
"$execgov" keygen --alg ed25519 --kid ops-2026-11 --out ops > key-entry.yaml
ls -l ops.key ops.pub

step "2. A cluster admin writes an ExecutionPolicy trusting that key"
{
  cat <<'YAML'
apiVersion: execgov.io/v1alpha1
kind: ExecutionPolicy
metadata: {name: default}
spec:
  enforcement: Enforce
  audience: cluster-a
  maxTTL: 15m
  issuers:
  - name: ops-authority
    subjects: ["agent:*"]
    keys:
YAML
  sed 's/^/    /' key-entry.yaml
} > policy.yaml
cat policy.yaml

step "3. An agent's Job, and its execution-scope digest"
cat > job.yaml <<'YAML'
apiVersion: batch/v1
kind: Job
metadata: {name: rotate-keys, namespace: agents}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: rotate
        image: registry.example.com/tools/rotate@sha256:0b6f3a1b5ad0ee0aa0c2b1c3e0e5d8a3c1b8e6f0d2a4c6e8f0a2c4e6f8a0c2e4
        command: ["/rotate"]
        args: ["--service", "payments"]
YAML
"$execgov" digest -f job.yaml

step "4. The authority signs exactly that execution"
"$execgov" sign --key ops.key --kid ops-2026-11 --issuer ops-authority --subject agent:rotator \
  --audience cluster-a --ttl 10m --intent "rotate payment keys" -f job.yaml > signed.yaml
"$execgov" inspect -f signed.yaml

step "5. check (offline): the signed Job, and the same Job with its image swapped after signing"
"$execgov" check -f signed.yaml --policy policy.yaml || true
sed 's#tools/rotate@sha256:0b6f#tools/evil@sha256:0b6f#' signed.yaml | "$execgov" check -f - --policy policy.yaml || true

step "6. Start the admission webhook (execgov serve) on free loopback ports"
mkdir policies && cp policy.yaml policies/
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port); ops=$(free_port)
"$execgov" serve --policy policies --state-dir state --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$ops" \
  >serve.log 2>&1 &
serve_pid=$!
# `|| true`: under set -e a failing kill (serve already stopped in step 11)
# would end the trap before the temporary directory is removed.
trap 'kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ops/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$ops/readyz" >/dev/null || { cat serve.log; echo "execgov serve did not become ready" >&2; exit 1; }
echo "listening on https://127.0.0.1:$port/validate (CA: state/tls/ca.crt), metrics on http://127.0.0.1:$ops/metrics"

# Sends each manifest as the API server would (an AdmissionReview over HTTPS) and prints the decision.
admit() {
  "$execgov" review -f - --user agent:rotator |
    curl -s --cacert state/tls/ca.crt -H 'Content-Type: application/json' --data-binary @- \
      "https://127.0.0.1:$port/validate" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["response"]; print("allowed" if r["allowed"] else "denied: " + r["status"]["message"])'
}

step "7. Over HTTPS: the signed Job"
admit < signed.yaml
step "8. Over HTTPS: the same Job unsigned"
admit < job.yaml
step "9. Over HTTPS: the signed Job with its image changed"
sed 's#tools/rotate@sha256:0b6f#tools/evil@sha256:0b6f#' signed.yaml | admit
step "10. Over HTTPS: the signed Job again under a new name (the artifact was used once already)"
sed 's#name: rotate-keys#name: rotate-keys-again#' signed.yaml | admit

step "11. Stop the webhook (it writes a final checkpoint), then audit the ledger"
kill "$serve_pid"; wait "$serve_pid" || true
"$execgov" ledger show --ledger file:state/ledger.jsonl
"$execgov" ledger verify --ledger file:state/ledger.jsonl --checkpoint-key state/ledger.jsonl.key.pub

printf '\nDone: nothing is left running, and the temporary directory is removed.\n'
