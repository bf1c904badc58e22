#!/usr/bin/env bash
# The execution-scope digest against the real API server (issue 18): for every
# manifest of tests/e2e/testdata/scope-corpus/, the digest `execgov digest`
# computes from the manifest as written must equal the digest of
#   - the object the real kube-apiserver stores after defaulting and admission
#     (Pods: also the ServiceAccount plugin's token volume; a Pod whose manifest
#     writes spec.ephemeralContainers is created without them and they are added
#     through the pods/ephemeralcontainers subresource, as kubectl debug does);
#   - for a Job, the Pod the real Job controller makes from it;
#   - for an ExecutionRequest (signed for a policy the operator trusts), the Job
#     `execgov operator` makes from it, and that Job's Pod.
# A mismatch prints the manifest, the two digests and a diff of their
# `execgov digest --explain` projections, and the run goes on; the test fails
# at the end listing every mismatch, after a summary table.
#
# A manifest whose header has a line "# expect: rejected <why>" must be refused
# by the API server (a volume type it no longer accepts); it is listed, not
# compared. Any other refusal is a failure.
#
# Pods and Jobs go to a namespace not labelled governed, so no webhook is
# involved. The operator acts only in governed namespaces, so ExecutionRequests
# go to a second namespace labelled governed; no webhook is registered for it
# (cluster_lib.sh's webhooks are scoped to their own runs' namespaces by name).
# Usage: scope_corpus_test.sh PATH-TO-EXECGOV [MANIFEST...] (default: the corpus)
set -euo pipefail

source "$(dirname "$0")/cluster_lib.sh"
execgov_binary=$1
shift
manifests=()
for m in "$@"; do manifests+=("$(realpath "$m")"); done  # cluster_init changes directory
[ ${#manifests[@]} -gt 0 ] || manifests=("$repo"/tests/e2e/testdata/scope-corpus/*.yaml)
cluster_init "$execgov_binary" scope
ns=$CLUSTER_ID
er_ns=$CLUSTER_ID-er
runtime_class=corpus-sandboxed

cluster_apply_crds
cluster_setup_identities
cluster_make_keys
cluster_namespace "$ns"
cluster_namespace "$er_ns" governed
for n in "$ns" "$er_ns"; do kubectl create serviceaccount corpus-sa -n "$n" >/dev/null; done
# The RuntimeClass admission plugin refuses a Pod naming a RuntimeClass that
# does not exist. Cluster-wide, and named by the corpus: removed at exit.
kubectl apply -f - >/dev/null <<YAML || fail "cannot create RuntimeClass $runtime_class"
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: $runtime_class}
handler: runsc
YAML
cluster_on_cleanup "kubectl delete runtimeclass $runtime_class --ignore-not-found >/dev/null 2>&1"
cluster_policy "$CLUSTER_ID" "$er_ns" >policy.yaml
cluster_apply_policy policy.yaml
start_operator
policy_ready() {
  [ "$(kubectl get epol "$CLUSTER_ID" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
poll 60 policy_ready || fail "policy not Ready: $(kubectl get epol "$CLUSTER_ID" -o jsonpath='{.status}')"

MISMATCHES=()
ROWS=()

digest_of() { "$EXECGOV" digest -f "$1" | head -n 1; }
# The projection `execgov digest --explain` prints (its second line), one
# member per line so that diff names the field.
explain_of() { "$EXECGOV" digest --explain -f "$1" | sed -n 2p | python3 -m json.tool --sort-keys; }

# compare NAME WHAT MANIFEST OBJECT-JSON: the manifest's digest against the
# object's; on a mismatch prints both projections' diff and records it.
compare() {
  local name=$1 what=$2 manifest=$3 object=$4 want got
  want=$(digest_of "$manifest") || { MISMATCHES+=("$name: execgov digest failed on the manifest"); return 1; }
  got=$(digest_of "$object") || { MISMATCHES+=("$name: execgov digest failed on the stored $what"); return 1; }
  if [ "$want" = "$got" ]; then
    echo "  $what: $got"
    return 0
  fi
  echo "MISMATCH $name: manifest $want, stored $what $got"
  echo "  diff of execgov digest --explain (--- manifest, +++ stored $what):"
  diff -u --label "manifest $name" --label "stored $what" <(explain_of "$manifest") <(explain_of "$object") |
    sed 's/^/    /' || true
  MISMATCHES+=("$name: $what ($want != $got)")
  return 1
}

# first_named SECONDS KIND NAMESPACE SELECTOR FILE: waits for an object and
# writes the first one's JSON to FILE.
first_named() {
  local seconds=$1 kind=$2 namespace=$3 selector=$4 file=$5
  found() { [ -n "$(kubectl get "$kind" -n "$namespace" -l "$selector" -o name)" ]; }
  poll "$seconds" found || return 1
  kubectl get "$kind" -n "$namespace" -l "$selector" -o json | python3 -c 'import json,sys; json.dump(json.load(sys.stdin)["items"][0], sys.stdout)' >"$file"
}

# The Pod's ephemeral containers cannot be written on create: create it without
# them, then replace the subresource with them added.
create_with_ephemeral() {
  local manifest=$1 name=$2
  python3 - "$manifest" >create.json <<'PY'
import json, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
doc["spec"].pop("ephemeralContainers")
json.dump(doc, sys.stdout)
PY
  kubectl create -n "$ns" -f create.json >/dev/null || return 1
  kubectl get pod "$name" -n "$ns" -o json >live.json
  # The manifest's containers as kubectl would send them (sigs.k8s.io/yaml,
  # YAML 1.1: the same reading execgov uses), put into the live object.
  kubectl create --dry-run=client -f "$manifest" -o json >sent.json
  python3 - >ephemeral.json <<'PY'
import json, sys
live, sent = json.load(open("live.json")), json.load(open("sent.json"))
live["spec"]["ephemeralContainers"] = sent["spec"]["ephemeralContainers"]
json.dump(live, sys.stdout)
PY
  kubectl replace --raw "/api/v1/namespaces/$ns/pods/$name/ephemeralcontainers" -f ephemeral.json >/dev/null
}

# check_manifest FILE: compares every object made from it; prints the summary row.
check_manifest() {
  local manifest=$1 base kind name uid before=${#MISMATCHES[@]} kinds digest
  base=$(basename "$manifest" .yaml)
  read -r kind name < <(python3 -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); print(d["kind"], d["metadata"]["name"])' "$manifest")
  digest=$(digest_of "$manifest") || digest="(execgov digest failed)"
  echo "== $base ($kind $name) $digest"
  if grep -q '^# expect: rejected' "$manifest"; then
    if kubectl create -n "$ns" -f "$manifest" >/dev/null 2>err.txt; then
      MISMATCHES+=("$base: expected the API server to refuse it, but it was created")
      ROWS+=("$base|(accepted!)|$digest")
    else
      echo "  refused as expected: $(head -c 300 err.txt)"
      ROWS+=("$base|refused by kube-apiserver|$digest")
    fi
    return 0
  fi
  case $kind in
  Pod)
    kinds=Pod
    if python3 -c 'import sys, yaml; sys.exit(0 if "ephemeralContainers" in yaml.safe_load(open(sys.argv[1]))["spec"] else 1)' "$manifest"; then
      kinds="Pod+ephemeralcontainers"
      create_with_ephemeral "$manifest" "$name" 2>err.txt || {
        MISMATCHES+=("$base: refused: $(head -c 300 err.txt)"); ROWS+=("$base|refused: see above|$digest"); cat err.txt; return 0; }
    else
      kubectl create -n "$ns" -f "$manifest" >/dev/null 2>err.txt || {
        MISMATCHES+=("$base: refused: $(head -c 300 err.txt)"); ROWS+=("$base|refused: see above|$digest"); cat err.txt; return 0; }
    fi
    kubectl get pod "$name" -n "$ns" -o json >stored.json
    compare "$base" Pod "$manifest" stored.json || true
    ;;
  Job)
    kinds="Job, Pod"
    kubectl create -n "$ns" -f "$manifest" >/dev/null 2>err.txt || {
      MISMATCHES+=("$base: refused: $(head -c 300 err.txt)"); ROWS+=("$base|refused: see above|$digest"); cat err.txt; return 0; }
    kubectl get job "$name" -n "$ns" -o json >stored.json
    compare "$base" Job "$manifest" stored.json || true
    uid=$(kubectl get job "$name" -n "$ns" -o jsonpath='{.metadata.uid}')
    if first_named 60 pod "$ns" "batch.kubernetes.io/controller-uid=$uid" pod.json; then
      compare "$base" "Pod (Job controller)" "$manifest" pod.json || true
    else
      MISMATCHES+=("$base: the Job controller made no Pod in 60s")
    fi
    ;;
  ExecutionRequest)
    kinds="ExecutionRequest, Job, Pod"
    sign -n "$er_ns" -f "$manifest" >signed.yaml || { MISMATCHES+=("$base: execgov sign failed"); return 0; }
    kubectl create -f signed.yaml >/dev/null 2>err.txt || {
      MISMATCHES+=("$base: refused: $(head -c 300 err.txt)"); ROWS+=("$base|refused: see above|$digest"); cat err.txt; return 0; }
    kubectl get executionrequest "$name" -n "$er_ns" -o json >stored.json
    compare "$base" ExecutionRequest "$manifest" stored.json || true
    uid=$(kubectl get executionrequest "$name" -n "$er_ns" -o jsonpath='{.metadata.uid}')
    job_or_verdict() {
      [ -n "$(kubectl get jobs -n "$er_ns" -l "execgov.io/request-uid=$uid" -o name)" ] ||
        [[ $(kubectl get executionrequest "$name" -n "$er_ns" -o jsonpath='{.status.phase}') =~ ^(Denied|Revoked|Failed)$ ]]
    }
    poll 60 job_or_verdict || true
    if first_named 1 job "$er_ns" "execgov.io/request-uid=$uid" job.json; then
      compare "$base" "Job (operator)" "$manifest" job.json || true
      local job_uid
      job_uid=$(python3 -c 'import json; print(json.load(open("job.json"))["metadata"]["uid"])')
      if first_named 60 pod "$er_ns" "batch.kubernetes.io/controller-uid=$job_uid" pod.json; then
        compare "$base" "Pod (Job controller)" "$manifest" pod.json || true
      else
        MISMATCHES+=("$base: the Job controller made no Pod in 60s")
      fi
    else
      local status
      status=$(kubectl get executionrequest "$name" -n "$er_ns" -o jsonpath='{.status.phase}: {.status.conditions[*].reason}: {.status.conditions[*].message}')
      echo "  the operator made no Job: $status"
      MISMATCHES+=("$base: the operator made no Job ($status)")
    fi
    ;;
  *) MISMATCHES+=("$base: kind $kind is not in the corpus' scope"); return 0 ;;
  esac
  if [ ${#MISMATCHES[@]} -eq "$before" ]; then ROWS+=("$base|$kinds|$digest"); else ROWS+=("$base|$kinds: MISMATCH|$digest"); fi
}

for m in "${manifests[@]}"; do check_manifest "$m"; done

echo
echo "Summary: ${#manifests[@]} manifests"
printf '%-28s %-44s %s\n' manifest "kinds compared" "digest (of the manifest)"
for r in "${ROWS[@]}"; do
  IFS='|' read -r a b c <<<"$r"
  printf '%-28s %-44s %s\n' "$a" "$b" "$c"
done
if [ ${#MISMATCHES[@]} -gt 0 ]; then
  echo
  echo "${#MISMATCHES[@]} mismatches:"
  printf '  %s\n' "${MISMATCHES[@]}"
  fail "the digest of ${#MISMATCHES[@]} objects differs from their manifests' (see the diffs above)"
fi
echo "PASS: every manifest's digest equals the stored objects'"
