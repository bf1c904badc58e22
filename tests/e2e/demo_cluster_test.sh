#!/usr/bin/env bash
# hack/demo-cluster.sh as a newcomer runs it (issue 22), on a control plane of
# its own (never the shared fixture: the demo's EXECGOV_DEMO_DIR holds its own
# hack/testenv.sh instance, every server on a free loopback port):
#   demo_cluster_test.sh EXECGOV
#   - start prints the console's URL and token; over real TLS (the printed CA)
#     the URL answers 401 without the token and 200 with it;
#   - the console's API finds the demo's Job, and the Job's story holds the
#     ExecutionRequest, the Job and its Pods, and the denials are recorded;
#   - the authority: an agent's request auto-approved and one approved by
#     alice (`execgov approve`) run to their Jobs, the approved one's story
#     holds request, approval, grant, Job and Pods; a third request waits and
#     the console's governance API (in cluster mode, read as alice) lists it;
#   - stop leaves no process of the demo's running and removes its directory.
# `stop` runs at exit whatever happened (a trap), so a failure leaves nothing.
set -euo pipefail
execgov=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

tmp=$(mktemp -d)
export EXECGOV_DEMO_DIR=$tmp/demo EXECGOV_DEMO_EXECGOV=$execgov
demo=$EXECGOV_DEMO_DIR
pids=()
cleanup() {
  local rc=$?
  set +e
  if [ -d "$demo" ]; then
    [ $rc -eq 0 ] || for f in "$demo"/*.log "$demo"/testenv/*.log; do
      [ -f "$f" ] && { echo "--- tail of $f" >&2; tail -n 20 "$f" >&2; }
    done
    "$repo/hack/demo-cluster.sh" stop >/dev/null 2>&1
  fi
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT

start=$SECONDS
"$repo/hack/demo-cluster.sh" start >"$tmp/start.out" 2>&1 || { cat "$tmp/start.out" >&2; fail "demo-cluster.sh start failed"; }
echo "demo-cluster.sh start: $((SECONDS - start)) s"
url=$(sed -n 's/^  \(https:\/\/127\.0\.0\.1:[0-9]*\/\)$/\1/p' "$tmp/start.out")
token=$(sed -n 's/^  token: *\([^ ]*\)$/\1/p' "$tmp/start.out")
ca=$(sed -n 's/.*private CA: \(.*\)):$/\1/p' "$tmp/start.out")
[ -n "$url" ] && [ -n "$token" ] && [ -f "$ca" ] || { cat "$tmp/start.out" >&2; fail "start did not print the URL, the token and the CA"; }
# What stop must end: the demo's processes and the control plane's.
mapfile -t pids < <(cat "$demo/pids" "$demo"/testenv/*.pid)
[ ${#pids[@]} -ge 6 ] || fail "expected the webhook, operator, console and three control plane pids, got ${pids[*]}"

# code PATH [TOKEN]: the HTTP status of GET URL/PATH, verified against the printed CA only.
code() {
  curl -sS --max-time 10 --cacert "$ca" -o "$tmp/body" -w '%{http_code}' ${2:+-H "Authorization: Bearer $2"} "$url$1"
}
[ "$(code "")" = 401 ] || fail "the console answered without a token: $(head -c 300 "$tmp/body")"
[ "$(code api/head)" = 401 ] || fail "the API answered without a token"
[ "$(code api/head "x$token")" = 401 ] || fail "the API answered a wrong token"
[ "$(code "" "$token")" = 200 ] || fail "the console refused its token: $(head -c 300 "$tmp/body")"

# The demo's Job and its story: request, Job, Pods (the console indexes the
# ledger as it grows; the Pods' records may trail the Job's by a moment).
story_ok() {
  [ "$(code 'api/records?kind=Job&namespace=team-a&decision=allowed' "$token")" = 200 ] || return 1
  local seq
  seq=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["records"]; print(r[-1]["seq"] if r else "")' "$tmp/body")
  [ -n "$seq" ] || return 1
  [ "$(code "api/story?seq=$seq" "$token")" = 200 ] || return 1
  cp "$tmp/body" "$tmp/story.json"
  python3 - "$tmp/story.json" <<'PY'
import json, sys
records = json.load(open(sys.argv[1]))["records"]
kinds = {}
for r in records:
    o = r.get("object") or {}
    if r.get("type") == "admission" and r.get("decision") == "allowed":
        kinds.setdefault(o.get("kind"), set()).add(o.get("name"))
assert "rotate-keys-1" in kinds.get("ExecutionRequest", ()), kinds
assert len(kinds.get("Job", ())) == 1, kinds
assert len(kinds.get("Pod", ())) == 2, kinds
PY
}
deadline=$((SECONDS + 30))
until story_ok 2>"$tmp/story.err"; do
  ((SECONDS < deadline)) || fail "the console's story of the demo's Job lacks the request, the Job or its Pods: $(cat "$tmp/story.err") $(head -c 2000 "$tmp/story.json" 2>/dev/null)"
  sleep 0.5
done
# The denials: a missing artifact, a changed image, a replay.
[ "$(code 'api/records?decision=denied&limit=200' "$token")" = 200 ] || fail "cannot list the denials"
python3 - "$tmp/body" <<'PY' || fail "the console does not list the demo's denials: $(head -c 2000 "$tmp/body")"
import json, sys
reasons = {r.get("reason") for r in json.load(open(sys.argv[1]))["records"]}
assert {"MissingArtifact", "DigestMismatch", "ReplayDetected"} <= reasons, reasons
PY

# The authority: the approved request's story is request, approval (alice,
# allowed), grant, Job, Pods; the auto-approved one has a grant and a Job; the
# third waits, and the governance page lists it as pending (read as alice).
approved_story_ok() {
  [ "$(code 'api/records?type=grant&limit=200' "$token")" = 200 ] || return 1
  cp "$tmp/body" "$tmp/grants.json"
  local seq
  seq=$(python3 - "$tmp/grants.json" <<'PY'
import json, sys
grants = {r["object"]["name"]: r for r in json.load(open(sys.argv[1]))["records"]}
assert {"rotate-certs", "nightly-report"} <= set(grants), sorted(grants)
assert "drop-tables" not in grants, sorted(grants)
print(grants["nightly-report"]["seq"])
PY
) || return 1
  [ "$(code "api/story?seq=$seq" "$token")" = 200 ] || return 1
  cp "$tmp/body" "$tmp/approved.json"
  python3 - "$tmp/approved.json" <<'PY'
import json, sys
records = json.load(open(sys.argv[1]))["records"]
def kinds(t, decision=None):
    return [(r.get("object") or {}).get("kind") for r in records
            if r.get("type") == t and (decision is None or r.get("decision") == decision)]
approvals = [r for r in records if r.get("type") == "approval" and r.get("decision") == "allowed"]
assert approvals and all(r.get("verdict") == "Approve" for r in approvals), records
assert approvals[0].get("approver") == "system:serviceaccount:approvers:alice", approvals[0]
assert len(kinds("grant")) == 1, records
admitted = kinds("admission", "allowed")
assert "ExecutionRequest" in admitted and admitted.count("Job") == 1 and "Pod" in admitted, admitted
PY
}
deadline=$((SECONDS + 30))
until approved_story_ok 2>"$tmp/approved.err"; do
  ((SECONDS < deadline)) || fail "the approved request's story lacks request, approval, grant, Job or Pods: $(cat "$tmp/approved.err") $(head -c 3000 "$tmp/approved.json" 2>/dev/null)"
  sleep 0.5
done
[ "$(code api/governance "$token")" = 200 ] || fail "the governance API refused alice: $(head -c 300 "$tmp/body")"
python3 - "$tmp/body" <<'PY' || fail "the governance page does not list drop-tables as pending: $(head -c 2000 "$tmp/body")"
import json, sys
g = json.load(open(sys.argv[1]))
pending = [(p["namespace"], p["name"]) for p in g.get("pending", [])]
assert pending == [("team-a", "drop-tables")], (pending, g.get("pendingError"))
PY

# stop: nothing left running, no directory left.
"$repo/hack/demo-cluster.sh" stop >"$tmp/stop.out" 2>&1 || fail "demo-cluster.sh stop failed: $(cat "$tmp/stop.out")"
for pid in "${pids[@]}"; do
  if kill -0 "$pid" 2>/dev/null; then fail "process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline")) survived stop"; fi
done
[ ! -e "$demo" ] || fail "stop left $demo"
curl -sk --max-time 2 -o /dev/null "$url" 2>/dev/null && fail "the console still answers"
echo "PASS: demo start, console 401/200, the Job's story, stop ($((SECONDS - start)) s)"
