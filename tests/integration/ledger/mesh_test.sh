#!/usr/bin/env bash
# Two clusters, one mesh (issue 23): two real control planes on loopback
# (the e2e fixture's, EXECGOV_TESTENV_DIR, as cluster A, and one this test
# starts as cluster B), each with a ConfigMap ledger, each ledger witnessed
# by an `execgov witness` run for the other cluster. A's ledger, cosigned by
# B's witness, is then forked (its ConfigMaps replaced by another history
# under the same origin and key): B's witness refuses to cosign it, also
# after a restart, and `ledger verify --min-witnesses 1` against the
# cosigned checkpoint fails on it naming where.
#   mesh_test.sh EXECGOV LEDGER_WRITER
set -euo pipefail
execgov=$1 writer=$2
root=$(cd "$(dirname "$0")/../../.." && pwd)
work=$(mktemp -d)
pids=()
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
start_witness() {  # NAME KEY STATE LOG_VKEY OUT -> sets url
  rm -f "$5"
  "$execgov" witness --name "$1" --key "$2" --state "$3" --log-key "$4" --listen 127.0.0.1:0 > "$5" 2>> "$work/witness.err" &
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
start_witness witness.cluster-b.test "$work/witness-b.key" "$work/witness-b.state" "$vkey_a" "$work/wb.out"
url_b=$url
start_witness witness.cluster-a.test "$work/witness-a.key" "$work/witness-a.state" "$vkey_b" "$work/wa.out"
url_a=$url
wkey_b=$("$execgov" witness --name witness.cluster-b.test --key "$work/witness-b.key" --print-vkey)
wkey_a=$("$execgov" witness --name witness.cluster-a.test --key "$work/witness-a.key" --print-vkey)

cosign() {  # LEDGER LEDGER_PUB WITNESS_URL WITNESS_VKEY OUT
  "$execgov" ledger witness --ledger "$1" --checkpoint-key "$2" --witness "$3" --witness-key "$4" --out "$5"
}
verify() {  # LEDGER LEDGER_PUB COSIGNED WITNESS_VKEY
  "$execgov" ledger verify --ledger "$1" --checkpoint-key "$2" --checkpoint "$3" --witness-key "$4" --min-witnesses 1
}
step "cosigning"
cosign "$ledger_a" "$work/ledger-a.pub" "$url_b" "$wkey_b" "$work/a1.txt"
cosign "$ledger_b" "$work/ledger-b.pub" "$url_a" "$wkey_a" "$work/b1.txt"
verify "$ledger_a" "$work/ledger-a.pub" "$work/a1.txt" "$wkey_b"
verify "$ledger_b" "$work/ledger-b.pub" "$work/b1.txt" "$wkey_a"
# Neither witness vouches for the other cluster's own checkpoint of its ledger.
if verify "$ledger_a" "$work/ledger-a.pub" "$work/a1.txt" "$wkey_a" > /dev/null 2>&1; then
  fail "a checkpoint counted a cosignature it does not carry"
fi

# A grows; B's witness extends what it cosigned.
"$writer" "$ledger_a" "$work/ledger-a.key" a2 250 2 > /dev/null
cosign "$ledger_a" "$work/ledger-a.pub" "$url_b" "$wkey_b" "$work/a2.txt"
verify "$ledger_a" "$work/ledger-a.pub" "$work/a2.txt" "$wkey_b"

# A is forked: its ConfigMaps replaced by another, longer history under the
# same origin and key.
kubectl --kubeconfig "$kc_a" -n "$ns" delete configmap -l execgov.io/ledger=ledger-a --wait=false > /dev/null
for _ in $(seq 1 100); do
  [ -z "$(kubectl --kubeconfig "$kc_a" -n "$ns" get configmap -l execgov.io/ledger=ledger-a -o name)" ] && break
  sleep 0.1
done
step "forking A"
"$writer" "$ledger_a" "$work/ledger-a.key" forged 900 2 > /dev/null
if cosign "$ledger_a" "$work/ledger-a.pub" "$url_b" "$wkey_b" "$work/forked.txt" 2> "$work/refused.txt"; then
  fail "B's witness cosigned A's forked ledger"
fi
cat "$work/refused.txt"
grep -q 'refused the checkpoint' "$work/refused.txt" || fail "not refused by the witness"
if verify "$ledger_a" "$work/ledger-a.pub" "$work/a2.txt" "$wkey_b" > "$work/verify.txt"; then
  fail "ledger verify accepted the forked ledger"
fi
cat "$work/verify.txt"
grep -q '^FAILED at seq [0-9]*: ' "$work/verify.txt" || fail "verify did not name where"

# B's witness restarts and still refuses the fork; B's ledger is still cosigned by A's.
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
start_witness witness.cluster-b.test "$work/witness-b.key" "$work/witness-b.state" "$vkey_a" "$work/wb.out"
url_b=$url
if cosign "$ledger_a" "$work/ledger-a.pub" "$url_b" "$wkey_b" "$work/forked.txt" 2> /dev/null; then
  fail "B's witness cosigned the fork after a restart"
fi
"$writer" "$ledger_b" "$work/ledger-b.key" b2 100 2 > /dev/null
cosign "$ledger_b" "$work/ledger-b.pub" "$url_a" "$wkey_a" "$work/b2.txt"
echo "PASS: two clusters witness each other; a fork is refused"
