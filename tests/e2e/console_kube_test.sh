#!/usr/bin/env bash
# `execgov console --kube-auth` against the real API server (issue 22):
# ServiceAccount tokens checked with TokenReview and SubjectAccessReview
# (get ledgers.execgov.io in the test's namespace), the governance page's
# policies and pending ExecutionRequests read as the logged-in user, and a
# revoke made with the user's own token, which RBAC refuses for one user and
# allows for another. With a browser (chromium and console/node_modules)
# the same in Playwright (console/tests/kube.spec.ts); without, that part is
# not run and the script says so.
# Usage: console_kube_test.sh EXECGOV
set -euo pipefail
source "$(dirname "$0")/cluster_lib.sh"
cluster_init "$(realpath "$1")" console
cluster_apply_crds
cluster_make_keys

ns=$CLUSTER_ID
cluster_namespace "$ns"
server=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
ca=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')

# The console's own account may create reviews (system:auth-delegator, as
# the chart binds it); reader may read the ledger and list policies and
# requests; revoker may also update policies and create ExecutionApprovals
# (approve, deny); nobody may do nothing.
# reader and revoker may read the ledger.
bind_readers() {
  kubectl apply -f - >/dev/null <<YAML || fail "cannot bind the ledger readers"
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ledger-readers, namespace: $ns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: ledger-reader}
subjects:
- {kind: ServiceAccount, name: reader, namespace: $ns}
- {kind: ServiceAccount, name: revoker, namespace: $ns}
- {kind: ServiceAccount, name: auditor, namespace: $ns}
YAML
}
# auditor may read the ledger and nothing else: the health page's policies
# are refused to it.
for sa in console reader revoker nobody auditor; do
  kubectl create serviceaccount "$sa" -n "$ns" >/dev/null || fail "cannot create the ServiceAccount $sa"
done
kubectl apply -f - >/dev/null <<YAML || fail "cannot apply the test's RBAC"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: $CLUSTER_ID-console-reviews}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:auth-delegator}
subjects: [{kind: ServiceAccount, name: console, namespace: $ns}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: ledger-reader, namespace: $ns}
rules:
- {apiGroups: [execgov.io], resources: [ledgers], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: $CLUSTER_ID-governance-viewer}
rules:
- {apiGroups: [execgov.io], resources: [executionpolicies, executionrequests, authoritypolicies], verbs: [get, list]}
- {apiGroups: [wgpolicyk8s.io], resources: [policyreports], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: $CLUSTER_ID-governance-viewers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: $CLUSTER_ID-governance-viewer}
subjects:
- {kind: ServiceAccount, name: reader, namespace: $ns}
- {kind: ServiceAccount, name: revoker, namespace: $ns}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: $CLUSTER_ID-revoker}
rules:
- {apiGroups: [execgov.io], resources: [executionpolicies], verbs: [get, update]}
- {apiGroups: [execgov.io], resources: [executionapprovals], verbs: [create]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: $CLUSTER_ID-revokers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: $CLUSTER_ID-revoker}
subjects: [{kind: ServiceAccount, name: revoker, namespace: $ns}]
YAML
bind_readers
cluster_on_cleanup "kubectl delete clusterrolebinding $CLUSTER_ID-console-reviews $CLUSTER_ID-governance-viewers $CLUSTER_ID-revokers --ignore-not-found >/dev/null 2>&1"
cluster_on_cleanup "kubectl delete clusterrole $CLUSTER_ID-governance-viewer $CLUSTER_ID-revoker --ignore-not-found >/dev/null 2>&1"

token() { kubectl create token "$1" -n "$ns" --duration=1h || fail "no token for $1"; }
reader_token=$(token reader)
revoker_token=$(token revoker)
nobody_token=$(token nobody)
auditor_token=$(token auditor)
(
  umask 077
  cat >console.kubeconfig <<YAML
apiVersion: v1
kind: Config
clusters: [{name: testenv, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: console, user: {token: "$(token console)"}}]
contexts: [{name: console, context: {cluster: testenv, user: console, namespace: $ns}}]
current-context: console
YAML
)

# A policy scoped to this namespace, and a request waiting for authorization
# (its status written as the authority would: this test runs no operator).
cluster_policy "$CLUSTER_ID" "$ns" >policy.yaml
cluster_apply_policy policy.yaml
kubectl apply -f - >/dev/null <<YAML || fail "cannot create the request"
apiVersion: execgov.io/v1alpha1
kind: ExecutionRequest
metadata: {name: rotate-keys, namespace: $ns}
spec:
  initiator: agent:e2e
  intent: rotate the payments keys
  template:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: run, image: registry.example.com/tools/rotate:1}]
YAML
kubectl patch executionrequest rotate-keys -n "$ns" --subresource=status --type=merge \
  -p '{"status":{"phase":"AwaitingAuthorization","authorization":{"rule":"approvals/two-people","waitingFor":"2 approvals from group sre","deadline":"2030-01-01T00:00:00Z"}}}' \
  >/dev/null || fail "cannot set the request's status"

# The policy's status as the operator writes it when a key does not load
# (controllers/policy_controller.cc; this test runs no operator).
kubectl patch executionpolicy "$CLUSTER_ID" --subresource=status --type=merge \
  -p '{"status":{"observedGeneration":1,"keys":0,"conditions":[{"type":"Ready","status":"False","reason":"InvalidKey","message":"spec.issuers[0].keys[0].publicKey: not a PEM public key","observedGeneration":1,"lastTransitionTime":"2026-12-01T10:00:00Z"}]}}' \
  >/dev/null || fail "cannot set the policy's status"
# The runtime verifier's report for the namespace, as the operator writes it
# (controllers/policy_report.cc): one Pod running without an admission record.
kubectl wait --for condition=established --timeout=60s crd/policyreports.wgpolicyk8s.io >/dev/null ||
  fail "the PolicyReport CRD is not Established"
kubectl apply -f - >/dev/null <<YAML || fail "cannot create the PolicyReport"
apiVersion: wgpolicyk8s.io/v1alpha2
kind: PolicyReport
metadata: {name: execgov-runtime, namespace: $ns, labels: {app.kubernetes.io/managed-by: execgov}}
scope: {apiVersion: v1, kind: Namespace, name: $ns}
summary: {pass: 0, fail: 1, warn: 0, error: 0, skip: 0}
results:
- source: execgov
  policy: $CLUSTER_ID
  rule: Unadmitted
  category: Execution governance
  severity: high
  timestamp: {seconds: 1796000000, nanos: 0}
  result: fail
  scored: true
  resources: [{apiVersion: v1, kind: Pod, namespace: $ns, name: stray-pod}]
  message: no admission record for this Pod in the ledger
  properties: {action: Report}
YAML

# An empty ledger: this test is about who may see it.
: >ledger.jsonl

console_pids=()
start_console() {  # NAME [FLAGS...]: sets url_NAME
  local name=$1 log=console-$1.log url
  shift
  "$EXECGOV" console --ledger "file:$CLUSTER_WORK/ledger.jsonl" --listen 127.0.0.1:0 --kube-auth \
    --kubeconfig console.kubeconfig --namespace "$ns" --auth-cache-ttl 1 \
    --state-dir "$CLUSTER_WORK/console-state" --assets "$repo/console/dist" "$@" >"$log" 2>&1 &
  console_pids+=($!)
  cluster_on_cleanup "stop_pid $!"
  for _ in $(seq 100); do
    url=$(grep -o '"url":"[^"]*"' "$log" | head -1 | cut -d'"' -f4 || true)
    [ -n "$url" ] && { printf -v "url_$name" '%s' "$url"; return; }
    sleep 0.1
  done
  fail "execgov console did not start: $(cat "$log")"
}
start_console rw --allow-writes
start_console ro
cacert=$CLUSTER_WORK/console-state/tls/ca.crt

status() {  # status URL PATH [TOKEN] [curl args...]
  local url=$1 path=$2 tok=$3
  shift 3
  curl -s -o body.json -w '%{http_code}' --cacert "$cacert" ${tok:+-H "Authorization: Bearer $tok"} "$@" "$url${path#/}"
}
expect() {  # expect CODE URL PATH TOKEN [curl args...]
  local want=$1 got
  shift
  got=$(status "$@")
  [ "$got" = "$want" ] || fail "$2 as ${3:0:12}...: $got, expected $want: $(head -c 400 body.json)"
}

# Fail-closed: no token, an unknown token, a token whose user may not read.
expect 401 "$url_rw" /api/head ""
grep -q '"error"' body.json || fail "a refused API call answered data: $(cat body.json)"
expect 401 "$url_rw" / ""
grep -q 'login-form' body.json || fail "a refused page is not the login page"
expect 401 "$url_rw" /api/head "not-a-token-the-api-server-knows-at-all"
expect 401 "$url_rw" /api/records "$nobody_token"
expect 401 "$url_rw" /api/login "" -H 'Content-Type: application/json' --data "{\"token\":\"$nobody_token\"}"
expect 200 "$url_rw" /api/login "" -H 'Content-Type: application/json' --data "{\"token\":\"$reader_token\"}"
expect 200 "$url_rw" /api/head "$reader_token"
expect 200 "$url_rw" /api/whoami "$reader_token"
jq -e --arg u "system:serviceaccount:$ns:reader" '.user == $u and .mode == "kubernetes" and .writes == true' body.json \
  >/dev/null || fail "whoami: $(cat body.json)"

# The governance page as the user: this run's policy and the waiting request.
expect 200 "$url_rw" /api/governance "$reader_token"
jq -e --arg p "$CLUSTER_ID" '[.policies[] | select(.name == $p)] | length == 1' body.json >/dev/null ||
  fail "the policy is not on the governance page: $(head -c 600 body.json)"
jq -e --arg ns "$ns" '[.pending[] | select(.namespace == $ns and .name == "rotate-keys"
    and .waitingFor == "2 approvals from group sre" and .initiator == "agent:e2e")] | length == 1' body.json \
  >/dev/null || fail "the waiting request is not on the governance page: $(head -c 600 body.json)"

# The health page's policies as the user: reader sees this run's policy NOT
# READY with the operator's reason; auditor, who may read the ledger but not
# list policies, is told so (403), not shown an empty list.
expect 200 "$url_ro" /api/health "$reader_token"
jq -e --arg p "$CLUSTER_ID" '.policies.available and (.policies.kinds[0].kind == "ExecutionPolicy")
    and ([.policies.kinds[0].policies[] | select(.name == $p and .ready == "False"
         and .conditions[0].reason == "InvalidKey" and .conditions[0].lastTransitionTime == "2026-12-01T10:00:00Z")] | length == 1)
    and (.policies.kinds[1].kind == "AuthorityPolicy") and (.policies.kinds[1].policies | type == "array")' body.json \
  >/dev/null || fail "the health page's policies as reader: $(jq -c .policies body.json | head -c 800)"
jq -e --arg ns "$ns" '[.runtimeReports.reports[] | select(.namespace == $ns) | .results[]
    | select(.rule == "Unadmitted" and .kind == "Pod" and .name == "stray-pod" and .result == "fail")] | length == 1' body.json \
  >/dev/null || fail "the health page's runtime findings as reader: $(jq -c .runtimeReports body.json | head -c 800)"
expect 200 "$url_ro" /api/health "$auditor_token"
jq -e --arg u "system:serviceaccount:$ns:auditor" '[.policies.kinds[] | select(.forbidden and (.error | contains($u)))] | length == 2' \
  body.json >/dev/null || fail "the health page's policies as auditor: $(jq -c .policies body.json | head -c 800)"
jq -e '.runtimeReports.forbidden' body.json >/dev/null || fail "the runtime findings as auditor: $(jq -c .runtimeReports body.json)"

# Writes as the user: RBAC refuses reader, allows revoker; read-only refuses both.
revoke() { echo "{\"policy\":\"$CLUSTER_ID\",\"jti\":\"$1\"}"; }
expect 403 "$url_rw" /api/revoke "$reader_token" -H 'Content-Type: application/json' --data "$(revoke leaked-1)"
grep -q "system:serviceaccount:$ns:reader" body.json || fail "the refusal does not name the user: $(cat body.json)"
[ -z "$(kubectl get executionpolicy "$CLUSTER_ID" -o jsonpath='{.spec.revocations.jtis}')" ] ||
  fail "a refused revoke changed the policy"
expect 405 "$url_ro" /api/revoke "$revoker_token" -H 'Content-Type: application/json' --data "$(revoke leaked-1)"
expect 415 "$url_rw" /api/revoke "$revoker_token" -H 'Content-Type: text/plain' --data "$(revoke leaked-1)"
expect 200 "$url_rw" /api/revoke "$revoker_token" -H 'Content-Type: application/json' --data "$(revoke leaked-1)"
[ "$(kubectl get executionpolicy "$CLUSTER_ID" -o jsonpath='{.spec.revocations.jtis[0]}')" = leaked-1 ] ||
  fail "the revoke did not reach the policy: $(kubectl get executionpolicy "$CLUSTER_ID" -o jsonpath='{.spec.revocations}')"
# The API server saw the revoker, not the console: managedFields name the
# user agent, and the console's account could not have updated it anyway.
kubectl auth can-i update executionpolicies --as "system:serviceaccount:$ns:console" >/dev/null 2>&1 &&
  fail "the console's own account may update policies: the test proves nothing"

# Approve and deny as the user: an ExecutionApproval naming the user the API
# server authenticated, the request's uid and digest. RBAC refuses reader.
# (No webhook runs here: the webhook's and the authority's judgement of an
# approval is e2e_authority_approvals'.)
decide() { echo "{\"namespace\":\"$ns\",\"name\":\"rotate-keys\"${1:-}}"; }
expect 403 "$url_rw" /api/approve "$reader_token" -H 'Content-Type: application/json' --data "$(decide)"
expect 400 "$url_rw" /api/deny "$revoker_token" -H 'Content-Type: application/json' --data "$(decide)"
expect 405 "$url_ro" /api/approve "$revoker_token" -H 'Content-Type: application/json' --data "$(decide)"
[ -z "$(kubectl get executionapprovals -n "$ns" -o name)" ] || fail "a refused approval was created"
expect 200 "$url_rw" /api/approve "$revoker_token" -H 'Content-Type: application/json' --data "$(decide ',"reason":"looks right"')"
approval=$(jq -r .approval body.json)
kubectl get executionapproval "$approval" -n "$ns" -o json >approval.json || fail "no ExecutionApproval $approval"
jq -e --arg u "system:serviceaccount:$ns:revoker" --arg uid "$(kubectl get executionrequest rotate-keys -n "$ns" -o jsonpath='{.metadata.uid}')" \
  '.spec.approver == $u and .spec.decision == "Approve" and .spec.requestUID == $uid and .spec.reason == "looks right"
   and (.spec.requestDigest | startswith("sha256:"))' approval.json >/dev/null || fail "the approval: $(jq -c .spec approval.json)"
kubectl get executionrequest rotate-keys -n "$ns" -o json >request.json
want=$("$EXECGOV" digest -f request.json) || fail "execgov digest failed"
[ "$(jq -r .spec.requestDigest approval.json)" = "$want" ] || fail "the approval's digest is not the request's ($want)"
expect 200 "$url_rw" /api/deny "$revoker_token" -H 'Content-Type: application/json' --data "$(decide ',"reason":"on second thought"')"
[ "$(kubectl get executionapprovals -n "$ns" -o json | jq '[.items[] | select(.spec.decision == "Deny")] | length')" = 1 ] ||
  fail "the denial was not created"

# A RoleBinding removed takes effect once the cached answer expires (1 s here).
kubectl delete rolebinding ledger-readers -n "$ns" >/dev/null
poll 20 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert '$cacert' -H 'Authorization: Bearer $reader_token' '${url_rw}api/head')\" = 401 ]" ||
  fail "reader still reads the ledger after its RoleBinding was deleted"
bind_readers

if [ -x "${CHROMIUM:-/usr/bin/chromium}" ] && [ -d "$repo/console/node_modules/@playwright/test" ]; then
  (
    cd "$repo/console"
    export CONSOLE_URL="$url_rw" READER_TOKEN="$reader_token" REVOKER_TOKEN="$revoker_token" \
      NOBODY_TOKEN="$nobody_token" AUDITOR_TOKEN="$auditor_token" POLICY="$CLUSTER_ID" REQUEST_NS="$ns" \
      SCREENSHOT_DIR="${SCREENSHOT_DIR:-}" CHROMIUM="${CHROMIUM:-/usr/bin/chromium}" PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
    node_modules/.bin/playwright test kube.spec.ts --reporter=line
  ) || fail "the browser part failed"
  [ "$(kubectl get executionpolicy "$CLUSTER_ID" -o jsonpath='{.spec.revocations.jtis[1]}')" = leaked-2 ] ||
    fail "the browser's revoke did not reach the policy"
  kubectl get executionapprovals -n "$ns" -o json |
    jq -e '[.items[] | select(.spec.reason == "checked in the browser" and (.spec.approver | endswith(":revoker")))] | length == 1' \
      >/dev/null || fail "the browser's approval was not created as revoker"
else
  echo "console_kube_test: no chromium or Playwright: the browser part was not run" >&2
fi
echo PASS
