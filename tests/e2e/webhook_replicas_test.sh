#!/usr/bin/env bash
# Two `execgov webhook` replicas sharing one replay store (ConfigMaps in
# execgov-system) and one ConfigMap ledger, with a policy whose key is a
# publicKeyRef to a Secret in execgov-system:
#   - AdmissionReviews for two objects carrying one fresh artifact, fired at
#     both replicas at the same moment (20 rounds): exactly one is allowed
#     each time, the other refused with ReplayDetected; one replica writes
#     the ledger, the other forwards its records to it;
#   - inheritance across replicas: an ExecutionRequest admitted by one replica,
#     its Job (made by the operator's identity) by the other, the Job's Pod
#     (made by the job-controller) by the first again; a Pod whose owner did
#     not consume the artifact is refused (LineageDiscontinuity);
#   - a replica that cannot reach the API server is never ready and answers
#     PolicyNotReady;
#   - the shared ledger verifies and holds every decision of both replicas.
# Usage: webhook_replicas_test.sh PATH-TO-EXECGOV (run by ctest with the fixture).
set -euo pipefail

source "$(dirname "$0")/cluster_lib.sh"
cluster_init "$1" wh-rep
execgov=$EXECGOV
ns=$CLUSTER_ID

cluster_apply_crds
cluster_setup_identities
cluster_make_keys
cluster_namespace "$ns" governed

# The authority's public key in a Secret of the install namespace.
secret=$CLUSTER_ID-keys
kubectl create secret generic "$secret" -n execgov-system --from-file=authority.pub="$AUTHORITY_PUB" >/dev/null
cluster_on_cleanup "kubectl delete secret $secret -n execgov-system --ignore-not-found >/dev/null 2>&1"
cat >policy.yaml <<YAML
apiVersion: execgov.io/v1alpha1
kind: ExecutionPolicy
metadata: {name: $CLUSTER_ID}
spec:
  audience: e2e-cluster
  maxTTL: 15m
  match: {namespaces: [$ns]}
  trustedControllers:
  - system:serviceaccount:kube-system:job-controller
  - system:serviceaccount:execgov-system:execgov-operator
  issuers:
  - name: e2e-authority
    subjects: ["agent:*"]
    keys:
    - kid: $AUTHORITY_KID
      algorithm: Ed25519
      publicKeyRef: {kind: Secret, namespace: execgov-system, name: $secret, key: authority.pub}
YAML
cluster_apply_policy policy.yaml

start_webhooks 2
wait_webhooks_ready 60


# fire.py REPLICA:FILE ...: posts each AdmissionReview to its replica, all at
# the same moment (a barrier), and prints each response as one JSON line.
cat >fire.py <<'PY'
import json, ssl, sys, threading, http.client
targets = [a.split(":", 2) for a in sys.argv[1:]]  # port:ca:file
barrier = threading.Barrier(len(targets))
out = [None] * len(targets)
def send(i, port, ca, path):
    body = open(path, "rb").read()
    ctx = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=30)
    conn.connect()  # handshake first, so the barrier lines up the requests themselves
    barrier.wait()
    conn.request("POST", "/validate", body, {"Content-Type": "application/json"})
    out[i] = json.loads(conn.getresponse().read())["response"]
threads = [threading.Thread(target=send, args=(i, *t)) for i, t in enumerate(targets)]
for t in threads: t.start()
for t in threads: t.join()
for r in out: print(json.dumps(r))
PY
target() { echo "${WEBHOOK_PORTS[$1]}:${WEBHOOK_CAS[$1]}:$2"; }

# 1. Races: one artifact, two objects, two replicas, one moment.
rounds=20
for ((i = 0; i < rounds; i++)); do
  job_manifest "race-$i" "$ns" >"race-$i.yaml"
  sign -f "race-$i.yaml" >"signed-$i.yaml"
  "$execgov" review -f "signed-$i.yaml" --uid "race-$i-a-$CLUSTER_ID" >"review-$i-a.json"
  "$execgov" review -f "signed-$i.yaml" --uid "race-$i-b-$CLUSTER_ID" >"review-$i-b.json"
  # Alternate which replica gets which object.
  python3 fire.py "$(target $((i % 2)) "review-$i-a.json")" "$(target $(((i + 1) % 2)) "review-$i-b.json")" \
    >"responses-$i.jsonl"
  python3 - "responses-$i.jsonl" <<'PY' || fail "round $i: $(cat "responses-$i.jsonl")"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
allowed = [r for r in rs if r["allowed"]]
denied = [r for r in rs if not r["allowed"]]
if len(allowed) != 1: sys.exit("%d of 2 allowed" % len(allowed))
if not denied[0]["status"]["message"].startswith("execgov: ReplayDetected: "): sys.exit("loser: %s" % denied[0])
PY
done
echo "$rounds rounds of one artifact at two replicas at once: exactly one allowed each time"
# One replica writes the ledger's tail; the other sent it its records
# (--ledger-forward-listen, as the chart runs them).
sent=0
for i in 0 1; do
  n=$(curl -sf "http://127.0.0.1:${WEBHOOK_METRICS_PORTS[$i]}/metrics" |
    awk '/^execgov_ledger_forward_records_total/ && /role="sent"/ && /result="(stored|refused)"/ {s += $2} END {print s + 0}')
  sent=$((sent + n))
done
[ "$sent" -gt 0 ] || fail "no replica forwarded a record to the one writing the ledger"
echo "records one replica forwarded to the other: $sent"

# 2. Inheritance across replicas: ExecutionRequest -> Job -> Pod.
cat >ereq.json <<JSON
{"apiVersion": "execgov.io/v1alpha1", "kind": "ExecutionRequest", "metadata": {"name": "chain", "namespace": "$ns"},
 "spec": {"initiator": "agent:e2e", "intent": "e2e chain",
   "template": {"spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
     "containers": [{"name": "work", "image": "registry.example.com/tools/work:1", "command": ["/chain"]}]}}}}}}
JSON
sign -f ereq.json >ereq-signed.json
python3 - "$ns" <<'PY'
import json, sys
ns = sys.argv[1]
ereq = json.load(open("ereq-signed.json"))
ereq["metadata"]["uid"] = "ereq-uid"
art = ereq["metadata"]["annotations"]["execgov.io/authorization"]
def owned(kind, api, name, uid):
    return [{"apiVersion": api, "kind": kind, "name": name, "uid": uid, "controller": True}]
job = {"apiVersion": "batch/v1", "kind": "Job",
       "metadata": {"name": "chain", "namespace": ns, "uid": "job-uid", "annotations": {"execgov.io/authorization": art},
                    "ownerReferences": owned("ExecutionRequest", "execgov.io/v1alpha1", "chain", "ereq-uid")},
       "spec": ereq["spec"]["template"]["spec"]}
pod = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "chain-x1", "namespace": ns, "uid": "pod-uid", "annotations": {"execgov.io/authorization": art},
                    "ownerReferences": owned("Job", "batch/v1", "chain", "job-uid")},
       "spec": ereq["spec"]["template"]["spec"]["template"]["spec"]}
stray = json.loads(json.dumps(pod))
stray["metadata"].update(name="stray", uid="stray-uid")
stray["metadata"]["ownerReferences"] = owned("Job", "batch/v1", "other", "other-job-uid")
for name, obj in [("ereq", ereq), ("job", job), ("pod", pod), ("stray", stray)]:
    json.dump(obj, open(name + "-obj.json", "w"))
PY
review() {  # review FILE USER REPLICA: the response of one replica
  "$execgov" review -f "$1" --user "$2" >"$1.review"
  curl -sf --cacert "${WEBHOOK_CAS[$3]}" -H 'Content-Type: application/json' --data @"$1.review" \
    "https://127.0.0.1:${WEBHOOK_PORTS[$3]}/validate" | python3 -c 'import json,sys; r=json.load(sys.stdin)["response"]; print("allowed" if r["allowed"] else r["status"]["message"])'
}
operator=system:serviceaccount:execgov-system:execgov-operator
jobctl=system:serviceaccount:kube-system:job-controller
r=$(review ereq-obj.json kubernetes-admin 0)
[ "$r" = allowed ] || fail "the ExecutionRequest was refused by replica 0: $r"
r=$(review job-obj.json "$operator" 1)
[ "$r" = allowed ] || fail "the operator's Job was refused by replica 1: $r"
r=$(review pod-obj.json "$jobctl" 0)
[ "$r" = allowed ] || fail "the Job's Pod was refused by replica 0: $r"
r=$(review stray-obj.json "$jobctl" 1)
[[ $r == "execgov: LineageDiscontinuity: "* ]] || fail "a Pod of another Job was not refused for lineage: $r"
echo "inheritance across replicas: ExecutionRequest (replica 0) -> Job (replica 1) -> Pod (replica 0)"

# 3. A replica that cannot reach the API server: never ready, PolicyNotReady.
dead=$(free_port)
sed "s#server: \"[^\"]*\"#server: \"https://127.0.0.1:$dead\"#" "$WEBHOOK_KUBECONFIG" >dead.kubeconfig
grep -q "127.0.0.1:$dead" dead.kubeconfig || fail "could not point a kubeconfig at a closed port"
WEBHOOK_KUBECONFIG=$CLUSTER_WORK/dead.kubeconfig LEDGER_URL=file:$CLUSTER_WORK/dead-ledger.jsonl \
  start_webhooks 1
healthy() { curl -sf "http://127.0.0.1:${WEBHOOK_METRICS_PORTS[2]}/healthz" -o /dev/null; }
poll 30 healthy || fail "the unconnected replica did not start: $(cat webhook-2.log)"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${WEBHOOK_METRICS_PORTS[2]}/readyz")
[ "$code" != 200 ] || fail "a replica with no API server reports ready"
r=$(review pod-obj.json "$jobctl" 2)
[[ $r == "execgov: PolicyNotReady: "* ]] || fail "the unconnected replica did not answer PolicyNotReady: $r"
echo "unconnected replica: /readyz $code, $r"
stop_pid "${WEBHOOK_PIDS[2]}"

# 4. The shared ledger: both replicas wrote to it; it verifies.
stop_pid "${WEBHOOK_PIDS[0]}"
stop_pid "${WEBHOOK_PIDS[1]}"
"$execgov" ledger verify --ledger "$LEDGER_URL" --checkpoint-key "$LEDGER_PUB" || fail "the shared ledger does not verify"
"$execgov" ledger show --ledger "$LEDGER_URL" -o json >records.json
python3 - "$ns" "$rounds" <<'PY'
import json, sys
ns, rounds = sys.argv[1], int(sys.argv[2])
text = open("records.json").read().strip()
records = [r for r in (json.loads(text) if text.startswith("[") else [json.loads(l) for l in text.splitlines() if l.strip()])
           if r.get("object", {}).get("namespace") == ns]
def count(kind, decision, reason, prefix):
    return sum(1 for r in records if r["object"]["kind"] == kind and r["decision"] == decision
               and r["reason"] == reason and r["object"]["name"].startswith(prefix))
if count("Job", "allowed", "Allowed", "race-") != rounds: sys.exit("allowed race Jobs: %d" % count("Job", "allowed", "Allowed", "race-"))
if count("Job", "denied", "ReplayDetected", "race-") != rounds: sys.exit("replays recorded: %d" % count("Job", "denied", "ReplayDetected", "race-"))
for kind, prefix in [("ExecutionRequest", "chain"), ("Job", "chain"), ("Pod", "chain-x1")]:
    if count(kind, "allowed", "Allowed", prefix) != 1: sys.exit("ledger lacks the allowed %s %s" % (kind, prefix))
if count("Pod", "denied", "LineageDiscontinuity", "stray") != 1: sys.exit("ledger lacks the stray Pod")
print("shared ledger holds all %d decisions of both replicas" % len(records))
PY
echo PASS
