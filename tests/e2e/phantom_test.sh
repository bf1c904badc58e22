#!/usr/bin/env bash
# Phantom admissions against the real control plane (docs/operator.md#phantom-admissions):
#
#   phantom_test.sh EXECGOV
#
# `execgov webhook` and `execgov operator` (--phantom-after 10s) run as in
# operator_test.sh, beside tests/e2e/deny_webhook.py registered as a second
# validating webhook for this run's Pods labelled e2e.execgov.io/deny=true.
#   - a signed Pod that execgov allows and the deny webhook refuses, and a
#     second signed creation of a Pod name that exists (etcd refuses it,
#     AlreadyExists), never exist: each gets exactly one `outcome` record
#     `not-created` whose `admission` is the hash of its allowed admission
#     record;
#   - a signed Pod that was created, and one created and deleted at once,
#     get none;
#   - the metric execgov_lineage_phantom_admissions_total counts 2, `ledger
#     show` prints the outcome, and the ledger verifies.
set -euo pipefail

source "$(dirname "$0")/cluster_lib.sh"
cluster_init "$1" phantom
execgov=$EXECGOV
ns=$CLUSTER_ID
grace=10
cluster_on_cleanup 'for p in "${OPERATOR_PIDS[@]}"; do stop_pid "$p"; done
  kubectl delete lease -n "$CLUSTER_SYSTEM_NS" "execgov-operator-$CLUSTER_ID" --ignore-not-found >/dev/null 2>&1
  kubectl delete validatingwebhookconfiguration "deny-$CLUSTER_ID" --ignore-not-found >/dev/null 2>&1'

cluster_governed_setup "$ns"

# --- The second webhook: refuses this run's Pods labelled for it.
mkdir deny
deny_webhook_start "$CLUSTER_WORK/deny" "phantom e2e: refused"
cluster_on_cleanup "kill $DENY_PID 2>/dev/null"
deny_webhook_apply "deny-$CLUSTER_ID" "  namespaceSelector:
    matchExpressions:
    - {key: kubernetes.io/metadata.name, operator: In, values: [$ns]}
  objectSelector:
    matchLabels: {e2e.execgov.io/deny: \"true\"}"

# pod_yaml NAME [LABELS]: a Pod in $ns.
pod_yaml() {
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $ns, labels: {${2:-}}}
spec:
  restartPolicy: Never
  containers:
  - {name: run, image: registry.example.com/tools/run:1, command: ["/run"], args: ["$1"]}
YAML
}
signed_pod() {  # signed_pod FILE NAME [LABELS]
  pod_yaml "$2" "${3:-}" >"$1.yaml"
  sign -f "$1.yaml" >"$1.signed.yaml" || fail "cannot sign $1.yaml"
}

signed_pod denied denied 'e2e.execgov.io/deny: "true"'
# The API server picks the configuration up asynchronously; a server dry run
# (execgov neither records nor consumes one) shows when it is in force.
refused_by_deny() {
  ! kubectl create -f denied.signed.yaml --dry-run=server >/dev/null 2>dry.err &&
    grep -qF 'deny.e2e.execgov.io' dry.err
}
poll 30 refused_by_deny || fail "the deny webhook never refused a dry run: $(cat dry.err); its log: $(cat deny/webhook.log)"

# --- The operator, judging after a short grace.
start_operator --phantom-after "${grace}s" --lineage-interval 1
judging() { grep -q 'judging allowed creations recorded from here on' "$CLUSTER_WORK/operator-0.log"; }
poll 60 judging || fail "the operator never started judging: $(tail -n 20 "$CLUSTER_WORK/operator-0.log")"

ledger_json() { "$execgov" ledger show --ledger "$LEDGER_URL" -o json "$@"; }

# Made: a Pod that exists, and one that exists for a moment (a Pod on no node
# is deleted at once).
signed_pod made made
made_uid=$(kubectl create -f made.signed.yaml -o jsonpath='{.metadata.uid}') || fail "Pod made was not admitted"
signed_pod brief brief
brief_uid=$(kubectl create -f brief.signed.yaml -o jsonpath='{.metadata.uid}') || fail "Pod brief was not admitted"
kubectl delete pod brief -n "$ns" --wait=false >/dev/null
gone() { ! kubectl get pod brief -n "$ns" >/dev/null 2>&1; }
poll 30 gone || fail "Pod brief was not deleted"

# Never made: refused by the other webhook after execgov allowed it ...
if out=$(kubectl create -f denied.signed.yaml 2>&1); then fail "the denied Pod was created: $out"; fi
grep -qF 'admission webhook "deny.e2e.execgov.io" denied the request' <<<"$out" || fail "not refused by the deny webhook: $out"
# ... and a second Pod named `made` (a new artifact): admitted, then refused by storage.
signed_pod made-again made
if out=$(kubectl create -f made-again.signed.yaml 2>&1); then fail "a second Pod named made was created: $out"; fi
grep -q 'AlreadyExists\|already exists' <<<"$out" || fail "the second Pod named made was not refused as existing: $out"
echo "refused after execgov allowed them: Pod denied (another webhook), a second Pod made (already exists)"

# Their allowed admission records, and what the operator writes about them.
ledger_json --type admission --decision allowed >allowed.jsonl
python3 - allowed.jsonl "$ns" "$made_uid" >phantoms.txt <<'PY' || fail "the allowed admissions are not as expected: $(cat allowed.jsonl)"
import hashlib, json, sys
ns, made_uid = sys.argv[2], sys.argv[3]
creates = {}
for line in open(sys.argv[1], "rb"):
    r = json.loads(line)
    o = r["object"]
    if o["namespace"] == ns and o["operation"] == "CREATE":
        creates.setdefault(o["name"], []).append((r, "sha256:" + hashlib.sha256(b"\0" + line.rstrip(b"\n")).hexdigest()))
assert len(creates["denied"]) == 1, creates.get("denied")
assert len(creates["made"]) == 2 and creates["made"][0][0]["object"]["uid"] == made_uid, creates["made"]
for r, h in (creates["denied"][0], creates["made"][1]):
    print(r["object"]["uid"], r["seq"], h)
PY
cat phantoms.txt
read -r denied_uid _ _ < <(sed -n 1p phantoms.txt)
read -r again_uid _ _ < <(sed -n 2p phantoms.txt)

both_marked() { [ "$(ledger_json --type outcome | grep -c -e "$denied_uid" -e "$again_uid")" = 2 ]; }
poll $((grace + 60)) both_marked || fail "no not-created records after $((grace + 60))s: $(ledger_json --type outcome)"

# Outcomes are written in admission order, so by now made and brief, admitted
# before, have been judged too: exactly the two phantoms are marked, once each.
ledger_json --type outcome >outcomes.jsonl
python3 - outcomes.jsonl phantoms.txt "$ns" "$made_uid" "$brief_uid" <<'PY' || fail "the outcome records are wrong: $(cat outcomes.jsonl)"
import json, sys
mine = {}
for line in open(sys.argv[2]):
    uid, seq, h = line.split()
    mine[uid] = (int(seq), h)
outcomes = [json.loads(l) for l in open(sys.argv[1])]
marked = [o["object"]["uid"] for o in outcomes]
assert sorted(marked) == sorted(mine), (marked, mine)
for o in outcomes:
    seq, h = mine[o["object"]["uid"]]
    assert o["outcome"] == "not-created", o
    assert o["admission"] == h and o["admissionSeq"] == seq, (o, seq, h)
    assert o["object"]["kind"] == "Pod" and o["object"]["namespace"] == sys.argv[3], o
    assert o["operator"].startswith("operator-0-"), o
    assert o["seq"] > seq, o
for uid in sys.argv[4:]:
    assert uid not in marked, ("an object that was created is marked", uid)
print("not-created exactly for", sorted(marked))
PY

metric() {
  curl -sf "http://127.0.0.1:${OPERATOR_METRICS_PORTS[0]}/metrics" |
    awk '/^execgov_lineage_phantom_admissions_total\{kind="Pod"\}/ { print $NF }'
}
[ "$(metric)" = 2 ] || fail "execgov_lineage_phantom_admissions_total is '$(metric)', not 2"

"$execgov" ledger show --ledger "$LEDGER_URL" --type outcome | tee show.txt
grep -E "outcome +not-created +admission [0-9]+ +Pod/$ns/denied" show.txt >/dev/null || fail "ledger show does not show the outcome"
"$execgov" ledger verify --ledger "$LEDGER_URL" --checkpoint-key "$LEDGER_PUB" || fail "ledger verify failed"
echo "PASS: phantom admissions"
