#!/usr/bin/env bash
# Governance after admission (issue 21) on the real control plane:
#
#   runtime_test.sh EXECGOV
#
# `execgov webhook` and `execgov operator` (--runtime-interval 2) run as in
# operator_test.sh.
#   - The webhook configuration's deletion and return are guard records, and
#     execgov_webhook_configuration_intact says 0 meanwhile.
#   - Unadmitted: with the webhook configuration removed, an unsigned Pod is
#     created; Drift: meanwhile the image of a signed Pod admitted before is
#     changed. Once the configuration is back, the operator's runtime
#     verifier reports both: results in the namespace's PolicyReport
#     (wgpolicyk8s.io/v1alpha2, `kubectl get polr -A`), Events, and
#     execgov_runtime_violations{reason} 1 each.
#   - spec.runtime Terminate with dryRun: an Event says what would be
#     stopped, the report says "Terminate (dry run)", and the Pods stay.
#   - Terminate: the Pods are deleted after `enforcement` ledger records
#     (action delete, reason Unadmitted / Drift, the Pod, the policy).
#   - LineageDiscontinuity: a signed Job is deleted with its Pods orphaned;
#     its Pod, no longer owned, is deleted with its enforcement record.
#   - Revoked: a signed Job and a signed ExecutionRequest run clean (no
#     finding); once their jtis are revoked the Job is suspended and the
#     running request moved to phase Revoked (its Job suspended too), each
#     with its `enforcement` record (action suspend, revoke).
#   - The PolicyReport empties out once nothing is found.
#   - The guards: removing execgov.io/governed is refused to an unlisted user
#     and allowed to a namespace guardian, both recorded (type guard); an
#     unsigned Pod is admitted to a break-glass group member only, recorded
#     with breakGlass, reported (warn, Event, metric); so is a break-glass
#     Job, and the Pods its Job controller makes (breakGlass.job: its uid);
#     and once the namespace lost its label, reported Ungoverned and, though
#     the policy says Terminate, left running (both are report-only); the
#     ledger verifies.
set -euo pipefail

source "$(dirname "$0")/cluster_lib.sh"
cluster_init "$1" runtime
execgov=$EXECGOV
ns=$CLUSTER_ID
cluster_on_cleanup 'for p in "${OPERATOR_PIDS[@]}"; do stop_pid "$p"; done
  kubectl delete lease -n "$CLUSTER_SYSTEM_NS" "execgov-operator-$CLUSTER_ID" --ignore-not-found >/dev/null 2>&1'

cluster_governed_setup "$ns"
kubectl wait --for condition=established --timeout=60s crd/policyreports.wgpolicyk8s.io >/dev/null ||
  fail "the PolicyReport CRD is not Established"

# policy_with RUNTIME_YAML [JTI...]: this run's policy with spec.runtime (and revoked jtis).
policy_with() {
  cluster_policy "$CLUSTER_ID" "$ns"
  echo "  runtime: $1"
  [ $# -lt 2 ] || echo "  revocations: {jtis: [$(printf '"%s",' "${@:2}" | sed 's/,$//')]}"
}
# jti_of FILE: the jti of the signed manifest's artifact.
jti_of() {
  python3 -c '
import base64, json, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
payload = doc["metadata"]["annotations"]["execgov.io/authorization"].split(".")[1]
print(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])' "$1"
}

start_operator --runtime-interval 2 --lineage-interval 2 --guard-webhook-configuration "$WEBHOOK_CONFIG"
ledger_json() { "$execgov" ledger show --ledger "$LEDGER_URL" -o json "$@"; }
metric() {
  curl -sf "http://127.0.0.1:${OPERATOR_METRICS_PORTS[0]}/metrics" | awk -v re="$1" '!/^#/ && index($0, re) == 1 { print $NF }'
}
report_json() { kubectl get policyreport execgov-runtime -n "$ns" -o json 2>/dev/null; }
# has_result KIND NAME RULE [ACTION]: the namespace's report holds that result.
has_result() {
  report_json | python3 -c '
import json, sys
kind, name, rule = sys.argv[1:4]
action = sys.argv[4] if len(sys.argv) > 4 else None
r = json.load(sys.stdin)
assert r["apiVersion"] == "wgpolicyk8s.io/v1alpha2" and r["kind"] == "PolicyReport", r
ok = [x for x in r["results"] if x["rule"] == rule and x["resources"][0]["kind"] == kind and x["resources"][0]["name"] == name
      and x["result"] == "fail" and x["source"] == "execgov" and (action is None or x["properties"]["action"] == action)]
sys.exit(0 if ok else 1)' "$@" 2>/dev/null
}
event() {  # event OBJECT REASON
  kubectl get events -n "$ns" --field-selector "involvedObject.name=$1,reason=$2" -o name 2>/dev/null | grep -q .
}

# --- Unadmitted: a Pod made while the webhook configuration was removed;
# Drift: a signed Pod admitted before, whose image is changed meanwhile.
kubectl run drifter -n "$ns" --image=registry.example.com/tools/run:1 --restart=Never --dry-run=client -o yaml >drifter.yaml
sign -f drifter.yaml >drifter.signed.yaml
kubectl create -f drifter.signed.yaml >/dev/null || fail "the signed Pod drifter was not admitted"
kubectl delete validatingwebhookconfiguration "$WEBHOOK_CONFIG" >/dev/null
bypassed() {
  kubectl run "probe-$CLUSTER_ID" -n "$ns" --image=registry.example.com/probe:1 --restart=Never --dry-run=server >/dev/null 2>&1
}
poll 60 bypassed || fail "the API server still calls the removed webhook"
kubectl run bypass -n "$ns" --image=registry.example.com/tools/run:1 --restart=Never >/dev/null || fail "cannot create the bypassing Pod"
kubectl set image pod/drifter -n "$ns" drifter=registry.example.com/tools/other:2 >/dev/null || fail "cannot change the image of Pod drifter"
# The operator noticed the configuration's deletion: a guard record, and the metric.
config_guard() { ledger_json --type guard | grep -q "\"decision\":\"$1\".*\"guard\":\"webhook-configuration\""; }
poll 30 config_guard changed || fail "no guard record for the deleted webhook configuration: $(ledger_json --type guard)"
[ "$(metric "execgov_webhook_configuration_intact{name=\"$WEBHOOK_CONFIG\"}")" = 0 ] || fail "the configuration is not reported broken"
register_webhook 0
wait_webhook_active "$ns"
poll 30 config_guard restored || fail "no guard record for the restored webhook configuration: $(ledger_json --type guard)"
echo "created Pod bypass while the webhook configuration was removed; the configuration is back"
# A label through the webhook now (an UPDATE it allows, the scope unchanged,
# and records) admits nothing: bypass stays Unadmitted to the end.
kubectl label pod bypass -n "$ns" touched=yes >/dev/null || fail "cannot label Pod bypass"
label_recorded() { ledger_json --type admission | grep '"name":"bypass"' | grep -q '"operation":"UPDATE"'; }
poll 30 label_recorded || fail "the label's UPDATE is not recorded"

poll 60 has_result Pod bypass Unadmitted Report || fail "no Unadmitted result for Pod bypass: $(report_json || echo no report); $(tail -n 20 "$CLUSTER_WORK/operator-0.log")"
poll 30 has_result Pod drifter Drift Report || fail "no Drift result for Pod drifter: $(report_json)"
kubectl get polr -A | tee polr.txt
grep -E "^$ns +execgov-runtime +0 +2 " polr.txt >/dev/null || fail "kubectl get polr -A does not show two failures in $ns"
poll 30 event bypass Unadmitted || fail "no Unadmitted Event on Pod bypass"
poll 30 event drifter Drift || fail "no Drift Event on Pod drifter"
for reason in Unadmitted Drift; do
  [ "$(metric "execgov_runtime_violations{reason=\"$reason\"}")" = 1 ] ||
    fail "execgov_runtime_violations{reason=\"$reason\"} is '$(metric "execgov_runtime_violations{reason=\"$reason\"}")', not 1"
done

# --- Terminate, dry run first: said, not done.
policy_with '{action: Terminate, gracePeriodSeconds: 0, dryRun: true}' >policy.yaml
cluster_apply_policy policy.yaml
poll 60 event bypass WouldTerminate || fail "no WouldTerminate Event under dryRun"
poll 30 has_result Pod bypass Unadmitted "Terminate (dry run)" || fail "the report does not say Terminate (dry run): $(report_json)"
kubectl get pod bypass drifter -n "$ns" >/dev/null || fail "dryRun deleted a Pod"
[ -z "$(ledger_json --type enforcement)" ] || fail "dryRun wrote an enforcement record"

# --- Terminate: the Pods are deleted, each with its enforcement record.
policy_with '{action: Terminate, gracePeriodSeconds: 0}' >policy.yaml
cluster_apply_policy policy.yaml
pod_gone() { ! kubectl get pod "$1" -n "$ns" >/dev/null 2>&1; }
for pod in bypass drifter; do
  poll 60 pod_gone "$pod" || fail "Terminate did not delete Pod $pod: $(tail -n 20 "$CLUSTER_WORK/operator-0.log")"
done
ledger_json --type enforcement >enforcement.jsonl
python3 - enforcement.jsonl "$ns" "$CLUSTER_ID" <<'PY' || fail "the enforcement records are wrong: $(cat enforcement.jsonl)"
import json, sys
records = [json.loads(l) for l in open(sys.argv[1])]
got = sorted((r["action"], r["reason"], r["object"]["kind"], r["object"]["name"]) for r in records)
assert got == [("delete", "Drift", "Pod", "drifter"), ("delete", "Unadmitted", "Pod", "bypass")], records
for r in records:
    assert r["object"]["namespace"] == sys.argv[2] and r["policy"]["name"] == sys.argv[3], r
    assert r["operator"].startswith("operator-0-"), r
    print("enforcement:", r["action"], r["reason"], r["object"]["kind"], r["object"]["name"], "seq", r["seq"])
PY
no_report() { ! report_json >/dev/null; }
poll 30 no_report || fail "the PolicyReport outlived the deleted Pods: $(report_json)"

# --- LineageDiscontinuity: a signed Job's Pod inherits its artifact; the Job
# is deleted with its Pods orphaned (the garbage collector strips their owner
# reference), so the Pod no longer leads to the Job that consumed the jti.
job_manifest orphaner "$ns" >orphaner.yaml
sign -f orphaner.yaml >orphaner.signed.yaml
kubectl create -f orphaner.signed.yaml >/dev/null || fail "the signed Job orphaner was not admitted"
orphan=
orphan_made() { orphan=$(kubectl get pods -n "$ns" -l job-name=orphaner -o jsonpath='{.items[0].metadata.name}' 2>/dev/null); [ -n "$orphan" ]; }
poll 60 orphan_made || fail "the Job controller made no Pod for Job orphaner"
kubectl delete job orphaner -n "$ns" --cascade=orphan --wait=false >/dev/null
lineage_enforced() {
  ledger_json --type enforcement | grep '"reason":"LineageDiscontinuity"' | grep -q "\"name\":\"$orphan\""
}
poll 60 lineage_enforced || fail "no LineageDiscontinuity enforcement for orphaned Pod $orphan: $(ledger_json --type enforcement); $(tail -n 20 "$CLUSTER_WORK/operator-0.log")"
enforcement=$(ledger_json --type enforcement)  # whole: under pipefail, `| grep -q` can cut the writer off
grep "\"name\":\"$orphan\"" <<<"$enforcement" | grep -q '"action":"delete"' || fail "the orphaned Pod's record is not a delete"
poll 30 event "$orphan" LineageDiscontinuity || fail "no LineageDiscontinuity Event on Pod $orphan"
# Deleted (the Job controller drops its tracking finalizer from orphans).
deleting() { pod_gone "$orphan" || [ -n "$(kubectl get pod "$orphan" -n "$ns" -o jsonpath='{.metadata.deletionTimestamp}')" ]; }
poll 30 deleting || fail "Pod $orphan was not deleted"
poll 30 no_report || fail "the PolicyReport outlived the orphaned Pod: $(report_json); $(kubectl get pod "$orphan" -n "$ns" -o yaml 2>&1 | head -30)"
echo "orphaned Pod $orphan: LineageDiscontinuity, deleted"

# --- Revoked: a signed Job and a signed ExecutionRequest run clean until
# their jtis are revoked; then the Job is suspended and the request Revoked.
job_manifest rotate "$ns" >job.yaml
sign -f job.yaml >job.signed.yaml
kubectl create -f job.signed.yaml >/dev/null || fail "the signed Job was not admitted"
jti=$(jti_of job.signed.yaml)
cat >request.yaml <<YAML
apiVersion: execgov.io/v1alpha1
kind: ExecutionRequest
metadata: {name: nightly, namespace: $ns}
spec:
  initiator: agent:e2e
  intent: e2e runtime revocation
  template:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: run, image: registry.example.com/tools/run:1, command: ["/run"]}
YAML
sign -f request.yaml >request.signed.yaml
kubectl create -f request.signed.yaml >/dev/null || fail "the signed ExecutionRequest was not admitted"
request_jti=$(jti_of request.signed.yaml)
pods_made() { [ -n "$(kubectl get pods -n "$ns" -l job-name="$1" -o name)" ]; }
poll 60 pods_made rotate || fail "the Job controller made no Pod for Job rotate"
request_phase() { kubectl get executionrequest nightly -n "$ns" -o jsonpath='{.status.phase}'; }
running() { [ "$(request_phase)" = Running ]; }
poll 60 running || fail "ExecutionRequest nightly is '$(request_phase)', not Running"
request_job=$(kubectl get executionrequest nightly -n "$ns" -o jsonpath='{.status.jobRef.name}')
poll 60 pods_made "$request_job" || fail "the Job controller made no Pod for Job $request_job"
# Clean Jobs, a request and their Pods (admitted by inheritance): no finding over three passes.
if poll 6 report_json >/dev/null; then fail "a finding about a clean Job: $(report_json)"; fi
policy_with '{action: Terminate, gracePeriodSeconds: 0}' "$jti" "$request_jti" >policy.yaml
cluster_apply_policy policy.yaml
suspended() { [ "$(kubectl get job rotate -n "$ns" -o jsonpath='{.spec.suspend}')" = true ]; }
poll 60 suspended || fail "Job rotate was not suspended after its jti was revoked: $(tail -n 20 "$CLUSTER_WORK/operator-0.log")"
suspend_recorded() { ledger_json --type enforcement | grep '"action":"suspend"' | grep -q '"name":"rotate"'; }
poll 30 suspend_recorded || fail "no suspend record: $(ledger_json --type enforcement)"
ledger_json --type enforcement | python3 -c '
import json, sys
r = [r for r in map(json.loads, sys.stdin) if r["action"] == "suspend" and r["object"]["name"] == "rotate"][0]
assert r["reason"] == "Revoked" and r["object"]["kind"] == "Job" and r["object"]["name"] == "rotate", r
assert sys.argv[1] in r["message"], r
print("enforcement:", r["action"], r["reason"], r["object"]["kind"], r["object"]["name"], "seq", r["seq"])' "$jti" ||
  fail "the suspend record is wrong"
poll 30 event rotate Suspended || fail "no Suspended Event on Job rotate"
poll 30 has_result Job rotate Revoked Terminate || fail "the report does not show the revoked Job: $(report_json)"
# The running request: moved to phase Revoked by the runtime verifier, with
# its enforcement record; its Job is suspended too.
revoked() { [ "$(request_phase)" = Revoked ]; }
poll 60 revoked || fail "ExecutionRequest nightly is '$(request_phase)', not Revoked: $(tail -n 20 "$CLUSTER_WORK/operator-0.log")"
ledger_json --type enforcement | python3 -c '
import json, sys
jti = sys.argv[1]
r = [json.loads(l) for l in sys.stdin if "\"revoke\"" in l]
assert len(r) == 1, r
r = r[0]
assert r["reason"] == "Revoked" and r["object"]["kind"] == "ExecutionRequest" and r["object"]["name"] == "nightly", r
assert jti in r["message"], r
print("enforcement:", r["action"], r["reason"], r["object"]["kind"], r["object"]["name"], "seq", r["seq"])' "$request_jti" ||
  fail "the revoke record is wrong: $(ledger_json --type enforcement)"
[ "$(kubectl get executionrequest nightly -n "$ns" -o jsonpath='{.status.conditions[?(@.type=="Authorized")].reason}')" = Revoked ] ||
  fail "nightly's Authorized condition does not say Revoked"
request_job_suspended() { [ "$(kubectl get job "$request_job" -n "$ns" -o jsonpath='{.spec.suspend}')" = true ]; }
poll 60 request_job_suspended || fail "Job $request_job of the revoked request was not suspended"

# --- Nothing left to find: the report empties once the Jobs are gone.
kubectl delete executionrequest nightly -n "$ns" --wait=false >/dev/null
kubectl delete job rotate -n "$ns" --cascade=foreground --wait=false >/dev/null
poll 60 no_report || fail "the PolicyReport outlived its findings: $(report_json)"

# --- The guards on the door. Users this run impersonates: one who may not
# unlabel the namespace, a guardian who may, and an on-call member who breaks glass.
mallory=mallory-$CLUSTER_ID guardian=guardian-$CLUSTER_ID dave=dave-$CLUSTER_ID oncall=oncall-$CLUSTER_ID
kubectl apply -f - >/dev/null <<YAML || fail "cannot apply this run's RBAC"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: relabel-$CLUSTER_ID}
rules:
- {apiGroups: [""], resources: [namespaces], verbs: [get, update, patch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: relabel-$CLUSTER_ID}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: relabel-$CLUSTER_ID}
subjects:
- {kind: User, name: $mallory}
- {kind: User, name: $guardian}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: run-pods, namespace: $ns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
- {kind: User, name: $dave}
YAML
cluster_on_cleanup 'kubectl delete clusterrolebinding,clusterrole "relabel-$CLUSTER_ID" --ignore-not-found >/dev/null 2>&1
  kubectl delete validatingwebhookconfiguration "guard-$CLUSTER_ID" --ignore-not-found >/dev/null 2>&1'
# Terminate: break-glass and Ungoverned are reported and never stopped.
policy_with "{action: Terminate, gracePeriodSeconds: 0, namespaceGuardians: {users: [$guardian]}, breakGlass: {groups: [$oncall]}}" >policy.yaml
cluster_apply_policy policy.yaml
# The chart's guard.execgov.io, for this run's namespace only (Fail here, so
# that the test sees the guard's answer and not the API server's default).
kubectl apply -f - >/dev/null <<YAML || fail "cannot register the guard"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: guard-$CLUSTER_ID}
webhooks:
- name: guard.execgov.io
  admissionReviewVersions: [v1]
  sideEffects: NoneOnDryRun
  failurePolicy: Fail
  timeoutSeconds: 10
  clientConfig:
    url: https://127.0.0.1:${WEBHOOK_PORTS[0]}/validate
    caBundle: $(base64 -w0 <"${WEBHOOK_CAS[0]}")
  objectSelector:
    matchLabels: {execgov.io/governed: "true"}
    matchExpressions:
    - {key: kubernetes.io/metadata.name, operator: In, values: [$ns]}
  rules:
  - {apiGroups: [""], apiVersions: [v1], operations: [UPDATE], resources: [namespaces], scope: Cluster}
YAML
unlabel() { kubectl label namespace "$ns" execgov.io/governed- --as="$1" "${@:2}" >/dev/null 2>unlabel.err; }
guarded() { ! unlabel "$mallory" --dry-run=server && grep -q 'GuardRefused' unlabel.err; }
poll 60 guarded || fail "the guard never refused a dry-run unlabel: $(cat unlabel.err)"
if unlabel "$mallory"; then fail "$mallory removed execgov.io/governed"; fi
grep -q "execgov: GuardRefused: " unlabel.err || fail "not refused by the guard: $(cat unlabel.err)"
echo "refused to $mallory: $(cat unlabel.err)"

# Break-glass: unsigned, refused to dave alone, admitted to dave as on-call.
if kubectl run urgent -n "$ns" --image=registry.example.com/tools/fix:1 --restart=Never --as="$dave" 2>bg.err >/dev/null; then
  fail "an unsigned Pod was admitted outside break-glass"
fi
grep -q "MissingArtifact" bg.err || fail "not refused for the missing artifact: $(cat bg.err)"
kubectl run emergency -n "$ns" --image=registry.example.com/tools/fix:1 --restart=Never \
  --as="$dave" --as-group="$oncall" --as-group=system:authenticated >/dev/null 2>bg.err || fail "break-glass was refused: $(cat bg.err)"
grep -q "execgov: BreakGlass: " bg.err || fail "no break-glass warning: $(cat bg.err)"
break_glass_recorded() { ledger_json --type admission --decision allowed | grep -q "\"breakGlass\":{\"group\":\"$oncall\""; }
poll 30 break_glass_recorded || fail "no breakGlass admission record"
# has_bg_warning KIND NAME: the report holds a break-glass warning for it.
has_bg_warning() {
  report_json | python3 -c '
import json, sys
kind, name = sys.argv[1:3]
r = json.load(sys.stdin)
sys.exit(0 if [x for x in r["results"] if x["rule"] == "BreakGlass" and x["result"] == "warn"
               and x["resources"][0]["kind"] == kind and x["resources"][0]["name"] == name] else 1)' "$@" 2>/dev/null
}
poll 60 has_bg_warning Pod emergency || fail "the break-glass Pod is not reported: $(report_json)"
poll 30 event emergency BreakGlass || fail "no BreakGlass Event"
[ "$(metric 'execgov_runtime_violations{reason="BreakGlass"}')" = 1 ] || fail "execgov_runtime_violations{reason=\"BreakGlass\"} is not 1"

# A break-glass Job: the Job controller makes its Pods without an artifact
# (the Job has none to pass on); they are admitted as break-glass too,
# recorded with the Job's uid, and reported.
kubectl create job hotfix -n "$ns" --image=registry.example.com/tools/fix:1 \
  --as="$dave" --as-group="$oncall" --as-group=system:authenticated >/dev/null 2>bg.err || fail "the break-glass Job was refused: $(cat bg.err)"
hotfix_uid=$(kubectl get job hotfix -n "$ns" -o jsonpath='{.metadata.uid}')
hotfix_pod=
hotfix_pod_made() { hotfix_pod=$(kubectl get pods -n "$ns" -l job-name=hotfix -o jsonpath='{.items[0].metadata.name}' 2>/dev/null); [ -n "$hotfix_pod" ]; }
poll 60 hotfix_pod_made || fail "no Pod of the break-glass Job was admitted: $(kubectl get events -n "$ns" --field-selector involvedObject.name=hotfix -o custom-columns=M:.message --no-headers | tail -n 3)"
hotfix_pod_recorded() {
  ledger_json --type admission --decision allowed | python3 -c '
import json, sys
pod, oncall, job = sys.argv[1:4]
sys.exit(0 if [r for r in map(json.loads, sys.stdin) if r["object"]["name"] == pod and r["object"]["kind"] == "Pod"
               and r.get("breakGlass", {}).get("group") == oncall and r["breakGlass"].get("job") == job
               and r["user"] == "system:serviceaccount:kube-system:job-controller"] else 1)' "$hotfix_pod" "$oncall" "$hotfix_uid"
}
poll 30 hotfix_pod_recorded || fail "Pod $hotfix_pod is not recorded as break-glass through Job hotfix: $(ledger_json --type admission | tail -n 3)"
poll 60 has_bg_warning Job hotfix || fail "the break-glass Job is not reported: $(report_json)"
poll 60 has_bg_warning Pod "$hotfix_pod" || fail "the break-glass Job's Pod is not reported: $(report_json)"
poll 30 event "$hotfix_pod" BreakGlass || fail "no BreakGlass Event on Pod $hotfix_pod"
echo "break-glass Job hotfix and its Pod $hotfix_pod: admitted, recorded, reported"

# The guardian may: allowed and recorded; what runs there is then Ungoverned.
unlabel "$guardian" || fail "the guardian could not remove the label: $(cat unlabel.err)"
guards() { ledger_json --type guard; }
guards | python3 -c '
import json, sys
mallory, guardian, ns, policy = sys.argv[1:5]
got = [(r["user"], r["decision"], r["object"]["name"], r.get("policy", {}).get("name")) for r in map(json.loads, sys.stdin)
       if r["guard"] == "namespace-governed-label"]
assert got == [(mallory, "denied", ns, None), (guardian, "allowed", ns, policy)], got
print("guard records:", got)' "$mallory" "$guardian" "$ns" "$CLUSTER_ID" || fail "the guard records are wrong: $(guards)"
poll 60 has_result Pod emergency Ungoverned Report || fail "the Pod in the unlabelled namespace is not Ungoverned: $(report_json)"
# The pass that wrote the report would have deleted it first under Terminate.
kubectl get pod emergency -n "$ns" >/dev/null || fail "the Ungoverned (break-glass) Pod was terminated"
enforcement_records=$(ledger_json --type enforcement)  # whole, as for the orphan above
if grep -q '"name":"emergency"' <<<"$enforcement_records"; then fail "an enforcement record for the Ungoverned Pod"; fi
kubectl delete pod emergency -n "$ns" --wait=false >/dev/null
kubectl delete job hotfix -n "$ns" --cascade=foreground --wait=false >/dev/null
poll 60 no_report || fail "the PolicyReport outlived the break-glass workloads: $(report_json)"

"$execgov" ledger verify --ledger "$LEDGER_URL" --checkpoint-key "$LEDGER_PUB" || fail "ledger verify failed"
echo "PASS: runtime verification"
