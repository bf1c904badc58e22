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
#   authority_test.sh auto EXECGOV
#     `execgov authority` as its own ServiceAccount with an AuthorityPolicy
#     (Ready, its rules counted in `kubectl get apol`):
#     - an AutoApprove rule: the request gets an artifact for its initiator
#       (the rule's ttl, scope the request's digest) and runs to one Job;
#     - an AutoDeny rule: Denied, the rule named, no Job;
#     - a rule that needs approvals nobody gives: Expired after its timeout,
#       no Job;
#     - the authority stopped and started again: a request made meanwhile is
#       granted, and no request has more than one grant in the ledger;
#     - the authority killed (SIGKILL) after writing a grant record but before
#       the attach (a webhook refusing the request's UPDATEs holds it back):
#       restarted, it attaches that grant (the same jti), one grant record,
#       one jti consumed, one Job;
#     - a signing key readable by others is refused at start.
#   authority_test.sh approvals EXECGOV
#     Human approval: a rule needing two approvals from named groups.
#     - the request waits, `kubectl get ereq` saying for whom ("2 approvals
#       from ... (0 given)");
#     - refused by the webhook (ApprovalRefused): the initiator approving
#       (kubectl --as the initiator), a user outside the groups, an approval
#       naming another approver, a changed approval (UPDATE);
#     - one approver approving twice counts once; the second approver's
#       `kubectl execgov approve` (the kubectl-execgov link, as a
#       ServiceAccount found by SelfSubjectReview) grants: one Job;
#     - `execgov deny --reason` makes another request Denied naming who and
#       why, and no Job; an artifact attached to it afterwards is refused
#       (the webhook reads the old phase) and its jti stays unspent;
#     - the ledger tells both stories (`ledger show --object`).
#   authority_test.sh pkcs11 EXECGOV
#     The authority's key generated inside a SoftHSM2 token (a token in the
#     test's directory, SOFTHSM2_CONF): the policy trusts the token's public
#     key (`execgov keygen --pkcs11`), no authority key file exists, the
#     authority started with --key pkcs11:... grants an AutoApprove request
#     that the webhook admits and that runs to one Job, and no file it could
#     reach holds the key.
#   authority_test.sh https EXECGOV
#     The authority's HTTPS endpoint (--authorize-listen, TLS 1.2+): the
#     agent's ServiceAccount token (TokenReview) and a Job manifest get 201
#     with the artifact and the annotated manifest, which the webhook admits;
#     an AutoDeny rule's image 403 naming the rule; no token, a bad one or
#     one for another audience (--authorize-audience) 401; an oversized body
#     413, JSON nested too deep 400, TLS 1.1 no handshake. A rule needing
#     approvals: 202 and a relayed ExecutionRequest (spec.relay, made by the
#     authority as a relayUser for the caller) to poll: 202 while it waits,
#     404 to another caller, 401 without a token; once an approver approves
#     it, 201 with the artifact for the Job, which the webhook admits, the
#     request Granted and no Job made from it; another one denied by an
#     approver 403 naming who and the rule. The ledger holds the grants and
#     the denial, with who asked.
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
if [ "$case_name" = pkcs11 ]; then
  # The authority's key is made inside a SoftHSM2 token and never exists as a
  # file: the file key cluster_make_keys made is removed, and the policy trusts
  # only the token's key. `sign` signs through the token too.
  export SOFTHSM2_CONF=$CLUSTER_WORK/hsm/softhsm2.conf
  mkdir -p "$CLUSTER_WORK/hsm/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$CLUSTER_WORK/hsm/tokens" \
    >"$SOFTHSM2_CONF"
  softhsm2-util --init-token --free --label execgov --pin 4711 --so-pin 8642 >/dev/null || fail "cannot make a token"
  hsm_module=/usr/lib/softhsm/libsofthsm2.so
  pkcs11-tool --module "$hsm_module" --login --pin 4711 --keypairgen --key-type EC:edwards25519 --label authority \
    --id 01 --usage-sign >/dev/null 2>&1 || fail "cannot generate a key on the token"
  (umask 077 && echo 4711 >"$CLUSTER_WORK/hsm/pin")
  rm -f "$AUTHORITY_KEY"
  AUTHORITY_KEY="pkcs11:token=execgov;object=authority?module-path=$hsm_module&pin-source=file:$CLUSTER_WORK/hsm/pin"
  "$execgov" keygen --kid "$AUTHORITY_KID" --pkcs11 "$AUTHORITY_KEY" >"$KEY_ENTRY" || fail "keygen --pkcs11 failed"
fi
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

# request_yaml NAME [INITIATOR [IMAGE]]
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
          - {name: run, image: ${3:-registry.example.com/tools/rotate:1}, command: ["/rotate"]}
YAML
}

field() { kubectl get executionrequest "$1" -n "$ns" -o jsonpath="$2"; }
# approval_yaml REQUEST APPROVER DECISION [REASON]: as `execgov approve` makes it.
approval_yaml() {
  cat <<YAML
apiVersion: execgov.io/v1alpha1
kind: ExecutionApproval
metadata: {generateName: $1-, namespace: $ns}
spec:
  requestName: $1
  requestUID: $(field "$1" '{.metadata.uid}')
  requestDigest: $(kubectl get executionrequest "$1" -n "$ns" -o json | "$execgov" digest -f -)
  decision: $3
  approver: "$2"
  reason: "${4:-}"
YAML
}
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

case_auto() {
  kubectl wait --for condition=established --timeout=60s crd/authoritypolicies.execgov.io >/dev/null ||
    fail "the AuthorityPolicy CRD is not Established"
  local authority_kubeconfig=$CLUSTER_WORK/authority.kubeconfig
  cluster_kubeconfig execgov-authority "$authority_kubeconfig"
  cat >apol.yaml <<YAML
apiVersion: execgov.io/v1alpha1
kind: AuthorityPolicy
metadata: {name: $CLUSTER_ID}
spec:
  rules:
  - name: deny-danger
    match: {namespaces: [$ns], images: ["registry.example.com/danger/*"]}
    action: AutoDeny
  - name: needs-approval
    match: {namespaces: [$ns], images: ["registry.example.com/slow/*"]}
    action: RequireApprovals
    approvals: {count: 2, groups: [ops]}
    timeout: 6s
  - name: auto
    match: {namespaces: [$ns], initiators: ["agent:*"], images: ["registry.example.com/tools/*"]}
    action: AutoApprove
    ttl: 5m
    rateLimit: {count: 10, per: 1h}
YAML
  kubectl apply -f apol.yaml >/dev/null || fail "cannot apply the AuthorityPolicy"
  cluster_on_cleanup "kubectl delete authoritypolicy $CLUSTER_ID --ignore-not-found >/dev/null 2>&1"

  # A key others may read is refused before anything starts.
  cp "$AUTHORITY_KEY" open.key
  chmod 0644 open.key
  if "$execgov" authority --kubeconfig "$authority_kubeconfig" --key open.key --kid "$AUTHORITY_KID" \
    --issuer e2e-authority --audience e2e-cluster >open.out 2>&1; then
    fail "the authority started with a key readable by others"
  fi
  grep -q "readable by others" open.out || fail "the open key's refusal does not say why: $(cat open.out)"

  local authority_pid="" n=0
  start_authority() {
    local ops
    ops=$(free_port)
    "$execgov" authority --kubeconfig "$authority_kubeconfig" --namespace "$CLUSTER_SYSTEM_NS" \
      --ledger "$LEDGER_URL" --ledger-key "$LEDGER_KEY" --key "$AUTHORITY_KEY" --kid "$AUTHORITY_KID" \
      --issuer e2e-authority --audience e2e-cluster --metrics-listen "127.0.0.1:$ops" \
      --lease-name "execgov-authority-$CLUSTER_ID" --lease-duration 5 --identity "authority-$n-$CLUSTER_ID" \
      --watch-namespaces "$ns" >"$CLUSTER_WORK/authority-$n.log" 2>&1 &
    authority_pid=$!
    n=$((n + 1))
    cluster_on_cleanup "stop_pid $authority_pid"
  }
  start_authority
  apol_ready() { [ "$(kubectl get apol "$CLUSTER_ID" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
  poll 60 apol_ready || fail "the AuthorityPolicy is not Ready: $(kubectl get apol "$CLUSTER_ID" -o jsonpath='{.status}')"
  kubectl get apol "$CLUSTER_ID"
  [ "$(kubectl get apol "$CLUSTER_ID" -o jsonpath='{.status.rules}')" = 3 ] || fail "kubectl get apol does not count 3 rules"

  # --- auto-approved: runs
  request_yaml auto >auto.yaml
  as_agent create -f auto.yaml >/dev/null || fail "the request was not admitted"
  wait_phase auto Running 60
  local uid jobs token
  uid=$(field auto '{.metadata.uid}')
  jobs=$(kubectl get jobs -n "$ns" -l "execgov.io/request-uid=$uid" -o name | wc -l)
  [ "$jobs" = 1 ] || fail "$jobs Jobs for the auto-approved request"
  token=$(field auto '{.metadata.annotations.execgov\.io/authorization}')
  "$execgov" inspect "$token" >inspect.txt || fail "cannot inspect the grant"
  grep -q '"sub": "agent:e2e"' inspect.txt || fail "the grant's sub is not the initiator: $(cat inspect.txt)"
  grep -q '"name": "auto"' inspect.txt || fail "the grant is not scoped to the request's name: $(cat inspect.txt)"
  grep -q '"intent": "rotate the payments keys"' inspect.txt || fail "the grant does not carry the intent: $(cat inspect.txt)"
  [ "$(field auto '{.status.authorization.rule}')" = "$CLUSTER_ID/auto" ] ||
    fail "the request does not name the rule that granted it: $(field auto '{.status}')"

  # --- auto-denied: Denied, the rule named, no Job
  request_yaml danger agent:e2e registry.example.com/danger/rm:1 >danger.yaml
  as_agent create -f danger.yaml >/dev/null || fail "the request was not admitted"
  wait_phase danger Denied 60
  field danger '{.status.conditions[?(@.type=="Authorized")].message}' | grep -q "$CLUSTER_ID/deny-danger" ||
    fail "the denial does not name the rule: $(field danger '{.status.conditions}')"

  # --- approvals never come: Expired after the rule's 6 s timeout, no Job;
  # meanwhile `kubectl get ereq` shows what it waits for
  request_yaml slow agent:e2e registry.example.com/slow/batch:1 >slow.yaml
  as_agent create -f slow.yaml >/dev/null || fail "the request was not admitted"
  wait_phase slow Expired 60
  [ "$(field slow '{.status.authorization.waitingFor}')" = "2 approvals from ops (0 given)" ] ||
    fail "the expired request does not say what it waited for: $(field slow '{.status.authorization}')"
  [ "$(field slow '{.status.authorization.rule}')" = "$CLUSTER_ID/needs-approval" ] ||
    fail "the expired request does not name its rule: $(field slow '{.status.authorization}')"
  # An artifact attached after all (by hand) is refused: the request ended.
  expect_denied ScopeMismatch kubectl annotate executionrequest slow -n "$ns" \
    "execgov.io/authorization=$(sign --artifact-only -f slow.yaml)"

  # --- a restart: a request made while the authority is down is granted once
  stop_pid "$authority_pid"
  request_yaml later >later.yaml
  as_agent create -f later.yaml >/dev/null || fail "the request was not admitted"
  wait_phase later AwaitingAuthorization 60
  start_authority
  wait_phase later Running 60
  phase_is slow Expired || fail "the expired request left Expired: $(field slow '{.status}')"
  for r in danger slow; do
    [ "$(kubectl get jobs -n "$ns" -l "execgov.io/request-uid=$(field $r '{.metadata.uid}')" -o name | wc -l)" = 0 ] ||
      fail "a Job exists for the $r request"
  done

  # --- killed (SIGKILL) after the grant record, before the attach: the
  # restarted authority signs that recorded grant again (the same jti), never a
  # second one. A webhook refusing the request's UPDATEs holds the attach back
  # until the authority is dead.
  stop_pid "$authority_pid"
  mkdir -p hold
  deny_webhook_start "$PWD/hold" "e2e: the attach is held"
  request_yaml held | sed 's/^metadata: {name: held, /metadata: {name: held, labels: {e2e-hold: "true"}, /' >held.yaml
  as_agent create -f held.yaml >/dev/null || fail "the request was not admitted"
  deny_webhook_apply "e2e-hold-$CLUSTER_ID" "  namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: $ns}}
  objectSelector: {matchLabels: {e2e-hold: \"true\"}}" \
    '{apiGroups: [execgov.io], apiVersions: ["*"], operations: [UPDATE], resources: [executionrequests]}'
  cluster_on_cleanup "kubectl delete validatingwebhookconfiguration e2e-hold-$CLUSTER_ID --ignore-not-found >/dev/null 2>&1"
  # Until the API server calls it (a label change the execgov webhook allows).
  held_by_hook() { ! kubectl label executionrequest held -n "$ns" "e2e-probe=$RANDOM" --overwrite >/dev/null 2>&1; }
  poll 30 held_by_hook || fail "the hold webhook is not called"
  start_authority
  held_grants() {
    "$execgov" ledger show --ledger "$LEDGER_URL" --type grant -o json |
      python3 -c 'import json, sys; print(sum(json.loads(l)["object"]["name"] == "held" for l in sys.stdin if l.strip()))'
  }
  poll 60 grep -q "UPDATE ExecutionRequest $ns/held by system:serviceaccount:.*:execgov-authority" hold/webhook.log ||
    fail "the authority did not try to attach: $(cat hold/webhook.log)"
  [ "$(held_grants)" = 1 ] || fail "the attach was tried without one grant record ($(held_grants))"
  kill -9 "$authority_pid"
  kubectl delete validatingwebhookconfiguration "e2e-hold-$CLUSTER_ID" >/dev/null
  [ -z "$(field held '{.metadata.annotations.execgov\.io/authorization}')" ] || fail "the held request got its artifact"
  start_authority
  wait_phase held Running 60
  local held_jti
  held_jti=$("$execgov" ledger show --ledger "$LEDGER_URL" --type grant -o json |
    python3 -c 'import json, sys; print([r for r in map(json.loads, filter(str.strip, sys.stdin)) if r["object"]["name"] == "held"][0]["jti"])')
  "$execgov" inspect "$(field held '{.metadata.annotations.execgov\.io/authorization}')" | grep -q "\"jti\": \"$held_jti\"" ||
    fail "the held request's artifact is not the recorded grant $held_jti"
  [ "$(kubectl get jobs -n "$ns" -l "execgov.io/request-uid=$(field held '{.metadata.uid}')" -o name | wc -l)" = 1 ] ||
    fail "not exactly one Job for the held request"

  # --- the ledger: one grant per granted request, the refusals with their rules
  "$execgov" ledger show --ledger "$LEDGER_URL" -o json >ledger.json
  python3 - ledger.json "$CLUSTER_ID" <<'PY' || fail "the ledger's grants and refusals are wrong"
import collections, json, sys
records = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
policy = sys.argv[2]
grants = collections.Counter(r["object"]["name"] for r in records if r["type"] == "grant")
assert grants == {"auto": 1, "later": 1, "held": 1}, grants
for g in (r for r in records if r["type"] == "grant"):
    assert g["rule"] == {"policy": policy, "name": "auto", "generation": 1}, g
    assert g["claims"]["sub"] == "agent:e2e" and g["claims"]["exp"] - g["claims"]["iat"] == 300, g
    assert g["jti"] == g["claims"]["jti"] and g["kid"], g
denials = {r["object"]["name"]: (r["reason"], r.get("rule")) for r in records if r["type"] == "denial"}
assert denials == {"danger": ("Denied", policy + "/deny-danger"), "slow": ("Expired", policy + "/needs-approval")}, denials
consumed = [r for r in records if r["type"] == "admission" and r.get("authorization") == "attach" and r["decision"] == "allowed"]
# held: each attach the hold webhook refused after execgov admitted it is an
# allowed record too (the object was never stored), all of the one recorded jti.
assert sorted(r["object"]["name"] for r in consumed if r["object"]["name"] != "held") == ["auto", "later"], consumed
held = {r["artifact"]["jti"] for r in consumed if r["object"]["name"] == "held"}
assert held == {g["jti"] for g in records if g["type"] == "grant" and g["object"]["name"] == "held"}, held
print("ledger: grants %s, refusals %s" % (dict(grants), denials))
PY
  "$execgov" ledger verify --ledger "$LEDGER_URL" --checkpoint-key "$LEDGER_PUB" >/dev/null || fail "ledger verify failed"
  kubectl get ereq -n "$ns"
}

# authority_identity: the CRD ready, and a kubeconfig of the authority's own
# service account (AUTHORITY_KUBECONFIG).
authority_identity() {
  kubectl wait --for condition=established --timeout=60s crd/authoritypolicies.execgov.io >/dev/null ||
    fail "the AuthorityPolicy CRD is not Established"
  AUTHORITY_KUBECONFIG=$CLUSTER_WORK/authority.kubeconfig
  cluster_kubeconfig execgov-authority "$AUTHORITY_KUBECONFIG"
}

# apply_authority_policy FILE: applied now, deleted at cleanup.
apply_authority_policy() {
  kubectl apply -f "$1" >/dev/null || fail "cannot apply the AuthorityPolicy"
  cluster_on_cleanup "kubectl delete authoritypolicy $CLUSTER_ID --ignore-not-found >/dev/null 2>&1"
}

# run_authority KUBECONFIG [FLAGS...]: one authority in the background with
# the test's key (AUTHORITY_PID; log authority.log), stopped at cleanup.
run_authority() {
  local kubeconfig=$1 ops
  shift
  ops=$(free_port)
  "$execgov" authority --kubeconfig "$kubeconfig" --namespace "$CLUSTER_SYSTEM_NS" \
    --ledger "$LEDGER_URL" --ledger-key "$LEDGER_KEY" --key "$AUTHORITY_KEY" --kid "$AUTHORITY_KID" \
    --issuer e2e-authority --audience e2e-cluster --metrics-listen "127.0.0.1:$ops" \
    --lease-name "execgov-authority-$CLUSTER_ID" --lease-duration 5 --identity "authority-$CLUSTER_ID" \
    --watch-namespaces "$ns" "$@" >"$CLUSTER_WORK/authority.log" 2>&1 &
  AUTHORITY_PID=$!
  cluster_on_cleanup "stop_pid $AUTHORITY_PID"
}

case_pkcs11() {
  authority_identity
  cat >apol.yaml <<YAML
apiVersion: execgov.io/v1alpha1
kind: AuthorityPolicy
metadata: {name: $CLUSTER_ID}
spec:
  rules:
  - name: auto
    match: {namespaces: [$ns], initiators: ["agent:*"], images: ["registry.example.com/tools/*"]}
    action: AutoApprove
    ttl: 5m
YAML
  apply_authority_policy apol.yaml
  [ ! -e "$CLUSTER_WORK/authority.key" ] || fail "an authority key file exists"

  local pid
  run_authority "$AUTHORITY_KUBECONFIG"
  pid=$AUTHORITY_PID

  request_yaml auto >auto.yaml
  as_agent create -f auto.yaml >/dev/null || fail "the request was not admitted"
  wait_phase auto Running 60
  local uid
  uid=$(field auto '{.metadata.uid}')
  [ "$(kubectl get jobs -n "$ns" -l "execgov.io/request-uid=$uid" -o name | wc -l)" = 1 ] ||
    fail "not exactly one Job for the request the token's key granted"
  "$execgov" inspect "$(field auto '{.metadata.annotations.execgov\.io/authorization}')" >inspect.txt ||
    fail "cannot inspect the grant"
  grep -q "\"kid\": \"$AUTHORITY_KID\"" inspect.txt || fail "the grant is not signed under the token's kid: $(cat inspect.txt)"
  # The webhook admitted it under a policy that trusts only the token's key;
  # no file the test or the authority could write holds an authority key (the
  # ledger's checkpoint key and the webhooks' TLS keys are the file keys, by
  # design).
  local keys
  keys=$(grep -rl "PRIVATE KEY" "$CLUSTER_WORK" --exclude-dir=tokens 2>/dev/null | grep -v -e "^$LEDGER_KEY\$" -e '/tls/[^/]*\.key$' |
    tr '\n' ' ' || true)
  [ -z "$keys" ] || fail "files holding a private key: $keys"
  kill -0 "$pid" || fail "the authority exited: $(cat "$CLUSTER_WORK/authority.log")"
}

case_https() {
  authority_identity
  # The grant's sub is the caller the API server authenticated: the policy's
  # issuer must admit the agent's ServiceAccount as a subject.
  # The authority's ServiceAccount may relay a manifest that needs approvals
  # as an ExecutionRequest naming the caller (spec.authorization.relayUsers).
  local authority_user=system:serviceaccount:$CLUSTER_SYSTEM_NS:execgov-authority
  policy_with_authorization on | sed "s|subjects: \\[\"agent:\\*\"\\]|subjects: [\"agent:*\", \"$agent\"]|" |
    sed "/allowPendingRequests: true/a\\    relayUsers: [\"$authority_user\"]" >policy-https.yaml
  grep -q "\"$agent\"" policy-https.yaml || fail "cannot add the agent as a subject"
  grep -q "relayUsers: \[\"$authority_user\"\]" policy-https.yaml || fail "cannot add the relay user"
  kubectl apply -f policy-https.yaml >/dev/null || fail "cannot update the policy"
  cat >apol.yaml <<YAML
apiVersion: execgov.io/v1alpha1
kind: AuthorityPolicy
metadata: {name: $CLUSTER_ID}
spec:
  rules:
  - name: deny-danger
    match: {namespaces: [$ns], kinds: [Job, Pod], images: ["registry.example.com/danger/*"]}
    action: AutoDeny
  - name: needs-approval
    match: {namespaces: [$ns], kinds: [Job], images: ["registry.example.com/slow/*"]}
    action: RequireApprovals
    approvals: {count: 1, groups: [ops]}
  - name: auto
    match: {namespaces: [$ns], kinds: [Job, Pod], initiators: ["$agent"], images: ["registry.example.com/tools/*"]}
    action: AutoApprove
    ttl: 5m
YAML
  apply_authority_policy apol.yaml
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -days 1 -keyout https.key -out https.crt >/dev/null 2>&1 ||
    fail "cannot make a serving certificate"

  local port pid
  port=$(free_port)
  # Callers' tokens must be for the authority's audience (TokenReview spec.audiences).
  local audience=execgov-authority-$CLUSTER_ID
  run_authority "$AUTHORITY_KUBECONFIG" --authorize-listen "127.0.0.1:$port" --tls-cert https.crt --tls-key https.key \
    --authorize-audience "$audience"
  pid=$AUTHORITY_PID

  local token
  token=$(kubectl create token agent -n "$ns" --duration 10m --audience "$audience") || fail "cannot get the agent's token"
  job_json() {  # job_json NAME IMAGE
    printf '{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"%s","namespace":"%s"},"spec":{"backoffLimit":0,"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"run","image":"%s","command":["/run"]}]}}}}' \
      "$1" "$ns" "$2"
  }
  # authorize BODY_FILE [TOKEN]: prints the HTTP status; the answer is in answer.json.
  authorize() {
    curl -sS --max-time 20 --cacert https.crt -o answer.json -D headers.txt -w '%{http_code}' -X POST \
      -H "Authorization: Bearer ${2-$token}" -H 'Content-Type: application/json' --data-binary "@$1" \
      "https://127.0.0.1:$port/v1/authorize"
  }
  job_json rotate registry.example.com/tools/rotate:1 >rotate.json
  serving() { local c; c=$(authorize rotate.json 2>/dev/null) && [ "$c" != 503 ] && [ "$c" != 000 ] && echo "$c" >first.code; }
  poll 60 serving || fail "the endpoint never answered: $(tail -n 20 "$CLUSTER_WORK/authority.log")"

  # --- auto-approved: 201 with the artifact; the webhook admits the manifest
  [ "$(cat first.code)" = 201 ] || fail "expected 201, got $(cat first.code): $(cat answer.json)"
  python3 - "$CLUSTER_ID" <<'PY' || fail "the 201 answer is wrong: $(cat answer.json)"
import json, sys
a = json.load(open("answer.json"))
assert a["rule"] == sys.argv[1] + "/auto", a["rule"]
m = a["manifest"]
assert m["metadata"]["annotations"]["execgov.io/authorization"] == a["artifact"]
assert m["spec"]["template"]["metadata"]["annotations"]["execgov.io/authorization"] == a["artifact"]
json.dump(m, open("signed.json", "w"))
PY
  "$execgov" inspect "$(python3 -c 'import json; print(json.load(open("answer.json"))["artifact"])')" >inspect.txt
  grep -q "\"sub\": \"$agent\"" inspect.txt || fail "the grant's sub is not the caller: $(cat inspect.txt)"
  kubectl create -f signed.json >/dev/null || fail "the webhook refused the granted Job"
  # The same artifact again is a replay.
  kubectl delete job rotate -n "$ns" --wait=false >/dev/null
  poll 30 bash -c "! kubectl get job rotate -n $ns >/dev/null 2>&1" || fail "the Job was not deleted"
  expect_denied ReplayDetected kubectl create -f signed.json

  # --- refused by rule: 403 naming it
  job_json danger registry.example.com/danger/rm:1 >danger.json
  local code
  code=$(authorize danger.json)
  [ "$code" = 403 ] && grep -q "$CLUSTER_ID/deny-danger" answer.json || fail "danger: $code $(cat answer.json)"
  job_json other registry.example.com/other/x:1 >other.json
  code=$(authorize other.json)
  [ "$code" = 403 ] && grep -q "no AuthorityPolicy rule applies" answer.json || fail "other: $code $(cat answer.json)"

  # --- who asks, and hostile input
  code=$(authorize rotate.json "")
  [ "$code" = 401 ] || fail "no token: $code $(cat answer.json)"
  code=$(authorize rotate.json "not.a.token")
  [ "$code" = 401 ] || fail "a bad token: $code $(cat answer.json)"
  code=$(authorize rotate.json "$(kubectl create token agent -n "$ns" --duration 10m)")
  [ "$code" = 401 ] || fail "a token for the API server's audience: $code $(cat answer.json)"
  python3 -c 'print("[" * 100000 + "]" * 100000)' >deep.json
  code=$(authorize deep.json)
  [ "$code" = 400 ] || fail "deep JSON: $code $(cat answer.json)"
  head -c $((4 << 20)) /dev/zero | tr '\0' ' ' >big.json
  code=$(authorize big.json || true)
  [ "$code" = 413 ] || fail "a 4 MiB body: $code"
  if curl -sS --max-time 10 --cacert https.crt --tlsv1.1 --tls-max 1.1 -o /dev/null "https://127.0.0.1:$port/v1/authorize" 2>/dev/null; then
    fail "a TLS 1.1 handshake succeeded"
  fi

  # --- a rule needing approvals: 202 and a relayed request to poll
  local approver=approver-$CLUSTER_ID
  kubectl create role approver -n "$ns" --verb=create,get,list \
    --resource=executionapprovals.execgov.io,executionrequests.execgov.io >/dev/null
  kubectl create rolebinding approver -n "$ns" --role=approver --group=ops >/dev/null
  # decide NAME Approve|Deny REASON: an ExecutionApproval as the approver (group ops).
  decide() {
    approval_yaml "$1" "$approver" "$2" "$3" | kubectl create -f - --as="$approver" --as-group=ops >/dev/null ||
      fail "cannot $2 $1"
  }
  # poll_request LOCATION [TOKEN]: GET, the status printed, the answer in answer.json.
  poll_request() {
    curl -sS --max-time 20 --cacert https.crt -o answer.json -w '%{http_code}' \
      -H "Authorization: Bearer ${2-$token}" "https://127.0.0.1:$port$1"
  }
  answer() { python3 -c 'import json, sys; a = json.load(open("answer.json")); print(eval(sys.argv[1]))' "$1"; }
  job_json slow registry.example.com/slow/batch:1 >slow.json
  code=$(authorize slow.json)
  [ "$code" = 202 ] && grep -q "$CLUSTER_ID/needs-approval" answer.json || fail "slow: $code $(cat answer.json)"
  local relayed location
  relayed=$(answer 'a["request"]["name"]')
  location=$(answer 'a["location"]')
  [ "$location" = "/v1/authorize/requests/$ns/$relayed" ] || fail "slow: location $location"
  grep -qi "^location: $location" headers.txt || fail "slow: no Location header: $(cat headers.txt)"
  wait_phase "$relayed" AwaitingAuthorization 30
  [ "$(field "$relayed" '{.spec.initiator} {.spec.relay.kind} {.spec.relay.name}')" = "$agent Job slow" ] ||
    fail "the relayed request: $(field "$relayed" '{.spec}')"
  code=$(poll_request "$location")
  [ "$code" = 202 ] && [ "$(answer 'a["request"]["name"]')" = "$relayed" ] || fail "poll while waiting: $code $(cat answer.json)"
  kubectl create serviceaccount other -n "$ns" >/dev/null
  code=$(poll_request "$location" "$(kubectl create token other -n "$ns" --duration 10m --audience "$audience")")
  [ "$code" = 404 ] || fail "another caller's poll: $code $(cat answer.json)"
  code=$(poll_request "$location" "")
  [ "$code" = 401 ] || fail "a poll without a token: $code $(cat answer.json)"
  decide "$relayed" Approve "checked"
  granted() { [ "$(poll_request "$location")" = 201 ]; }
  poll 30 granted || fail "never granted after the approval: $(cat answer.json)"
  python3 - "$CLUSTER_ID" <<'PY' || fail "the 201 answer is wrong: $(cat answer.json)"
import json, sys
a = json.load(open("answer.json"))
assert a["rule"] == sys.argv[1] + "/needs-approval", a["rule"]
m = a["manifest"]
assert m["kind"] == "Job" and m["metadata"]["name"] == "slow", m["metadata"]
assert m["metadata"]["annotations"]["execgov.io/authorization"] == a["artifact"]
json.dump(m, open("signed-slow.json", "w"))
PY
  "$execgov" inspect "$(answer 'a["artifact"]')" >inspect-slow.txt
  grep -q "\"sub\": \"$agent\"" inspect-slow.txt && grep -q '"kind": "Job"' inspect-slow.txt ||
    fail "the relayed grant is not the caller's Job's: $(cat inspect-slow.txt)"
  kubectl create -f signed-slow.json >/dev/null || fail "the webhook refused the Job granted after approval"
  wait_phase "$relayed" Granted 30
  [ "$(kubectl get jobs -n "$ns" -o name)" = job.batch/slow ] || fail "jobs: $(kubectl get jobs -n "$ns" -o name)"
  # Denied by an approver: 403 naming who and the rule.
  job_json slow-two registry.example.com/slow/batch:2 >slow-two.json
  code=$(authorize slow-two.json)
  [ "$code" = 202 ] || fail "slow-two: $code $(cat answer.json)"
  relayed=$(answer 'a["request"]["name"]')
  wait_phase "$relayed" AwaitingAuthorization 30
  decide "$relayed" Deny "not today"
  refused() { [ "$(poll_request "/v1/authorize/requests/$ns/$relayed")" = 403 ]; }
  poll 30 refused || fail "never refused after the denial: $(cat answer.json)"
  grep -q "$approver" answer.json && grep -q "not today" answer.json && grep -q "$CLUSTER_ID/needs-approval" answer.json ||
    fail "the refusal names neither who nor the rule: $(cat answer.json)"

  # --- the ledger: the grants and the denial, with who asked
  "$execgov" ledger show --ledger "$LEDGER_URL" -o json >ledger.json
  python3 - ledger.json "$agent" "$CLUSTER_ID" "$approver" <<'PY' || fail "the ledger's https records are wrong"
import json, sys
records = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
agent, policy, approver = sys.argv[2], sys.argv[3], sys.argv[4]
grants = [r for r in records if r["type"] == "grant" and r.get("via") == "https"]
assert len(grants) == 2, grants
g, relayed = grants
assert relayed["relayed"]["name"] == "slow" and relayed["claims"]["scope"]["kind"] == "Job", relayed
assert relayed["object"]["kind"] == "ExecutionRequest" and relayed["rule"]["name"] == "needs-approval", relayed
assert [a["approver"] for a in relayed["approvals"]] == [approver], relayed
assert g["requester"]["username"] == agent and g["claims"]["sub"] == agent, g
assert g["object"]["kind"] == "Job" and g["object"]["name"] == "rotate" and g["rule"]["name"] == "auto", g
denials = [r for r in records if r["type"] == "denial" and r.get("via") == "https"]
assert [(d["object"]["name"], d["rule"]) for d in denials] == [("danger", policy + "/deny-danger")], denials
print("ledger: https grant %s, denial %s" % (g["jti"], denials[0]["rule"]))
PY
  kill -0 "$pid" || fail "the authority exited: $(cat "$CLUSTER_WORK/authority.log")"
}

case_approvals() {
  kubectl wait --for condition=established --timeout=60s crd/authoritypolicies.execgov.io \
    crd/executionapprovals.execgov.io >/dev/null || fail "the AuthorityPolicy and ExecutionApproval CRDs are not Established"
  local ops=ops-$CLUSTER_ID apprns=$ns-appr
  # A ServiceAccount approver in a namespace of its own: its group
  # system:serviceaccounts:$apprns is an approver group (the agent's is not).
  kubectl create namespace "$apprns" >/dev/null || fail "cannot create $apprns"
  cluster_on_cleanup "kubectl delete namespace $apprns --wait=false --ignore-not-found >/dev/null 2>&1"
  kubectl create serviceaccount approver -n "$apprns" >/dev/null
  kubectl create role approver -n "$ns" --verb=create,get,list --resource=executionapprovals.execgov.io,executionrequests.execgov.io >/dev/null
  kubectl create rolebinding approver -n "$ns" --role=approver --serviceaccount="$apprns:approver" \
    --group="$ops" --group="devs-$CLUSTER_ID" >/dev/null
  local approver=system:serviceaccount:$apprns:approver approver_kubeconfig=$CLUSTER_WORK/approver.kubeconfig
  cluster_kubeconfig approver "$approver_kubeconfig" "$apprns"
  cat >apol.yaml <<YAML
apiVersion: execgov.io/v1alpha1
kind: AuthorityPolicy
metadata: {name: $CLUSTER_ID}
spec:
  rules:
  - name: review
    match: {namespaces: [$ns], images: ["registry.example.com/batch/*"]}
    action: RequireApprovals
    approvals: {count: 2, groups: [$ops, "system:serviceaccounts:$apprns"]}
    timeout: 10m
YAML
  kubectl apply -f apol.yaml >/dev/null || fail "cannot apply the AuthorityPolicy"
  cluster_on_cleanup "kubectl delete authoritypolicy $CLUSTER_ID --ignore-not-found >/dev/null 2>&1"
  local authority_kubeconfig=$CLUSTER_WORK/authority.kubeconfig ops_port
  cluster_kubeconfig execgov-authority "$authority_kubeconfig"
  ops_port=$(free_port)
  "$execgov" authority --kubeconfig "$authority_kubeconfig" --namespace "$CLUSTER_SYSTEM_NS" \
    --ledger "$LEDGER_URL" --ledger-key "$LEDGER_KEY" --key "$AUTHORITY_KEY" --kid "$AUTHORITY_KID" \
    --issuer e2e-authority --audience e2e-cluster --metrics-listen "127.0.0.1:$ops_port" \
    --lease-name "execgov-authority-$CLUSTER_ID" --lease-duration 5 --identity "authority-$CLUSTER_ID" \
    --watch-namespaces "$ns" >"$CLUSTER_WORK/authority.log" 2>&1 &
  cluster_on_cleanup "stop_pid $!"

  waiting_for() { [ "$(field "$1" '{.status.authorization.waitingFor}')" = "$2" ]; }
  local groups="$ops, system:serviceaccounts:$apprns"

  # --- the request waits for two approvals
  request_yaml batch agent:e2e registry.example.com/batch/nightly:1 >batch.yaml
  as_agent create -f batch.yaml >/dev/null || fail "the request was not admitted"
  wait_phase batch AwaitingAuthorization 60
  poll 60 waiting_for batch "2 approvals from $groups (0 given)" ||
    fail "the request does not say what it waits for: $(field batch '{.status.authorization}')"

  # --- refused by the webhook
  approval_yaml batch agent:e2e Approve "my own" >self.yaml
  kubectl create --as agent:e2e --as-group "$ops" -f self.yaml >self.out 2>&1 && fail "the initiator approved"
  grep -q "ApprovalRefused: agent:e2e is the initiator .* (separation of duties)" self.out ||
    fail "unexpected refusal: $(cat self.out)"
  approval_yaml batch eve Approve >eve.yaml
  kubectl create --as eve --as-group "devs-$CLUSTER_ID" -f eve.yaml >eve.out 2>&1 && fail "an approval from outside the groups was admitted"
  grep -q "ApprovalRefused: eve is in none of the approver groups" eve.out || fail "unexpected refusal: $(cat eve.out)"
  approval_yaml batch bob Approve >forged.yaml
  kubectl create --as alice --as-group "$ops" -f forged.yaml >forged.out 2>&1 && fail "alice approved as bob"
  grep -q "ApprovalRefused: the approver must be the user creating the approval" forged.out ||
    fail "unexpected refusal: $(cat forged.out)"

  # --- alice approves (twice: counted once); her approval cannot be changed
  approval_yaml batch alice Approve "checked the diff" >alice.yaml
  local first
  first=$(kubectl create --as alice --as-group "$ops" -f alice.yaml -o name) || fail "alice's approval was refused"
  kubectl create --as alice --as-group "$ops" -f alice.yaml >/dev/null || fail "alice's second approval was refused"
  if kubectl patch "$first" -n "$ns" --type=merge -p '{"spec":{"reason":"changed my mind"}}' >patch.out 2>&1; then
    fail "an approval was changed"
  fi
  poll 60 waiting_for batch "2 approvals from $groups (1 given)" ||
    fail "alice's approvals are not counted once: $(field batch '{.status.authorization}')"
  [ "$(jobs_in_ns)" = 0 ] || fail "a Job exists before the second approval"

  # --- the second approver: `kubectl execgov approve` as a ServiceAccount
  mkdir -p bin
  ln -sf "$execgov" bin/kubectl-execgov
  PATH=$PWD/bin:$PATH KUBECONFIG=$approver_kubeconfig kubectl execgov approve "$ns/batch" --reason "nightly run" \
    >approve.out 2>&1 || fail "kubectl execgov approve failed: $(cat approve.out)"
  grep -q "$approver approves $ns/batch" approve.out || fail "approve does not say who approved: $(cat approve.out)"
  wait_phase batch Running 60
  local uid
  uid=$(field batch '{.metadata.uid}')
  [ "$(kubectl get jobs -n "$ns" -l "execgov.io/request-uid=$uid" -o name | wc -l)" = 1 ] ||
    fail "not exactly one Job for the approved request"
  kubectl get executionapprovals -n "$ns"

  # --- a denial: Denied naming who and why, no Job; an artifact after it is refused
  request_yaml risky agent:e2e registry.example.com/batch/drop-tables:1 >risky.yaml
  as_agent create -f risky.yaml >/dev/null || fail "the request was not admitted"
  wait_phase risky AwaitingAuthorization 60
  "$execgov" deny "$ns/risky" --kubeconfig "$approver_kubeconfig" >deny.out 2>&1 && fail "deny without a reason ran"
  "$execgov" deny "$ns/risky" --kubeconfig "$approver_kubeconfig" --reason "not on a Friday" >deny.out 2>&1 ||
    fail "execgov deny failed: $(cat deny.out)"
  wait_phase risky Denied 60
  field risky '{.status.conditions[?(@.type=="Authorized")].message}' | grep -q "denied by $approver .*: not on a Friday" ||
    fail "the denial does not say who and why: $(field risky '{.status.conditions}')"
  local late
  late=$(sign --artifact-only -f risky.yaml) || fail "cannot sign"
  kubectl annotate executionrequest risky -n "$ns" "execgov.io/authorization=$late" >late.out 2>&1 &&
    fail "an artifact was attached to a denied request"
  grep -q "execgov: ScopeMismatch: .* is Denied: it will never run" late.out || fail "unexpected refusal: $(cat late.out)"
  [ "$(kubectl get jobs -n "$ns" -l "execgov.io/request-uid=$(field risky '{.metadata.uid}')" -o name | wc -l)" = 0 ] ||
    fail "a Job exists for the denied request"

  # --- the ledger: who approved and who denied, linked to each request
  "$execgov" ledger show --ledger "$LEDGER_URL" -o json --object "$uid" >batch.json
  "$execgov" ledger show --ledger "$LEDGER_URL" -o json --object "$(field risky '{.metadata.uid}')" >risky.json
  python3 - batch.json risky.json "$approver" <<'PY' || fail "the ledger does not tell the approvals' story"
import json, sys
load = lambda f: [json.loads(l) for l in open(f) if l.strip()]
batch, risky, approver = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3]
approvals = [(r["approver"], r["user"], r["decision"], r["verdict"]) for r in batch if r["type"] == "approval"]
for want in [("agent:e2e", "agent:e2e", "denied", "Approve"), ("eve", "eve", "denied", "Approve"),
             ("bob", "alice", "denied", "Approve"), ("alice", "alice", "allowed", "Approve"),
             (approver, approver, "allowed", "Approve")]:
    assert want in approvals, (want, approvals)
alice = [r for r in batch if r["type"] == "approval" and r["approver"] == "alice" and r["decision"] == "allowed"][0]
assert alice["reason"] == "checked the diff" and alice["groups"] and alice["time"], alice
grants = [r for r in batch if r["type"] == "grant"]
assert len(grants) == 1 and [a["approver"] for a in grants[0]["approvals"]] == ["alice", approver], grants
steps = [r["phase"] for r in batch if r["type"] == "execution"]
assert "Running" in steps, steps
denial = [r for r in risky if r["type"] == "denial"]
assert len(denial) == 1 and denial[0]["approver"] == approver and denial[0]["approverReason"] == "not on a Friday", denial
assert any(r["type"] == "approval" and r["verdict"] == "Deny" for r in risky), risky
assert not any(r["type"] == "admission" and r.get("replay") for r in risky if r["object"].get("operation") == "UPDATE"), risky
print("ledger: approvals %s; grant by %s; denial by %s" % (approvals, [a["approver"] for a in grants[0]["approvals"]], denial[0]["approver"]))
PY
  "$execgov" ledger verify --ledger "$LEDGER_URL" --checkpoint-key "$LEDGER_PUB" >/dev/null || fail "ledger verify failed"
  kubectl get ereq -n "$ns"
}

"case_${case_name//-/_}"
echo "PASS: authority $case_name"
