#!/usr/bin/env bash
# `execgov webhook` in cluster mode, called by the real kube-apiserver, running
# as the execgov-webhook service account with least-privilege RBAC:
#   - a policy applied with kubectl is enforced (the webhook compiles it from
#     its informer; the unsigned Pod's refusal names MissingArtifact, not
#     NoMatchingPolicy);
#   - a policy's namespaceSelector follows the Namespace's labels (a label
#     added makes it match, removed makes it not);
#   - an unsigned Pod is refused and kubectl shows "execgov: MissingArtifact: ...";
#   - a Job signed with `execgov sign` is admitted and the Pods the real
#     kube-controller-manager makes from it are admitted by inheritance;
#   - the same artifact on a second Job is refused (ReplayDetected), and of two
#     Jobs sent at once with one fresh artifact exactly one is admitted;
#   - a namespace not labelled governed and kube-system are never sent to the
#     webhook (its request counter does not move while objects are created
#     there, though it moves for the governed namespace), and a kube-system
#     object sent to it directly is allowed unrecorded;
#   - `execgov ledger verify` passes on the ConfigMap ledger in execgov-system
#     (this run's own origin) and it holds every step, nothing ungoverned.
# Usage: webhook_admission_test.sh PATH-TO-EXECGOV (run by ctest with the fixture).
set -euo pipefail

source "$(dirname "$0")/cluster_lib.sh"
cluster_init "$1" wh-adm
execgov=$EXECGOV
ns=$CLUSTER_ID
plain_ns=$CLUSTER_ID-plain

cluster_apply_crds
cluster_setup_identities
cluster_make_keys
cluster_namespace "$ns" governed
cluster_namespace "$plain_ns"
sel_ns=$CLUSTER_ID-sel
cluster_namespace "$sel_ns" governed
kubectl label namespace "$sel_ns" "execgov-e2e=$CLUSTER_ID" >/dev/null

start_webhooks 1
wait_webhooks_ready 60
echo "webhook ready as $(kubectl --kubeconfig "$WEBHOOK_KUBECONFIG" auth whoami -o jsonpath='{.status.userInfo.username}' 2>/dev/null || echo execgov-webhook)"
register_webhook 0

# Before any policy names the namespace, the webhook refuses for want of one.
wait_webhook_active "$ns"
grep -q 'execgov: NoMatchingPolicy: ' "$CLUSTER_WORK/probe.err" || { cat "$CLUSTER_WORK/probe.err"; fail "expected NoMatchingPolicy before the policy"; }

# 1. kubectl apply of a policy: the webhook picks it up from the API.
cluster_policy "$CLUSTER_ID" "$ns" >policy.yaml
cluster_apply_policy policy.yaml
requests() { webhook_metric 0 '^execgov_admission_requests_total'; }
before=$(requests)
unsigned_refused() {
  ! kubectl run unsigned -n "$ns" --image=registry.example.com/x:1 --restart=Never >/dev/null 2>err.txt &&
    grep -q 'execgov: MissingArtifact: ' err.txt
}
poll 30 unsigned_refused || { cat err.txt; fail "an unsigned Pod was not refused with MissingArtifact"; }
echo "unsigned Pod refused: $(cat err.txt)"
after=$(requests)
((after > before)) || fail "the request counter did not move for a governed namespace ($before -> $after)"

# 2. namespaceSelector, evaluated against the Namespace's labels in cluster.
cluster_policy "$CLUSTER_ID-sel" >sel-policy.yaml
sed -i "s/^  match: .*/  match: {namespaceSelector: {matchLabels: {execgov-e2e: $CLUSTER_ID}}}/" sel-policy.yaml
grep -q 'namespaceSelector' sel-policy.yaml || fail "could not write the selector policy"
cluster_apply_policy sel-policy.yaml
sel_reason() {
  ! kubectl run unsigned -n "$sel_ns" --image=registry.example.com/x:1 --restart=Never --dry-run=server \
    >/dev/null 2>err.txt && grep -q "execgov: $1: " err.txt
}
poll 30 sel_reason MissingArtifact || { cat err.txt; fail "the namespaceSelector policy did not match its labelled namespace"; }
kubectl label namespace "$sel_ns" execgov-e2e- >/dev/null
poll 30 sel_reason NoMatchingPolicy || { cat err.txt; fail "the namespaceSelector policy still matched after the label went"; }
echo "namespaceSelector follows the Namespace's labels"

# 3. Never touched: a namespace not labelled governed, and kube-system.
before=$(requests)
kubectl run unsigned -n "$plain_ns" --image=registry.example.com/x:1 --restart=Never >/dev/null ||
  fail "an ungoverned namespace was blocked"
kubectl run "unsigned-$CLUSTER_ID" -n kube-system --image=registry.example.com/x:1 --restart=Never >/dev/null ||
  fail "kube-system was blocked"
cluster_on_cleanup "kubectl delete pod unsigned-$CLUSTER_ID -n kube-system --ignore-not-found >/dev/null 2>&1"
kubectl create job "plain-$CLUSTER_ID" -n "$plain_ns" --image=registry.example.com/x:1 >/dev/null ||
  fail "a Job in an ungoverned namespace was blocked"
after=$(requests)
[ "$after" = "$before" ] || fail "the webhook was called for an ungoverned namespace ($before -> $after requests)"
# Even if an API server sent it a kube-system object, it would pass untouched.
kubectl get pod "unsigned-$CLUSTER_ID" -n kube-system -o json >ks-pod.json
"$execgov" review -f ks-pod.json >ks-review.json
curl -sf --cacert "${WEBHOOK_CAS[0]}" -H 'Content-Type: application/json' --data @ks-review.json \
  "https://127.0.0.1:${WEBHOOK_PORTS[0]}/validate" >ks-response.json
python3 -c 'import json,sys; r=json.load(open("ks-response.json"))["response"]; sys.exit(0 if r["allowed"] else 1)' ||
  fail "a kube-system Pod sent directly was refused: $(cat ks-response.json)"
echo "ungoverned namespaces untouched (requests $before -> $after)"

# 4. A signed Job is admitted, and its Pods by inheritance.
job_manifest rotate "$ns" >job.yaml
sign -f job.yaml >signed.yaml
kubectl apply -f signed.yaml >/dev/null || fail "the signed Job was refused"
pods() { [ "$(kubectl get pods -n "$ns" -l job-name=rotate -o name | wc -l)" -ge 1 ]; }
poll 60 pods || { kubectl get events -n "$ns"; fail "the Job controller's Pod was not admitted"; }
echo "signed Job admitted; its Pod: $(kubectl get pods -n "$ns" -l job-name=rotate -o name)"

# 5. The same artifact on another Job: a replay.
sed 's/^  name: rotate$/  name: rotate-again/' signed.yaml >replay.yaml
grep -q 'name: rotate-again' replay.yaml || fail 'could not rename the Job'
if kubectl apply -f replay.yaml 2>err.txt; then fail "a replayed artifact was admitted"; fi
grep -q 'execgov: ReplayDetected: ' err.txt || { cat err.txt; fail "kubectl did not show ReplayDetected"; }
echo "replay refused: $(cat err.txt)"

# 6. Two Jobs with one fresh artifact at the same moment: exactly one wins.
job_manifest race "$ns" >race.yaml
sign -f race.yaml >race-a.yaml
sed 's/^  name: race$/  name: race-b/' race-a.yaml >race-b.yaml
grep -q 'name: race-b' race-b.yaml || fail 'could not rename the Job'
kubectl create -f race-a.yaml >race-a.out 2>&1 &
a=$!
kubectl create -f race-b.yaml >race-b.out 2>&1 &
b=$!
wins=0
wait $a && wins=$((wins + 1))
wait $b && wins=$((wins + 1))
[ $wins = 1 ] || fail "$wins of two racing Jobs with one artifact were admitted: $(cat race-a.out race-b.out)"
cat race-a.out race-b.out | grep -q 'execgov: ReplayDetected: ' || fail "the loser was not refused as a replay"
echo "racing Jobs: exactly one admitted"

# 7. The ledger: verify, and every step is there; nothing ungoverned.
# SIGTERM: a clean stop (exit 0) that stops the caches and writes the final checkpoint.
kill -TERM "${WEBHOOK_PIDS[0]}"
rc=0
wait "${WEBHOOK_PIDS[0]}" || rc=$?
[ $rc = 0 ] || fail "the webhook exited with $rc on SIGTERM"
"$execgov" ledger verify --ledger "$LEDGER_URL" --checkpoint-key "$LEDGER_PUB" || fail "the ledger does not verify"
"$execgov" ledger show --ledger "$LEDGER_URL" -o json >records.json
python3 - "$ns" "$plain_ns" <<'PY'
import json, sys
ns, plain = sys.argv[1], sys.argv[2]
text = open("records.json").read().strip()
records = json.loads(text) if text.startswith("[") else [json.loads(l) for l in text.splitlines() if l.strip()]
def has(kind, decision, reason, name=None):
    return any(r.get("object", {}).get("kind") == kind and r.get("object", {}).get("namespace") == ns
               and r.get("decision") == decision and r.get("reason") == reason
               and (name is None or r["object"].get("name", "").startswith(name)) for r in records)
for want in [("Pod", "denied", "MissingArtifact"), ("Job", "allowed", "Allowed", "rotate"),
             ("Pod", "allowed", "Allowed", "rotate-"), ("Job", "denied", "ReplayDetected", "rotate-again")]:
    if not has(*want):
        sys.exit("ledger lacks %s" % (want,))
for r in records:
    if r.get("object", {}).get("namespace") in (plain, "kube-system"):
        sys.exit("ledger holds an ungoverned object: %s" % r)
print("ledger holds every step (%d records)" % len(records))
PY
echo PASS
