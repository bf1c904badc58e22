#!/usr/bin/env bash
# Authorization inside the cluster (issue 20) against the real control plane,
# with `execgov webhook` and `execgov operator` as their own service accounts:
#
#   authority_test.sh pending EXECGOV
#     - a policy with spec.authorization.allowPendingRequests and an
#       initiatorMapping (the agent's ServiceAccount may name agent:e2e);
#     - the agent (kubectl --as its ServiceAccount) creates an
#       ExecutionRequest without an artifact: admitted, phase
#       AwaitingAuthorization, no Job; naming another initiator, or asking as
#       a user the policy does not map, is denied IdentityMismatch;
#     - the waiting request's spec cannot change (ScopeMismatch); an artifact
#       for another subject is refused (IdentityMismatch); the right one,
#       attached with `kubectl annotate`, is admitted and the operator makes
#       exactly one Job; the same artifact on a second request is a replay,
#       and an attached artifact cannot be swapped;
#     - without the opt-in a request without an artifact is denied
#       (MissingArtifact), as before;
#     - the ledger tells the story of the request (`ledger show --object`)
#       and verifies.
set -euo pipefail

case_name=$1
source "$(dirname "$0")/cluster_lib.sh"
cluster_init "$2" "auth-${case_name:0:5}"
execgov=$EXECGOV
ns=$CLUSTER_ID
lease=execgov-operator-$CLUSTER_ID
cluster_on_cleanup 'kubectl delete lease -n "$CLUSTER_SYSTEM_NS" "$lease" --ignore-not-found >/dev/null 2>&1'

cluster_apply_crds
cluster_setup_identities
cluster_make_keys
cluster_namespace "$ns" governed
agent=system:serviceaccount:$ns:agent

# The policy of cluster_lib.sh, opted in, with the agent's ServiceAccount
# mapped to the initiator agent:e2e (the subject the authority signs for).
policy_with_authorization() {
  cluster_policy "$CLUSTER_ID" "$ns"
  [ "$1" = on ] || return 0
  cat <<YAML
  authorization:
    allowPendingRequests: true
    initiatorMappings:
    - {user: "$agent", initiators: [agent:e2e]}
YAML
}
policy_with_authorization on >policy.yaml
cluster_apply_policy policy.yaml
start_webhooks 1
wait_webhooks_ready 60
register_webhook 0
wait_webhook_active "$ns"
start_operator

# The agent: a ServiceAccount allowed to create and read ExecutionRequests.
kubectl create serviceaccount agent -n "$ns" >/dev/null
kubectl create role agent -n "$ns" --verb=create,get,list,watch,patch,update --resource=executionrequests.execgov.io >/dev/null
kubectl create rolebinding agent -n "$ns" --role=agent --serviceaccount="$ns:agent" >/dev/null
as_agent() { kubectl --as="$agent" "$@"; }

# request_yaml NAME [INITIATOR]
request_yaml() {
  cat <<YAML
apiVersion: execgov.io/v1alpha1
kind: ExecutionRequest
metadata: {name: $1, namespace: $ns}
spec:
  initiator: ${2:-agent:e2e}
  intent: rotate the payments keys
  template:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: run, image: registry.example.com/tools/rotate:1, command: ["/rotate"]}
YAML
}

field() { kubectl get executionrequest "$1" -n "$ns" -o jsonpath="$2"; }
phase_is() { [ "$(field "$1" '{.status.phase}')" = "$2" ]; }
wait_phase() {  # wait_phase NAME PHASE SECONDS
  poll "$3" phase_is "$1" "$2" ||
    fail "request $1 is '$(field "$1" '{.status.phase}')', not $2, after $3s: $(field "$1" '{.status}')"
}
jobs_in_ns() { kubectl get jobs -n "$ns" -o name | wc -l; }
# expect_denied REASON CMD...: CMD fails with "execgov: REASON".
expect_denied() {
  local reason=$1 out
  shift
  if out=$("$@" 2>&1); then fail "admitted, expected $reason: $*"; fi
  grep -q "execgov: $reason" <<<"$out" || fail "expected $reason from '$*', got: $out"
}

case_pending() {
  # --- the request without an artifact
  request_yaml rotate >rotate.yaml
  as_agent create -f rotate.yaml >/dev/null || fail "the agent's request without an artifact was not admitted"
  wait_phase rotate AwaitingAuthorization 60
  [ "$(field rotate '{.status.conditions[?(@.type=="Authorized")].status}')" = Unknown ] ||
    fail "condition Authorized is not Unknown: $(field rotate '{.status.conditions}')"
  request_yaml other agent:someone-else >other.yaml
  expect_denied IdentityMismatch as_agent create -f other.yaml
  request_yaml unmapped >unmapped.yaml
  expect_denied IdentityMismatch kubectl create -f unmapped.yaml  # the admin is not mapped to agent:e2e

  # --- a waiting request keeps its spec
  expect_denied ScopeMismatch as_agent patch executionrequest rotate -n "$ns" --type=merge \
    -p '{"spec":{"intent":"something else"}}'
  expect_denied ScopeMismatch as_agent patch executionrequest rotate -n "$ns" --type=merge \
    -p '{"spec":{"initiator":"agent:e2e-admin"}}'
  as_agent label executionrequest rotate -n "$ns" team=payments >/dev/null || fail "a label was refused"

  # --- attaching the artifact
  [ "$(jobs_in_ns)" = 0 ] || fail "a Job exists for a request awaiting authorization"
  local wrong right
  wrong=$("$execgov" sign --key "$AUTHORITY_KEY" --kid "$AUTHORITY_KID" --issuer e2e-authority --subject agent:other \
    --audience e2e-cluster --ttl 10m --artifact-only -f rotate.yaml) || fail "cannot sign"
  expect_denied IdentityMismatch kubectl annotate executionrequest rotate -n "$ns" "execgov.io/authorization=$wrong"
  right=$(sign --artifact-only -f rotate.yaml) || fail "cannot sign"
  kubectl annotate executionrequest rotate -n "$ns" "execgov.io/authorization=$right" >/dev/null ||
    fail "the artifact for the request was not admitted"
  wait_phase rotate Running 60
  [ "$(kubectl get jobs -n "$ns" -l "execgov.io/request-uid=$(field rotate '{.metadata.uid}')" -o name | wc -l)" = 1 ] ||
    fail "not exactly one Job for the authorized request"
  expect_denied ScopeMismatch kubectl annotate --overwrite executionrequest rotate -n "$ns" \
    "execgov.io/authorization=$(sign --artifact-only -f rotate.yaml)"

  # --- the same artifact on another waiting request is a replay
  request_yaml again >again.yaml
  as_agent create -f again.yaml >/dev/null || fail "the second request was not admitted"
  wait_phase again AwaitingAuthorization 60
  expect_denied ReplayDetected kubectl annotate executionrequest again -n "$ns" "execgov.io/authorization=$right"

  # --- without the opt-in: denied as before
  policy_with_authorization off >policy-off.yaml
  kubectl apply -f policy-off.yaml >/dev/null || fail "cannot update the policy"
  request_yaml after >after.yaml
  refused_missing() { ! as_agent create -f after.yaml --dry-run=server >out.txt 2>&1 && grep -q 'execgov: MissingArtifact' out.txt; }
  poll 30 refused_missing || fail "without the opt-in a request without an artifact was not denied: $(cat out.txt)"

  # --- the ledger: the request, the attachment, the operator's steps
  local uid story
  uid=$(field rotate '{.metadata.uid}')
  story=$("$execgov" ledger show --ledger "$LEDGER_URL" -o json --object "$uid")
  echo "$story" | python3 -c '
import json, sys
records = [json.loads(l) for l in sys.stdin if l.strip()]
admissions = [(r["object"]["operation"], r["decision"], r.get("authorization")) for r in records if r["type"] == "admission"]
steps = [r["phase"] for r in records if r["type"] == "execution"]
want_admissions = [("CREATE", "allowed", "awaiting"), ("UPDATE", "denied", None), ("UPDATE", "denied", "attach"),
                   ("UPDATE", "allowed", "attach")]
for want in want_admissions:
    assert want in admissions, (want, admissions)
attached = [r for r in records if r.get("authorization") == "attach" and r["decision"] == "allowed"][0]
assert attached["initiator"] == "agent:e2e" and attached["artifact"]["sub"] == "agent:e2e", attached
assert attached["replay"]["op"] == "consume", attached
assert steps[:3] == ["AwaitingAuthorization", "Authorized", "Running"], steps
print("ledger: %d admission records, steps %s" % (len(admissions), steps))
' || fail "the ledger does not tell the request's story: $story"
  "$execgov" ledger verify --ledger "$LEDGER_URL" --checkpoint-key "$LEDGER_PUB" >/dev/null || fail "ledger verify failed"
  kubectl get ereq -n "$ns"
}

"case_${case_name//-/_}"
echo "PASS: authority $case_name"
