#!/usr/bin/env bash
# Writes a small real ledger for the console's browser tests into DIR: the
# webhook (`execgov serve`, over HTTPS) admits a signed ExecutionRequest, the
# Job the operator would make from it and that Job's two Pods (each
# inheriting the request's artifact), refuses an unsigned Job and a replay
# of the request's artifact, and writes its final checkpoint on stop.
# Usage: make_ledger.sh EXECGOV DIR
# Writes DIR/state/ledger.jsonl, its key DIR/state/ledger.jsonl.key.pub, and
# DIR/early.jsonl: the same ledger as it was after its first checkpoint, and
# DIR/fork.jsonl: early.jsonl continued with other records to a checkpoint
# of the same size as the ledger's last, signed by the same key.
# DIR/approvals.jsonl: the ledger continued (same history, same key) with an
# ExecutionRequest an AuthorityPolicy rule holds for a person's approval: the
# webhook admits it waiting, judges three ExecutionApprovals (one made for an
# older spec, so void; the initiator's own, refused; alice's) and the
# authority counts them and grants (approval_fixture.cc: their own code, the
# API server played in memory); the webhook then admits the attach, the Job
# and its Pod under the granted artifact.
set -euo pipefail
execgov="$1"; dir="$2"
mkdir -p "$dir"; cd "$dir"
"$execgov" keygen --alg ed25519 --kid ops-2026-11 --out ops > key-entry.yaml
{
  printf 'apiVersion: execgov.io/v1alpha1\nkind: ExecutionPolicy\nmetadata: {name: default}\nspec:\n'
  printf '  enforcement: Enforce\n  audience: cluster-a\n  maxTTL: 15m\n'
  printf '  trustedControllers:\n  - system:serviceaccount:kube-system:job-controller\n'
  printf '  - system:serviceaccount:execgov-system:execgov-operator\n  issuers:\n'
  printf '  - name: ops-authority\n    subjects: ["agent:*"]\n    keys:\n'
  sed 's/^/    /' key-entry.yaml
} > policy.yaml
mkdir -p policies && cp policy.yaml policies/
cat > request.yaml <<'YAML'
apiVersion: execgov.io/v1alpha1
kind: ExecutionRequest
metadata: {name: rotate-keys-1, namespace: team-a}
spec:
  initiator: agent:rotator
  intent: rotate the payments service keys (ticket OPS-1234)
  template:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: rotate
            image: registry.example.com/tools/rotate:1.4
            command: ["/rotate"]
            args: ["--service", "payments"]
YAML
"$execgov" sign --key ops.key --kid ops-2026-11 --issuer ops-authority --subject agent:rotator \
  --audience cluster-a --ttl 10m --intent "rotate the payments service keys (ticket OPS-1234)" \
  -f request.yaml > signed-request.yaml
# The Job the operator makes from the request, and the Pods the Job
# controller makes from the Job (request_controller.cc's JobFor).
python3 - <<'PY'
import json, yaml
req = yaml.safe_load(open("signed-request.yaml"))
token = req["metadata"]["annotations"]["execgov.io/authorization"]
job_spec = req["spec"]["template"]["spec"]
job_spec["template"].setdefault("metadata", {})["annotations"] = {"execgov.io/authorization": token}
job = {"apiVersion": "batch/v1", "kind": "Job",
       "metadata": {"name": "rotate-keys-1-job", "namespace": "team-a", "uid": "job-uid-1",
                    "annotations": {"execgov.io/authorization": token},
                    "ownerReferences": [{"apiVersion": "execgov.io/v1alpha1", "kind": "ExecutionRequest",
                                         "name": "rotate-keys-1", "uid": "er-uid-1", "controller": True}]},
       "spec": job_spec}
json.dump(job, open("job.json", "w"))
for i in (1, 2):
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "rotate-keys-1-job-pod%d" % i, "namespace": "team-a", "uid": "pod-uid-%d" % i,
                        "annotations": {"execgov.io/authorization": token},
                        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "rotate-keys-1-job",
                                             "uid": "job-uid-1", "controller": True}]},
           "spec": job_spec["template"]["spec"]}
    json.dump(pod, open("pod%d.json" % i, "w"))
replay = dict(req); replay["metadata"] = dict(req["metadata"], name="rotate-keys-2")
json.dump(replay, open("replay.json", "w"))
unsigned = {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "unsigned-job", "namespace": "team-a"}, "spec": job_spec}
unsigned["spec"]["template"]["metadata"] = {}
json.dump(unsigned, open("unsigned.json", "w"))
PY
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pid=""
trap '[ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; } || true' EXIT
start_serve() {
  port=$(free_port); ops=$(free_port)
  "$execgov" serve --policy policies --state-dir state --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$ops" \
    >>serve.log 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ops/readyz" >/dev/null && return; sleep 0.1; done
  echo "execgov serve did not become ready" >&2; cat serve.log >&2; exit 1
}
stop_serve() {  # the webhook writes its final checkpoint as it stops
  kill "$pid"; wait "$pid" || true; pid=""
}
admit() {  # FILE UID USER
  "$execgov" review -f "$1" --uid "$2" --user "$3" |
    curl -sf --cacert state/tls/ca.crt -H 'Content-Type: application/json' --data-binary @- \
      "https://127.0.0.1:$port/validate" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["response"]; print(sys.argv[1], "allowed" if r["allowed"] else "denied: " + r["status"]["message"])' "$1"
}
start_serve
admit signed-request.yaml er-uid-1 agent:rotator
admit job.json job-uid-1 system:serviceaccount:execgov-system:execgov-operator
admit pod1.json pod-uid-1 system:serviceaccount:kube-system:job-controller
admit pod2.json pod-uid-2 system:serviceaccount:kube-system:job-controller
stop_serve
cp state/ledger.jsonl early.jsonl   # ends with a checkpoint for 4 records: what a rollback goes back to
cp -r state fork-state              # the same history so far, the same key
start_serve
admit unsigned.json unsigned-uid-1 agent:rotator
admit replay.json er-uid-2 agent:rotator
stop_serve
# A fork: the early ledger continued differently, signed by the same key, to
# a checkpoint of the same size as the ledger's own.
mv state main-state && mv fork-state state
start_serve
admit unsigned.json unsigned-uid-2 agent:rotator
admit unsigned.json unsigned-uid-3 agent:rotator
stop_serve
cp state/ledger.jsonl fork.jsonl
mv state fork-state && mv main-state state
# The approval flow, on a copy of the finished ledger. Its policy also lets
# the agent's ServiceAccount ask without an artifact and trusts the
# authority's key.
fixture="${EXECGOV_APPROVAL_FIXTURE:-$(dirname "$execgov")/../../tests/console/console_approval_fixture}"
[ -x "$fixture" ] || { echo "build $fixture (cmake --build build --target console_approval_fixture)" >&2; exit 1; }
"$execgov" keygen --alg ed25519 --kid authority-2026-12 --out authority > authority-entry.yaml
mkdir -p authority-policies
{
  sed '/^  issuers:$/,$d' policy.yaml
  printf '  authorization:\n    allowPendingRequests: true\n    initiatorMappings:\n'
  printf '    - user: system:serviceaccount:team-a:rotator\n      initiators: ["agent:rotator"]\n'
  sed -n '/^  issuers:$/,$p' policy.yaml
  printf '  - name: execgov-authority\n    subjects: ["agent:*"]\n    keys:\n'
  sed 's/^/    /' authority-entry.yaml
} > authority-policies/policy.yaml
python3 - <<'PY'
import copy, datetime, json, yaml
req = yaml.safe_load(open("request.yaml"))
req["metadata"].update(name="rotate-keys-3", uid="er-uid-3")
req["spec"]["intent"] = "rotate the ledger service keys (ticket OPS-1234)"
req["spec"]["template"]["spec"]["template"]["spec"]["containers"][0]["args"] = ["--service", "ledger"]
json.dump(req, open("request3.json", "w"))
# As the API server holds it once the operator saw it wait.
stored = copy.deepcopy(req)
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
stored["metadata"].update(generation=1, creationTimestamp=now)
stored["status"] = {"phase": "AwaitingAuthorization"}
json.dump(stored, open("request3-stored.json", "w"))
# The same request as it was when carol approved it: another image.
old = copy.deepcopy(stored)
old["spec"]["template"]["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/tools/rotate:1.3"
json.dump(old, open("request3-old.json", "w"))
rule = {"name": "rotations-need-review", "match": {"namespaces": ["team-a"], "images": ["registry.example.com/tools/*"]},
        "action": "RequireApprovals", "approvals": {"count": 1, "groups": ["ops-approvers"]}, "ttl": "10m", "timeout": "1h"}
json.dump({"apiVersion": "execgov.io/v1alpha1", "kind": "AuthorityPolicy", "metadata": {"name": "team-a", "generation": 1},
           "spec": {"rules": [rule]}}, open("authority-policy.json", "w"))
json.dump(yaml.safe_load(open("authority-policies/policy.yaml")), open("authority-execution-policy.json", "w"))
PY
cp -r state approvals-state
mv policies main-policies && mv authority-policies policies && mv state main-state && mv approvals-state state
start_serve
admit request3.json er-uid-3 system:serviceaccount:team-a:rotator
stop_serve
"$fixture" state/ledger.jsonl request3-stored.json request3-old.json authority-policy.json \
  authority-execution-policy.json authority.key authority-2026-12 execgov-authority cluster-a granted3.json
# The attach as the API server reviews it (an UPDATE, the waiting request as
# the old object), then the Job the operator makes and its Pod.
python3 - <<'PY'
import json
req = json.load(open("granted3.json"))
token = req["metadata"]["annotations"]["execgov.io/authorization"]
job_spec = json.loads(json.dumps(req["spec"]["template"]["spec"]))
job_spec["template"].setdefault("metadata", {})["annotations"] = {"execgov.io/authorization": token}
owner = lambda kind, name, uid: [{"apiVersion": "execgov.io/v1alpha1" if kind == "ExecutionRequest" else "batch/v1",
                                  "kind": kind, "name": name, "uid": uid, "controller": True}]
job = {"apiVersion": "batch/v1", "kind": "Job",
       "metadata": {"name": "rotate-keys-3-job", "namespace": "team-a", "uid": "job-uid-3",
                    "annotations": {"execgov.io/authorization": token},
                    "ownerReferences": owner("ExecutionRequest", "rotate-keys-3", "er-uid-3")},
       "spec": job_spec}
json.dump(job, open("job3.json", "w"))
pod = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "rotate-keys-3-job-pod1", "namespace": "team-a", "uid": "pod-uid-31",
                    "annotations": {"execgov.io/authorization": token},
                    "ownerReferences": owner("Job", "rotate-keys-3-job", "job-uid-3")},
       "spec": job_spec["template"]["spec"]}
json.dump(pod, open("pod31.json", "w"))
PY
start_serve
"$execgov" review -f granted3.json --operation UPDATE --uid er-uid-3 --user system:serviceaccount:execgov-system:execgov-authority |
  python3 -c 'import json,sys; r=json.load(sys.stdin); r["request"]["oldObject"]=json.load(open("request3-stored.json")); print(json.dumps(r))' |
  curl -sf --cacert state/tls/ca.crt -H 'Content-Type: application/json' --data-binary @- "https://127.0.0.1:$port/validate" |
  python3 -c 'import json,sys; r=json.load(sys.stdin)["response"]; print("attach", "allowed" if r["allowed"] else "denied: " + r["status"]["message"]); sys.exit(0 if r["allowed"] else 1)'
admit job3.json job-uid-3 system:serviceaccount:execgov-system:execgov-operator
admit pod31.json pod-uid-31 system:serviceaccount:kube-system:job-controller
stop_serve
cp state/ledger.jsonl approvals.jsonl
# `ledger show --story` lists what the console's story graph draws (the
# same code): from the Job, the approvals and the grant too.
job_seq=$(($(grep -n '"name":"rotate-keys-3-job"' approvals.jsonl | head -n1 | cut -d: -f1) - 1))
"$execgov" ledger show --ledger file:approvals.jsonl --story "$job_seq" -o json |
  python3 -c 'import json,sys; t=[(r["type"], r["object"]["kind"]) for r in map(json.loads, sys.stdin)]; print("story", t); sys.exit(0 if t.count(("approval", "ExecutionRequest")) == 3 and ("grant", "ExecutionRequest") in t and ("admission", "Pod") in t else 1)'
mv state approvals-state && mv main-state state && mv policies authority-policies && mv main-policies policies
"$execgov" ledger verify --ledger file:approvals.jsonl --checkpoint-key state/ledger.jsonl.key.pub
"$execgov" ledger verify --ledger file:state/ledger.jsonl --checkpoint-key state/ledger.jsonl.key.pub
