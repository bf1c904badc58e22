#!/usr/bin/env bash
# The README's first command: installs what is needed, builds execgov, and
# walks through the whole flow on this machine, offline:
#   keygen -> sign -> check (allowed) -> tamper -> check (denied).
# It leaves its files in a temporary directory it removes at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/build.sh
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

step "5. check: the signed Job"
"$execgov" check -f signed.yaml --policy policy.yaml || true

step "6. check: the same Job with its image swapped after signing"
sed 's#tools/rotate@sha256:0b6f#tools/evil@sha256:0b6f#' signed.yaml | "$execgov" check -f - --policy policy.yaml || true

step "7. check: the Job without its authorization"
"$execgov" check -f job.yaml --policy policy.yaml || true

step "8. check: the signed Job for another cluster's audience"
"$execgov" sign --key ops.key --kid ops-2026-11 --issuer ops-authority --subject agent:rotator \
  --audience cluster-b -f job.yaml | "$execgov" check -f - --policy policy.yaml || true

printf '\nDone. The same decision runs in the admission webhook (execgov serve / execgov webhook).\n'
