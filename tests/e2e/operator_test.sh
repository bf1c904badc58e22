#!/usr/bin/env bash
# `execgov operator` against the real control plane, beside `execgov webhook`
# (both as their own service accounts, with a ValidatingWebhookConfiguration):
#
#   operator_test.sh lifecycle EXECGOV
#     - kubectl apply of a policy -> Ready=True with its key count in
#       `kubectl get epol`; a policy with a malformed key -> Ready=False,
#       InvalidKey, the field named, a Warning Event;
#     - a signed ExecutionRequest (execgov sign) becomes exactly one Job owned
#       by it, whose Pod (made by the real Job controller) is admitted by
#       inheritance; the Pod's status is set to Succeeded (no kubelet here),
#       the real Job controller completes the Job, and the request goes
#       Authorized -> Running -> Succeeded; another one ends Failed; a third,
#       with parentRef, records the parent's lineage hash;
#     - with the operator stopped, a request is admitted and then its key is
#       revoked in the policy: the operator makes it Revoked and no Job;
#     - two operators: exactly one acts; the leader killed with SIGKILL, the
#       other takes over within the lease duration; a leader frozen past its
#       lease (SIGSTOP) finds another holder on waking and exits with status 1;
#     - lineage completeness: a Job admitted while no record reached this
#       run's ledger gets a derived admission record, once;
#     - `execgov ledger verify` passes and `ledger show` lists every step.
#   operator_test.sh scale EXECGOV
#     1,000 ExecutionRequests created at once -> exactly 1,000 Jobs and every
#     step of every request in the ledger; prints the time taken and the
#     operator's peak memory (VmHWM).
#   operator_test.sh apiserver-restart EXECGOV
#     kube-apiserver restarted while requests are being created: the same
#     operator process's watches recover, every request gets exactly one Job,
#     and a request created after the restart is handled too. Restarts the
#     shared API server: ctest runs it alone (RUN_SERIAL).
set -euo pipefail

case_name=$1
source "$(dirname "$0")/cluster_lib.sh"
cluster_init "$2" "op-${case_name:0:5}"
execgov=$EXECGOV
ns=$CLUSTER_ID
lease=execgov-operator-$CLUSTER_ID
# This run's Lease goes too, once its operators have stopped; its replay
# records go in one deletecollection request (one DELETE per record takes
# minutes after the scale case).
cluster_on_cleanup 'for p in "${OPERATOR_PIDS[@]}"; do stop_pid "$p"; done
  kubectl delete lease -n "$CLUSTER_SYSTEM_NS" "$lease" --ignore-not-found >/dev/null 2>&1
  kubectl delete --raw "/api/v1/namespaces/$CLUSTER_SYSTEM_NS/configmaps?labelSelector=execgov.io/replay%3Dtrue,execgov.io/namespace%3D$ns" >/dev/null 2>&1'

cluster_governed_setup "$ns"


# request_yaml NAME [PARENT]: an ExecutionRequest in $ns.
request_yaml() {
  cat <<YAML
apiVersion: execgov.io/v1alpha1
kind: ExecutionRequest
metadata: {name: $1, namespace: $ns}
spec:
  initiator: agent:e2e
  intent: e2e run $1
YAML
  [ -z "${2:-}" ] || echo "  parentRef: {name: $2}"
  cat <<YAML
  template:
    spec:
      backoffLimit: 0${SUSPEND:+
      suspend: true}
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: run, image: registry.example.com/tools/run:1, command: ["/run"], args: ["$1"]}
---
YAML
}

# create_request NAME [PARENT]: signs and creates it; prints its uid.
create_request() {
  request_yaml "$@" >"req-$1.yaml"
  sign -f "req-$1.yaml" >"req-$1.signed.yaml" || fail "cannot sign req-$1.yaml"
  kubectl create -f "req-$1.signed.yaml" -o jsonpath='{.metadata.uid}' || fail "request $1 was not admitted"
}

field() { kubectl get executionrequest "$1" -n "$ns" -o jsonpath="$2"; }
phase_is() { [ "$(field "$1" '{.status.phase}')" = "$2" ]; }
wait_phase() {  # wait_phase NAME PHASE SECONDS
  poll "$3" phase_is "$1" "$2" ||
    fail "request $1 is '$(field "$1" '{.status.phase}')', not $2, after $3s: $(field "$1" '{.status}')"
}
jobs_of() { kubectl get jobs -n "$ns" -l "execgov.io/request-uid=$1" -o name | wc -l; }
lease_holder() { kubectl get lease -n "$CLUSTER_SYSTEM_NS" "$lease" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }
operator_metric() {  # operator_metric INDEX REGEX: sum of matching samples
  curl -sf "http://127.0.0.1:${OPERATOR_METRICS_PORTS[$1]}/metrics" |
    awk -v re="$2" '!/^#/ && $0 ~ re { sum += $NF } END { printf "%d\n", sum }'
}
# The records of this run's ledger as JSON lines.
ledger_json() { "$execgov" ledger show --ledger "$LEDGER_URL" -o json "$@"; }
ledger_verify() {
  "$execgov" ledger verify --ledger "$LEDGER_URL" --checkpoint-key "$LEDGER_PUB" || fail "ledger verify failed"
}
# The index of the operator holding the lease (identity operator-<n>-...).
leader_index() { local h; h=$(lease_holder); [[ $h == operator-*-"$CLUSTER_ID" ]] && h=${h#operator-} && echo "${h%%-*}"; }
has_leader() { [ -n "$(leader_index)" ]; }

case_lifecycle() {
  start_operator
  # --- ExecutionPolicy status
  ready() { [ "$(kubectl get epol "$CLUSTER_ID" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
  poll 60 ready || fail "policy not Ready: $(kubectl get epol "$CLUSTER_ID" -o jsonpath='{.status}')"
  kubectl get epol "$CLUSTER_ID"
  read -r _ enforcement readycol keys _ <<<"$(kubectl get epol "$CLUSTER_ID" --no-headers)"
  [ "$enforcement $readycol $keys" = "Enforce True 1" ] || fail "kubectl get epol shows '$enforcement $readycol $keys'"
  [ "$(kubectl get epol "$CLUSTER_ID" -o jsonpath='{.status.observedGeneration}')" = \
    "$(kubectl get epol "$CLUSTER_ID" -o jsonpath='{.metadata.generation}')" ] || fail "observedGeneration lags"

  local bad=$CLUSTER_ID-badkey
  cat >bad.yaml <<YAML
apiVersion: execgov.io/v1alpha1
kind: ExecutionPolicy
metadata: {name: $bad}
spec:
  audience: e2e-cluster
  maxTTL: 15m
  match: {namespaces: [$CLUSTER_ID-nowhere]}
  issuers:
  - name: broken-authority
    subjects: ["agent:*"]
    keys:
    - kid: broken-1
      algorithm: Ed25519
      publicKey: |
        -----BEGIN PUBLIC KEY-----
        bm90IGEga2V5IGF0IGFsbA==
        -----END PUBLIC KEY-----
YAML
  cluster_apply_policy bad.yaml
  not_ready() { [ "$(kubectl get epol "$bad" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = False ]; }
  poll 60 not_ready || fail "the malformed policy is not Ready=False: $(kubectl get epol "$bad" -o jsonpath='{.status}')"
  kubectl get epol "$bad"
  local reason message
  reason=$(kubectl get epol "$bad" -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')
  message=$(kubectl get epol "$bad" -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')
  echo "Ready=False reason=$reason message=$message"
  [ "$reason" = InvalidKey ] || fail "reason is '$reason', not InvalidKey"
  grep -qF 'spec.issuers[0].keys[0]' <<<"$message" || fail "the message does not name the key: $message"
  warned() { kubectl get events -A --field-selector "involvedObject.name=$bad,type=Warning" -o name | grep -q .; }
  poll 30 warned || fail "no Warning Event for $bad"

  # --- A signed ExecutionRequest runs to a Job and through its phases.
  local uid job pod
  uid=$(create_request run-1)
  wait_phase run-1 Running 60
  job=$(field run-1 '{.status.jobRef.name}')
  echo "run-1 ($uid) runs as Job $job"
  [ "$(jobs_of "$uid")" = 1 ] || fail "run-1 has $(jobs_of "$uid") Jobs"
  [ "$(kubectl get job "$job" -n "$ns" -o jsonpath='{.metadata.ownerReferences[0].uid}/{.metadata.ownerReferences[0].controller}')" = "$uid/true" ] ||
    fail "Job $job is not controlled by run-1"
  [ "$(kubectl get job "$job" -n "$ns" -o jsonpath='{.metadata.annotations.execgov\.io/authorization}')" = \
    "$(field run-1 '{.metadata.annotations.execgov\.io/authorization}')" ] || fail "the Job does not carry the request's artifact"
  has_pod() { pod=$(kubectl get pods -n "$ns" -l "batch.kubernetes.io/job-name=$job" -o name); [ -n "$pod" ]; }
  poll 60 has_pod || fail "the Job controller made no Pod for $job (refused? $(kubectl get events -n "$ns" --field-selector involvedObject.name="$job" -o custom-columns=M:.message --no-headers | tail -n 3))"
  echo "Pod $pod admitted by inheritance"
  kubectl patch -n "$ns" "$pod" --subresource=status --type=merge -p '{"status":{"phase":"Succeeded"}}' >/dev/null
  wait_phase run-1 Succeeded 60
  kubectl get ereq run-1 -n "$ns"
  [ "$(field run-1 '{.status.conditions[?(@.type=="Authorized")].status}/{.status.conditions[?(@.type=="Complete")].status}')" = True/True ] ||
    fail "run-1 conditions: $(field run-1 '{.status.conditions}')"
  [ "$(field run-1 '{.status.observedGeneration}')" = "$(field run-1 '{.metadata.generation}')" ] || fail "run-1 observedGeneration lags"
  local run1_hash run1_seq
  run1_hash=$(field run-1 '{.status.lineage.hash}')
  run1_seq=$(field run-1 '{.status.lineage.seq}')
  # The origin the ledger's checkpoints are signed under: a new in-cluster
  # ledger is named after the cluster (docs/ledger.md), not its ConfigMaps.
  local origin
  origin="execgov.local/cluster/$(kubectl get namespace kube-system -o jsonpath='{.metadata.uid}')/$CLUSTER_SYSTEM_NS/$LEDGER_ORIGIN"
  [ "$(field run-1 '{.status.lineage.origin}')" = "$origin" ] ||
    fail "lineage origin is $(field run-1 '{.status.lineage.origin}'), not $origin"
  events() { kubectl get events -n "$ns" --field-selector "involvedObject.uid=$uid" -o jsonpath='{range .items[*]}{.reason} {end}'; }
  has_events() {
    local e r
    e=$(events)
    for r in Authorized JobCreated JobComplete; do grep -qw "$r" <<<"$e" || return 1; done
  }
  poll 30 has_events || fail "run-1 lacks an Authorized, JobCreated or JobComplete Event: $(events)"
  # The operator's steps went to the webhook replica writing the ledger's
  # tail (the writer Lease's holder) rather than racing it for the tail.
  local forwarded received
  forwarded=$(operator_metric 0 '^execgov_ledger_forward_records_total.*(role="sent".*result="stored"|result="stored".*role="sent")')
  received=$(webhook_metric 0 '^execgov_ledger_forward_records_total.*(role="received".*result="stored"|result="stored".*role="received")')
  [ "$forwarded" -ge 1 ] && [ "$received" -ge "$forwarded" ] ||
    fail "the operator forwarded $forwarded records and the writer stored $received: $(grep -i forward "$CLUSTER_WORK/operator-0.log" | tail -n 3)"
  echo "the operator handed $forwarded of its records to the ledger's writer"

  # A Job that fails makes its request Failed.
  local uid2 job2 pod2
  uid2=$(create_request run-2)
  wait_phase run-2 Running 60
  job2=$(field run-2 '{.status.jobRef.name}')
  has_pod2() { pod2=$(kubectl get pods -n "$ns" -l "batch.kubernetes.io/job-name=$job2" -o name); [ -n "$pod2" ]; }
  poll 60 has_pod2 || fail "no Pod for $job2"
  kubectl patch -n "$ns" "$pod2" --subresource=status --type=merge -p '{"status":{"phase":"Failed"}}' >/dev/null
  wait_phase run-2 Failed 60

  # parentRef links to the parent's latest lineage hash.
  local uid3
  uid3=$(create_request run-3 run-1)
  wait_phase run-3 Running 60
  ledger_json --object "$uid3" --type execution >run-3.jsonl
  python3 - "$run1_hash" run-3.jsonl <<'PY' || fail "run-3's first step does not link to run-1's lineage"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[2])]
first = [r for r in recs if r["phase"] == "Authorized"]
assert len(first) == 1, recs
assert first[0]["parent"] == sys.argv[1], (first[0].get("parent"), sys.argv[1])
assert first[0]["parentRef"]["name"] == "run-1"
PY

  # --- Revoked before the operator acts: no Job. SIGTERM stops the operator
  # cleanly (status 0) and releases the lease, so its successor need not wait
  # the lease out.
  local rc=0
  kill -TERM "${OPERATOR_PIDS[0]}"
  wait "${OPERATOR_PIDS[0]}" || rc=$?
  [ "$rc" = 0 ] || fail "the operator exited with $rc on SIGTERM"
  local uid4
  uid4=$(create_request revoked-1)
  kubectl patch epol "$CLUSTER_ID" --type=merge -p "{\"spec\":{\"revocations\":{\"kids\":[\"$AUTHORITY_KID\"]}}}" >/dev/null
  local restarted=$SECONDS
  start_operator
  poll 10 has_leader || fail "the next operator did not lead at once after a clean stop: '$(lease_holder)'"
  echo "after a clean stop the next operator led within $((SECONDS - restarted))s"
  wait_phase revoked-1 Revoked 60
  kubectl get ereq -n "$ns"
  [ "$(field revoked-1 '{.status.conditions[?(@.type=="Authorized")].reason}')" = Revoked ] ||
    fail "revoked-1: $(field revoked-1 '{.status.conditions}')"
  [ "$(jobs_of "$uid4")" = 0 ] || fail "a Job was made for a revoked request"
  kubectl patch epol "$CLUSTER_ID" --type=merge -p '{"spec":{"revocations":{"kids":[]}}}' >/dev/null
  # The webhook refuses the revoked key until it sees the change: wait for that.
  local uid5
  admitted() { request_yaml after-unrevoke >req-u.yaml && sign -f req-u.yaml >req-u.signed.yaml && kubectl create -f req-u.signed.yaml >/dev/null 2>&1; }
  poll 30 admitted || fail "requests are still refused after the key's revocation was lifted"
  uid5=$(field after-unrevoke '{.metadata.uid}')
  wait_phase after-unrevoke Running 60
  [ "$(jobs_of "$uid4")" = 0 ] || fail "a Job was made for a revoked request"

  # --- Two operators: exactly one acts; kill -9 the leader, the other takes over.
  start_operator
  poll 30 has_leader || fail "no operator of this run holds the lease: '$(lease_holder)'"
  local leader standby
  leader=$(leader_index)
  standby=$((leader == 1 ? 2 : 1))
  poll 30 curl -sf "http://127.0.0.1:${OPERATOR_METRICS_PORTS[$standby]}/readyz" -o /dev/null ||
    fail "the standby operator never became ready"
  local acted idle
  acted=$(operator_metric "$leader" '^execgov_reconciles_total')
  idle=$(operator_metric "$standby" '^execgov_reconciles_total')
  echo "leader operator-$leader reconciled $acted times, standby operator-$standby $idle"
  ((acted > 0)) || fail "the leader did not reconcile"
  ((idle == 0)) || fail "the standby reconciled $idle times while not leading"
  kill -KILL "${OPERATOR_PIDS[$leader]}"
  local killed_at=$SECONDS uid6
  uid6=$(create_request after-failover)
  # The lease expires at most 15s after the kill; the standby sees that at
  # its next try (every ~2s).
  leads_standby() { [ "$(leader_index)" = "$standby" ]; }
  poll 25 leads_standby || fail "operator-$standby did not take over within the lease (holder '$(lease_holder)')"
  echo "operator-$standby took the lease $((SECONDS - killed_at))s after the leader was killed (lease 15s)"
  wait_phase after-failover Running 30
  echo "after killing the leader, the standby ran a request in $((SECONDS - killed_at))s"
  [ "$(jobs_of "$uid6")" = 1 ] || fail "after-failover has $(jobs_of "$uid6") Jobs"

  # A leader that cannot renew (frozen past its lease) and finds another
  # holder on waking exits with status 1, so a fresh process replaces it.
  start_operator
  local third=3 frozen=$standby
  rc=0
  poll 30 curl -sf "http://127.0.0.1:${OPERATOR_METRICS_PORTS[$third]}/readyz" -o /dev/null ||
    fail "the third operator never became ready"
  kill -STOP "${OPERATOR_PIDS[$frozen]}"
  leads_third() { [ "$(leader_index)" = "$third" ]; }
  poll 45 leads_third || { kill -CONT "${OPERATOR_PIDS[$frozen]}"; fail "operator-$third did not take over from a frozen leader: '$(lease_holder)'"; }
  kill -CONT "${OPERATOR_PIDS[$frozen]}"
  exited() { ! kill -0 "${OPERATOR_PIDS[$frozen]}" 2>/dev/null; }
  poll 30 exited || fail "the old leader kept running after losing its lease"
  wait "${OPERATOR_PIDS[$frozen]}" || rc=$?
  [ "$rc" = 1 ] || fail "the old leader exited with $rc, not 1, after losing its lease"
  grep -q 'lost the leader lease' "$CLUSTER_WORK/operator-$frozen.log" || fail "the old leader did not say why it exited"
  echo "the frozen leader woke, found operator-$third leading, and exited with status 1"

  # --- Lineage completeness: an object admitted while its record went to
  # another ledger (as if the admitting replica's write were lost) is derived
  # into this one from the object itself, once.
  local other=configmap://$CLUSTER_SYSTEM_NS/$LEDGER_ORIGIN-lost
  cluster_on_cleanup "kubectl delete configmap -n $CLUSTER_SYSTEM_NS -l execgov.io/ledger=$LEDGER_ORIGIN-lost --ignore-not-found >/dev/null 2>&1"
  LEDGER_URL=$other start_webhooks 1
  wait_webhooks_ready 60
  register_webhook 1
  job_manifest lost-record "$ns" >lost.yaml
  sign -f lost.yaml >lost.signed.yaml
  local lost_uid
  lost_uid=$(kubectl create -f lost.signed.yaml -o jsonpath='{.metadata.uid}') || fail "the Job was not admitted"
  register_webhook 0
  derived() { ledger_json --object "$lost_uid" --type admission | grep -q '"derived":true'; }
  poll 60 derived || fail "no derived admission record for Job lost-record ($lost_uid)"
  sleep 12  # more than one lineage interval: a second pass must not derive it again
  [ "$(ledger_json --object "$lost_uid" --type admission | wc -l)" = 1 ] || fail "the Job's admission record was derived more than once"
  echo "derived record: $(ledger_json --object "$lost_uid" --type admission)"
  # Read whole first: under pipefail a grep -q that stops at the match could
  # make the writer fail, and the pipeline then hides the record it matched.
  derived_records=$(ledger_json --object "$lost_uid" --type admission)
  grep -q '"signature"' <<<"$derived_records" && fail "a record holds a signature"

  # --- The ledger verifies and lists every step of every request.
  ledger_verify
  "$execgov" ledger show --ledger "$LEDGER_URL" --type execution
  ledger_json --type execution >steps.jsonl
  python3 - steps.jsonl "$uid" "$uid2" "$uid3" "$uid4" "$uid5" "$uid6" <<'PY' || fail "the ledger's steps are not what happened"
import collections, json, sys
steps = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    steps[r["object"]["uid"]].append(r["phase"])
    # The user who made the Job: the operator's service account.
    assert r.get("user") == "system:serviceaccount:execgov-system:execgov-operator", r
    assert "signature" not in line and r["artifact"]["jti"], r
want = {
    sys.argv[2]: ["Authorized", "Running", "Succeeded"],
    sys.argv[3]: ["Authorized", "Running", "Failed"],
    sys.argv[4]: ["Authorized", "Running"],
    sys.argv[5]: ["Revoked"],
    sys.argv[6]: ["Authorized", "Running"],
    sys.argv[7]: ["Authorized", "Running"],
}
for uid, phases in want.items():
    assert steps[uid] == phases, (uid, steps[uid], phases)
print("every step of every request is in the ledger, once")
PY
  # status.lineage names the request's latest step.
  grep -q "\"seq\":$run1_seq,.*\"type\":\"execution\"" <(ledger_json --object "$uid") ||
    fail "run-1's status.lineage.seq $run1_seq is not its last step"
}

# create_many N PREFIX PARALLEL: N signed requests, written to PARALLEL files
# (part-<i>.yaml) for as many kubectl processes.
create_many() {
  local n=$1 prefix=$2 parallel=$3 i
  for ((i = 0; i < n; i++)); do request_yaml "$prefix-$i"; done >many.yaml
  sign -f many.yaml >many.signed.yaml || fail "cannot sign many.yaml"
  python3 - many.signed.yaml "$parallel" <<'PY'
import sys
docs = [d for d in open(sys.argv[1]).read().split("\n---\n") if d.strip() and d.strip() != "---"]
k = int(sys.argv[2])
for p in range(k):
    with open("part-%d.yaml" % p, "w") as f:
        f.write("\n---\n".join(docs[p::k]) + "\n")
PY
}

count_jobs() { kubectl get jobs -n "$ns" -l execgov.io/request-uid -o name | wc -l; }
count_phase() { kubectl get ereq -n "$ns" -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -cx "$1" || true; }

# exactly_one_job_each: every request has one Job, controlled by it.
exactly_one_job_each() {
  kubectl get ereq -n "$ns" -o json >ereqs.json
  kubectl get jobs -n "$ns" -o json >jobs.json
  python3 - ereqs.json jobs.json <<'PY'
import collections, json, sys
reqs = json.load(open(sys.argv[1]))["items"]
jobs = json.load(open(sys.argv[2]))["items"]
owners = collections.Counter()
for j in jobs:
    refs = [o for o in j["metadata"].get("ownerReferences", []) if o.get("controller")]
    if refs and refs[0]["kind"] == "ExecutionRequest":
        owners[refs[0]["uid"]] += 1
uids = {r["metadata"]["uid"] for r in reqs}
dups = {u: c for u, c in owners.items() if c != 1}
missing = [r["metadata"]["name"] for r in reqs if r["metadata"]["uid"] not in owners]
strays = [u for u in owners if u not in uids]
bad_ref = [r["metadata"]["name"] for r in reqs
           if r.get("status", {}).get("jobRef", {}).get("uid") not in {j["metadata"]["uid"] for j in jobs}]
assert not dups, "requests with more than one Job: %s" % dups
assert not missing, "requests without a Job: %s" % missing[:10]
assert not strays and not bad_ref, (strays[:5], bad_ref[:5])
print("%d requests, %d Jobs, one each" % (len(reqs), len(owners)))
PY
}

# steps_once PHASE...: every request of $ns has each PHASE once in the ledger,
# and it and its Job have an admission record.
steps_once() {
  kubectl get ereq -n "$ns" -o json >ereqs.json
  kubectl get jobs -n "$ns" -o json >jobs.json
  ledger_json >all.jsonl
  python3 - ereqs.json all.jsonl jobs.json "${@}" <<'PY'
import collections, json, sys
reqs = json.load(open(sys.argv[1]))["items"]
jobs = json.load(open(sys.argv[3]))["items"]
del sys.argv[3]
steps = collections.Counter()
admitted = set()
for line in open(sys.argv[2]):
    r = json.loads(line)
    if r.get("type") == "execution":
        steps[(r["object"]["uid"], r["phase"])] += 1
    elif r.get("type") == "admission" and r.get("decision") == "allowed":
        admitted.add(r["object"]["uid"])
bad = []
for q in reqs:
    u = q["metadata"]["uid"]
    if u not in admitted:
        bad.append((q["metadata"]["name"], "no admission record"))
    for p in sys.argv[3:]:
        if steps[(u, p)] != 1:
            bad.append((q["metadata"]["name"], p, steps[(u, p)]))
for j in jobs:
    if j["metadata"]["uid"] not in admitted:
        bad.append((j["metadata"]["name"], "Job without an admission record"))
assert not bad, bad[:10]
print("%d requests and %d Jobs: admission records, and steps %s once each" % (len(reqs), len(jobs), ", ".join(sys.argv[3:])))
PY
}

case_scale() {
  local n=1000 parallel=8 p
  start_operator --workers 16
  poll 30 has_leader || fail "the operator does not lead"
  # Suspended Jobs: the Job controller makes no Pods for them, which keeps
  # the shared control plane (and the tests beside this one) light; the
  # Pods' own path is the lifecycle case's.
  SUSPEND=1 create_many "$n" load "$parallel"
  local t0=$SECONDS pids=()
  for ((p = 0; p < parallel; p++)); do
    kubectl create -f "part-$p.yaml" >"create-$p.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fail "kubectl create failed: $(grep -v created create-*.log | head -n 5)"; done
  local created=$((SECONDS - t0))
  [ "$(kubectl get ereq -n "$ns" -o name | wc -l)" = "$n" ] || fail "not $n requests were admitted"
  all_running() { [ "$(count_phase Running)" = "$n" ]; }
  poll 600 all_running || fail "after $((SECONDS - t0))s only $(count_phase Running) of $n requests run ($(count_jobs) Jobs)"
  local took=$((SECONDS - t0))
  [ "$(count_jobs)" = "$n" ] || fail "$(count_jobs) Jobs for $n requests"
  exactly_one_job_each
  steps_once Authorized Running
  local pid=${OPERATOR_PIDS[0]}
  echo "FIGURE: $n ExecutionRequests created in ${created}s by $parallel kubectl processes; all Running with $n Jobs after ${took}s"
  echo "FIGURE: operator peak memory $(grep VmHWM "/proc/$pid/status" | tr -s ' \t' ' '), now $(grep VmRSS "/proc/$pid/status" | tr -s ' \t' ' ')"
  ledger_verify
}

case_apiserver_restart() {
  local n=60 i
  # A lease long enough to outlast the restart: the test is that this very
  # process's watches recover, not that a successor takes over.
  start_operator --lease-duration 90
  poll 30 has_leader || fail "the operator does not lead"
  local pid=${OPERATOR_PIDS[0]}
  create_many "$n" restart 1
  python3 - part-0.yaml <<'PY'
import sys
docs = [d for d in open(sys.argv[1]).read().split("\n---\n") if d.strip()]
for i, d in enumerate(docs):
    open("one-%d.yaml" % i, "w").write(d + "\n")
PY
  ( for ((i = 0; i < n; i++)); do kubectl create -f "one-$i.yaml" >/dev/null 2>&1 || true; sleep 0.3; done ) &
  local creator=$!
  cluster_on_cleanup "kill $creator 2>/dev/null"
  some_created() { [ "$(kubectl get ereq -n "$ns" -o name 2>/dev/null | wc -l)" -ge 10 ]; }
  poll 60 some_created || fail "requests are not being created"
  echo "restarting kube-apiserver with $(kubectl get ereq -n "$ns" -o name | wc -l) requests created"
  "$repo/hack/testenv.sh" restart-apiserver || fail "the API server did not come back"
  wait "$creator" || true
  local have
  have=$(kubectl get ereq -n "$ns" -o name | wc -l)
  echo "$have of $n requests were created around the restart"
  ((have >= 10)) || fail "too few requests were created"
  all_running() { [ "$(count_phase Running)" = "$(kubectl get ereq -n "$ns" -o name | wc -l)" ]; }
  poll 180 all_running || fail "only $(count_phase Running) of $have requests run after the restart"
  kill -0 "$pid" 2>/dev/null || fail "the operator exited during the restart: $(tail -n 20 "$CLUSTER_WORK/operator-0.log")"
  # Created after the restart: only a live watch brings it to the operator.
  local uid
  uid=$(create_request after-restart)
  wait_phase after-restart Running 60
  exactly_one_job_each
  steps_once Authorized Running
  kill -0 "$pid" 2>/dev/null || fail "the operator process changed"
  ledger_verify
}

case "$case_name" in
  lifecycle) case_lifecycle ;;
  scale) case_scale ;;
  apiserver-restart) case_apiserver_restart ;;
  *) fail "unknown case $case_name" ;;
esac
echo "PASS: operator $case_name"
