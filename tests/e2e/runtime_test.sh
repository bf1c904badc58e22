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
#     created; once the configuration is back, the operator's runtime
#     verifier reports it: a result in the namespace's PolicyReport
#     (wgpolicyk8s.io/v1alpha2, `kubectl get polr -A`), an Event, and
#     execgov_runtime_violations{reason="Unadmitted"} 1.
#   - spec.runtime Terminate with dryRun: an Event says what would be
#     stopped, the report says "Terminate (dry run)", and the Pod stays.
#   - Terminate: the Pod is deleted after an `enforcement` ledger record
#     (action delete, reason Unadmitted, the Pod, the policy).
#   - Revoked: a signed Job runs clean (no finding); once its jti is revoked
#     the Job is suspended, with its `enforcement` record (action suspend).
#   - The PolicyReport empties out once nothing is found.
#   - The guards: removing execgov.io/governed is refused to an unlisted user
#     and allowed to a namespace guardian, both recorded (type guard); an
#     unsigned Pod is admitted to a break-glass group member only, recorded
#     with breakGlass, reported (warn, Event, metric), and once the namespace
#     lost its label, reported Ungoverned; the ledger verifies.
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

# policy_with RUNTIME_YAML [JTI]: this run's policy with spec.runtime (and a revoked jti).
policy_with() {
  cluster_policy "$CLUSTER_ID" "$ns"
  echo "  runtime: $1"
  [ -z "${2:-}" ] || echo "  revocations: {jtis: [\"$2\"]}"
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

# --- Unadmitted: a Pod made while the webhook configuration was removed.
kubectl delete validatingwebhookconfiguration "$WEBHOOK_CONFIG" >/dev/null
bypassed() {
  kubectl run "probe-$CLUSTER_ID" -n "$ns" --image=registry.example.com/probe:1 --restart=Never --dry-run=server >/dev/null 2>&1
}
poll 60 bypassed || fail "the API server still calls the removed webhook"
kubectl run bypass -n "$ns" --image=registry.example.com/tools/run:1 --restart=Never >/dev/null || fail "cannot create the bypassing Pod"
# The operator noticed the configuration's deletion: a guard record, and the metric.
config_guard() { ledger_json --type guard | grep -q "\"decision\":\"$1\".*\"guard\":\"webhook-configuration\""; }
poll 30 config_guard changed || fail "no guard record for the deleted webhook configuration: $(ledger_json --type guard)"
[ "$(metric "execgov_webhook_configuration_intact{name=\"$WEBHOOK_CONFIG\"}")" = 0 ] || fail "the configuration is not reported broken"
register_webhook 0
wait_webhook_active "$ns"
poll 30 config_guard restored || fail "no guard record for the restored webhook configuration: $(ledger_json --type guard)"
echo "created Pod bypass while the webhook configuration was removed; the configuration is back"

poll 60 has_result Pod bypass Unadmitted Report || fail "no Unadmitted result for Pod bypass: $(report_json || echo no report); $(tail -n 20 "$CLUSTER_WORK/operator-0.log")"
kubectl get polr -A | tee polr.txt
grep -E "^$ns +execgov-runtime +0 +1 " polr.txt >/dev/null || fail "kubectl get polr -A does not show one failure in $ns"
poll 30 event bypass Unadmitted || fail "no Unadmitted Event on Pod bypass"
[ "$(metric 'execgov_runtime_violations{reason="Unadmitted"}')" = 1 ] ||
  fail "execgov_runtime_violations{reason=\"Unadmitted\"} is '$(metric 'execgov_runtime_violations{reason="Unadmitted"}')', not 1"

# --- Terminate, dry run first: said, not done.
policy_with '{action: Terminate, gracePeriodSeconds: 0, dryRun: true}' >policy.yaml
cluster_apply_policy policy.yaml
poll 60 event bypass WouldTerminate || fail "no WouldTerminate Event under dryRun"
poll 30 has_result Pod bypass Unadmitted "Terminate (dry run)" || fail "the report does not say Terminate (dry run): $(report_json)"
kubectl get pod bypass -n "$ns" >/dev/null || fail "dryRun deleted the Pod"
[ -z "$(ledger_json --type enforcement)" ] || fail "dryRun wrote an enforcement record"

# --- Terminate: the Pod is deleted, with its enforcement record.
policy_with '{action: Terminate, gracePeriodSeconds: 0}' >policy.yaml
cluster_apply_policy policy.yaml
pod_gone() { ! kubectl get pod bypass -n "$ns" >/dev/null 2>&1; }
poll 60 pod_gone || fail "Terminate did not delete Pod bypass: $(tail -n 20 "$CLUSTER_WORK/operator-0.log")"
ledger_json --type enforcement >enforcement.jsonl
python3 - enforcement.jsonl "$ns" "$CLUSTER_ID" <<'PY' || fail "the enforcement record is wrong: $(cat enforcement.jsonl)"
import json, sys
records = [json.loads(l) for l in open(sys.argv[1])]
assert len(records) == 1, records
r = records[0]
assert r["action"] == "delete" and r["reason"] == "Unadmitted", r
assert r["object"]["kind"] == "Pod" and r["object"]["namespace"] == sys.argv[2] and r["object"]["name"] == "bypass", r
assert r["policy"]["name"] == sys.argv[3], r
assert r["operator"].startswith("operator-0-"), r
print("enforcement:", r["action"], r["reason"], r["object"]["kind"], r["object"]["name"], "seq", r["seq"])
PY
no_report() { ! report_json >/dev/null; }
poll 30 no_report || fail "the PolicyReport outlived the deleted Pod: $(report_json)"

# --- Revoked: a signed Job runs clean until its jti is revoked, then is suspended.
job_manifest rotate "$ns" >job.yaml
sign -f job.yaml >job.signed.yaml
kubectl create -f job.signed.yaml >/dev/null || fail "the signed Job was not admitted"
jti=$(python3 -c '
import base64, json, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
payload = doc["metadata"]["annotations"]["execgov.io/authorization"].split(".")[1]
print(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])' job.signed.yaml)
pods_made() { [ -n "$(kubectl get pods -n "$ns" -l job-name=rotate -o name)" ]; }
poll 60 pods_made || fail "the Job controller made no Pod for Job rotate"
# A clean Job and its Pod (admitted by inheritance): no finding over three passes.
if poll 6 report_json >/dev/null; then fail "a finding about a clean Job: $(report_json)"; fi
policy_with '{action: Terminate, gracePeriodSeconds: 0}' "$jti" >policy.yaml
cluster_apply_policy policy.yaml
suspended() { [ "$(kubectl get job rotate -n "$ns" -o jsonpath='{.spec.suspend}')" = true ]; }
poll 60 suspended || fail "Job rotate was not suspended after its jti was revoked: $(tail -n 20 "$CLUSTER_WORK/operator-0.log")"
suspend_recorded() { ledger_json --type enforcement | grep -q '"action":"suspend"'; }
poll 30 suspend_recorded || fail "no suspend record: $(ledger_json --type enforcement)"
ledger_json --type enforcement | python3 -c '
import json, sys
r = [json.loads(l) for l in sys.stdin if "\"suspend\"" in l][0]
assert r["reason"] == "Revoked" and r["object"]["kind"] == "Job" and r["object"]["name"] == "rotate", r
assert sys.argv[1] in r["message"], r
print("enforcement:", r["action"], r["reason"], r["object"]["kind"], r["object"]["name"], "seq", r["seq"])' "$jti" ||
  fail "the suspend record is wrong"
poll 30 event rotate Suspended || fail "no Suspended Event on Job rotate"
poll 30 has_result Job rotate Revoked Terminate || fail "the report does not show the revoked Job: $(report_json)"

# --- Nothing left to find: the report empties once the Job is gone.
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
policy_with "{action: Report, namespaceGuardians: {users: [$guardian]}, breakGlass: {groups: [$oncall]}}" >policy.yaml
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
has_warning() {
  report_json | python3 -c '
import json, sys
r = json.load(sys.stdin)
sys.exit(0 if [x for x in r["results"] if x["rule"] == "BreakGlass" and x["result"] == "warn"
               and x["resources"][0]["name"] == "emergency"] else 1)' 2>/dev/null
}
poll 60 has_warning || fail "the break-glass Pod is not reported: $(report_json)"
poll 30 event emergency BreakGlass || fail "no BreakGlass Event"
[ "$(metric 'execgov_runtime_violations{reason="BreakGlass"}')" = 1 ] || fail "execgov_runtime_violations{reason=\"BreakGlass\"} is not 1"

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
kubectl delete pod emergency -n "$ns" --wait=false >/dev/null
poll 60 no_report || fail "the PolicyReport outlived the break-glass Pod: $(report_json)"

"$execgov" ledger verify --ledger "$LEDGER_URL" --checkpoint-key "$LEDGER_PUB" || fail "ledger verify failed"
echo "PASS: runtime verification"
