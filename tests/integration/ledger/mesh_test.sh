#!/usr/bin/env bash
# Two clusters, one mesh (issue 23): two real control planes on loopback
# (the e2e fixture's, EXECGOV_TESTENV_DIR, as cluster A, and one this test
# starts as cluster B), each with a ConfigMap ledger, each ledger witnessed
# by an `execgov witness` run for the other cluster. Each cluster's
# `execgov operator` sends its ledger's checkpoints to the other cluster's
# witness by itself (--witness) and keeps the cosigned checkpoint beside the
# ledger, which `ledger verify --witness-key --min-witnesses 1` checks
# without being given one. A's ledger is then forked (its ConfigMaps
# replaced by another history under the same origin and key): B's witness
# refuses to cosign it (the operator's status says so and the kept
# checkpoint stays), also after a restart, and `ledger verify
# --min-witnesses 1` against the kept checkpoint fails on it naming where.
#   mesh_test.sh EXECGOV LEDGER_WRITER
set -euo pipefail
execgov=$1 writer=$2
root=$(cd "$(dirname "$0")/../../.." && pwd)
work=$(mktemp -d)
pids=()
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cluster_b="$work/cluster-b"
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  EXECGOV_TESTENV_DIR="$cluster_b" "$root/hack/testenv.sh" stop > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $(date +%T) $*"; }

kc_a="$EXECGOV_TESTENV_DIR/kubeconfig"
[ -f "$kc_a" ] || fail "no control plane at EXECGOV_TESTENV_DIR=$EXECGOV_TESTENV_DIR"
step "starting cluster B"
EXECGOV_TESTENV_DIR="$cluster_b" "$root/hack/testenv.sh" start > "$work/b.env"
step "cluster B runs"
kc_b="$cluster_b/kubeconfig"
eval "$(grep '^export PATH=' "$work/b.env")"  # kubectl

ns="mesh-$$"
kubectl --kubeconfig "$kc_a" create namespace "$ns" > /dev/null
kubectl --kubeconfig "$kc_b" create namespace "$ns" > /dev/null
trap 'kubectl --kubeconfig "$kc_a" delete namespace "$ns" --wait=false > /dev/null 2>&1 || true; cleanup' EXIT
ledger_a="configmap://$ns/ledger-a?kubeconfig=$kc_a"
ledger_b="configmap://$ns/ledger-b?kubeconfig=$kc_b"
"$execgov" keygen --alg ed25519 --kid ledger-a --out "$work/ledger-a" > /dev/null
"$execgov" keygen --alg ed25519 --kid ledger-b --out "$work/ledger-b" > /dev/null
step "writing both ledgers"
"$writer" "$ledger_a" "$work/ledger-a.key" a 300 2 > /dev/null
"$writer" "$ledger_b" "$work/ledger-b.key" b 200 2 > /dev/null

step "starting the witnesses"
# Each cluster's witness, for the other's ledger.
"$execgov" keygen --alg ed25519 --kid witness-a --out "$work/witness-a" > /dev/null
"$execgov" keygen --alg ed25519 --kid witness-b --out "$work/witness-b" > /dev/null
vkey_a=$("$execgov" ledger vkey --ledger "$ledger_a" --checkpoint-key "$work/ledger-a.pub")
vkey_b=$("$execgov" ledger vkey --ledger "$ledger_b" --checkpoint-key "$work/ledger-b.pub")
port_a=$(free_port) port_b=$(free_port)
start_witness() {  # NAME KEY STATE LOG_VKEY OUT PORT -> sets url
  rm -f "$5"
  "$execgov" witness --name "$1" --key "$2" --state "$3" --log-key "$4" --listen "127.0.0.1:$6" > "$5" 2>> "$work/witness.err" &
  pids+=($!)
  local pid=$!
  for _ in $(seq 1 100); do
    url=$(sed -n 's/^witness .* at \(http[^ ]*\)$/\1/p' "$5" 2>/dev/null)
    [ -n "$url" ] && return
    kill -0 "$pid" 2>/dev/null || { cat "$work/witness.err" >&2; fail "witness $1 exited"; }
    sleep 0.1
  done
  fail "witness $1 did not start"
}
start_witness witness.cluster-b.test "$work/witness-b.key" "$work/witness-b.state" "$vkey_a" "$work/wb.out" "$port_b"
url_b=$url
start_witness witness.cluster-a.test "$work/witness-a.key" "$work/witness-a.state" "$vkey_b" "$work/wa.out" "$port_a"
url_a=$url
wkey_b=$("$execgov" witness --name witness.cluster-b.test --key "$work/witness-b.key" --print-vkey)
wkey_a=$("$execgov" witness --name witness.cluster-a.test --key "$work/witness-a.key" --print-vkey)


# Each cluster's operator, sending its ledger's checkpoints to the other's witness.
for kc in "$kc_a" "$kc_b"; do
  kubectl --kubeconfig "$kc" apply -f "$root/crds/" > /dev/null
  kubectl --kubeconfig "$kc" wait --for condition=Established --timeout 60s \
    crd/executionpolicies.execgov.io crd/executionrequests.execgov.io > /dev/null
done
declare -A operator_pid
start_operator() {  # NAME KUBECONFIG LEDGER LEDGER_KEY WITNESS_URL WITNESS_VKEY OPS_PORT
  "$execgov" operator --kubeconfig "$2" --namespace "$ns" --ledger "$3" --ledger-key "$4" --no-leader-elect \
    --watch-namespaces "$ns" --runtime-interval 0 --metrics-listen "127.0.0.1:$7" \
    --witness "$5" --witness-key "$6" --witness-interval 1s >> "$work/operator-$1.log" 2>&1 &
  operator_pid[$1]=$!
  pids+=($!)
}
stop_operator() { kill "${operator_pid[$1]}"; wait "${operator_pid[$1]}" 2>/dev/null || true; }
ops_a=$(free_port) ops_b=$(free_port)
start_operator a "$kc_a" "$ledger_a" "$work/ledger-a.key" "$url_b" "$wkey_b" "$ops_a"
start_operator b "$kc_b" "$ledger_b" "$work/ledger-b.key" "$url_a" "$wkey_a" "$ops_b"

kept() {  # KUBECONFIG STORE FIELD: the kept cosigned checkpoint, or its status
  kubectl --kubeconfig "$1" -n "$ns" get configmap "$2-cosigned" -o "jsonpath={.data.$3}" 2>/dev/null || true
}
kept_size() { kept "$1" "$2" checkpoint | sed -n 2p; }
wait_kept_above() {  # KUBECONFIG STORE SIZE
  for _ in $(seq 1 300); do
    local size; size=$(kept_size "$1" "$2")
    [ -n "$size" ] && [ "$size" -gt "$3" ] && return
    sleep 0.2
  done
  cat "$work"/operator-*.log >&2
  fail "$2: no cosigned checkpoint above size $3 was kept"
}
verify() {  # LEDGER LEDGER_PUB WITNESS_VKEY [ARGS]: against the kept cosigned checkpoint
  "$execgov" ledger verify --ledger "$1" --checkpoint-key "$2" --witness-key "$3" --min-witnesses 1 "${@:4}"
}
step "the operators submit their checkpoints"
wait_kept_above "$kc_a" ledger-a 0
wait_kept_above "$kc_b" ledger-b 0
verify "$ledger_a" "$work/ledger-a.pub" "$wkey_b"
verify "$ledger_b" "$work/ledger-b.pub" "$wkey_a"
# Neither witness vouches for the other cluster's own checkpoint of its ledger.
if verify "$ledger_a" "$work/ledger-a.pub" "$wkey_a" > /dev/null 2>&1; then
  fail "a checkpoint counted a cosignature it does not carry"
fi
curl -fsS "http://127.0.0.1:$ops_a/metrics" > "$work/metrics-a.txt"
grep -q "^execgov_ledger_witnessed_size $(kept_size "$kc_a" ledger-a)\$" "$work/metrics-a.txt" ||
  { grep execgov_ledger_witnessed "$work/metrics-a.txt" >&2; fail "execgov_ledger_witnessed_size is not the kept size"; }

# A grows; the operator has B's witness extend what it cosigned.
size_a=$(kept_size "$kc_a" ledger-a)
"$writer" "$ledger_a" "$work/ledger-a.key" a2 250 2 > /dev/null
wait_kept_above "$kc_a" ledger-a "$size_a"
verify "$ledger_a" "$work/ledger-a.pub" "$wkey_b"
kept "$kc_a" ledger-a checkpoint > "$work/a2.txt"

# A is forked: its ConfigMaps replaced by another, longer history under the
# same origin and key (the kept cosigned checkpoint is no ledger object).
step "forking A"
stop_operator a
kubectl --kubeconfig "$kc_a" -n "$ns" delete configmap -l execgov.io/ledger=ledger-a --wait=false > /dev/null
for _ in $(seq 1 100); do
  [ -z "$(kubectl --kubeconfig "$kc_a" -n "$ns" get configmap -l execgov.io/ledger=ledger-a -o name)" ] && break
  sleep 0.1
done
"$writer" "$ledger_a" "$work/ledger-a.key" forged 900 2 > /dev/null
start_operator a "$kc_a" "$ledger_a" "$work/ledger-a.key" "$url_b" "$wkey_b" "$ops_a"
refused=""
for _ in $(seq 1 300); do
  refused=$(kept "$kc_a" ledger-a status | grep -c '"reason": "inconsistent"' || true)
  [ "$refused" -gt 0 ] && break
  sleep 0.2
done
[ "$refused" -gt 0 ] || { kept "$kc_a" ledger-a status >&2; cat "$work/operator-a.log" >&2; fail "the operator does not report B's witness refusing the fork"; }
kept "$kc_a" ledger-a status
[ "$(kept "$kc_a" ledger-a checkpoint)" = "$(cat "$work/a2.txt")" ] || fail "the kept cosigned checkpoint was replaced by the fork's"
# Read whole before grep: `curl | grep -q` under pipefail fails when grep
# stops reading at the match and curl cannot write the rest.
metrics=$(curl -fsS "http://127.0.0.1:$ops_a/metrics")
grep -q '^execgov_witness_cosign_errors_total{reason="inconsistent",witness="witness.cluster-b.test"} [1-9]' <<<"$metrics" ||
  fail "execgov_witness_cosign_errors_total does not count the refusal"
if verify "$ledger_a" "$work/ledger-a.pub" "$wkey_b" > "$work/verify.txt"; then
  fail "ledger verify accepted the forked ledger"
fi
cat "$work/verify.txt"
grep -q '^FAILED at seq [0-9]*: ' "$work/verify.txt" || fail "verify did not name where"

# B's witness restarts (where it was) and still refuses the fork; B's
# ledger goes on being cosigned by A's witness.
step "restarting B's witness"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
start_witness witness.cluster-b.test "$work/witness-b.key" "$work/witness-b.state" "$vkey_a" "$work/wb.out" "$port_b"
if "$execgov" ledger witness --ledger "$ledger_a" --checkpoint-key "$work/ledger-a.pub" --witness "$url_b" \
     --witness-key "$wkey_b" --out "$work/forked.txt" 2> /dev/null; then
  fail "B's witness cosigned the fork after a restart"
fi
size_b=$(kept_size "$kc_b" ledger-b)
"$writer" "$ledger_b" "$work/ledger-b.key" b2 100 2 > /dev/null
wait_kept_above "$kc_b" ledger-b "$size_b"
verify "$ledger_b" "$work/ledger-b.pub" "$wkey_a"
echo "PASS: two clusters witness each other through their operators; a fork is refused"
