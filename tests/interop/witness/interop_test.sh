#!/usr/bin/env bash
# C2SP tlog-witness both ways, with third-party code on the other side:
#  1. `execgov witness` against a log played by main.go (Go's sumdb/note and
#     sumdb/tlog, torchwood's cosignature verifier): every answer of the
#     protocol, and its state across a restart;
#  2. an execgov ledger cosigned by torchwood's litewitness through
#     `execgov ledger witness`, the cosignature checked by `ledger verify
#     --min-witnesses 1`, and a forked ledger refused by litewitness.
#   interop_test.sh EXECGOV LEDGER_WRITER GO
set -euo pipefail
execgov=$1 writer=$2 go=$3
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$src" && "$go" build -o "$work/witnesscheck" . && "$go" build -o "$work/litewitness" filippo.io/torchwood/cmd/litewitness \
  && "$go" build -o "$work/witnessctl" filippo.io/torchwood/cmd/witnessctl)

# Waits for the line a server prints once it listens; echoes its URL.
started_url() {  # FILE PID
  for _ in $(seq 1 100); do
    url=$(sed -n 's/^witness .* at \(http[^ ]*\)$/\1/p' "$1" 2>/dev/null)
    [ -n "$url" ] && { echo "$url"; return; }
    kill -0 "$2" 2>/dev/null || { echo "FAIL: the server exited" >&2; return 1; }
    sleep 0.1
  done
  echo "FAIL: the server did not start" >&2; return 1
}

# 1. execgov's witness, a Go log.
"$work/witnesscheck" setup "$work"
start_witness() {
  rm -f "$work/witness.out"  # the URL read must be this run's
  "$execgov" witness --name execgov.interop/witness --key "$work/witness.key" --state "$work/witness.state" \
    --log-key "$(cat "$work/log.vkey")" --listen 127.0.0.1:0 > "$work/witness.out" 2> "$work/witness.err" &
  pids+=($!)
  url=$(started_url "$work/witness.out" $!)
}
start_witness
# The vkey execgov prints is the one torchwood derives from the same key.
grep -qF " vkey $(cat "$work/witness.vkey") at " "$work/witness.out" || { echo "FAIL: vkeys differ" >&2; cat "$work/witness.out" >&2; exit 1; }
"$work/witnesscheck" run "$work" "$url"
kill "${pids[-1]}"; wait "${pids[-1]}" || true
start_witness
"$work/witnesscheck" restarted "$work" "$url"

# 2. litewitness cosigns an execgov ledger.
ledger="file:$work/a/ledger.jsonl"
mkdir -p "$work/a" "$work/b"
"$writer" "$ledger" "$work/ledger.key" interop 300 2 > /dev/null
ssh-keygen -q -t ed25519 -N '' -C lw -f "$work/lw" 
ssh-agent -D -a "$work/agent.sock" > /dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do [ -S "$work/agent.sock" ] && break; sleep 0.1; done
SSH_AUTH_SOCK="$work/agent.sock" ssh-add -q "$work/lw" 2>/dev/null
fingerprint=$(ssh-keygen -lf "$work/lw.pub" -E sha256 | awk '{print $2}')
origin_vkey=$("$execgov" ledger vkey --ledger "$ledger" --checkpoint-key "$work/ledger.key.pub")
origin=${origin_vkey%%+*}
"$work/witnessctl" add-log -db "$work/lw.db" -origin "$origin"
"$work/witnessctl" add-key -db "$work/lw.db" -origin "$origin" -key "$origin_vkey"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$work/litewitness" -db "$work/lw.db" -name execgov.interop/litewitness -key "$fingerprint" \
  -ssh-agent "$work/agent.sock" -listen "127.0.0.1:$port" > "$work/lw.log" 2>&1 &
pids+=($!)
lw_vkey=
for _ in $(seq 1 100); do
  lw_vkey=$(sed -n 's/.*msg="verifier key" vkey=\([^ ]*\).*/\1/p' "$work/lw.log")
  [ -n "$lw_vkey" ] && grep -q 'msg=listening' "$work/lw.log" && break
  sleep 0.1
done
[ -n "$lw_vkey" ] || { echo "FAIL: litewitness did not start" >&2; cat "$work/lw.log" >&2; exit 1; }

witness() {  # LEDGER OUT
  "$execgov" ledger witness --ledger "$1" --checkpoint-key "$work/ledger.key.pub" \
    --witness "http://127.0.0.1:$port" --witness-key "$lw_vkey" --out "$2"
}
witness "$ledger" "$work/cosigned1.txt"
"$execgov" ledger verify --ledger "$ledger" --checkpoint-key "$work/ledger.key.pub" \
  --checkpoint "$work/cosigned1.txt" --witness-key "$lw_vkey" --min-witnesses 1
# Grown: execgov learns litewitness's size from its 409 and proves from there.
"$writer" "$ledger" "$work/ledger.key" interop 200 2 > /dev/null
witness "$ledger" "$work/cosigned2.txt"
"$execgov" ledger verify --ledger "$ledger" --checkpoint-key "$work/ledger.key.pub" \
  --checkpoint "$work/cosigned2.txt" --witness-key "$lw_vkey" --min-witnesses 1

# A fork: another ledger of the same origin and key, longer than what was cosigned.
"$writer" "file:$work/b/ledger.jsonl" "$work/ledger.key" fork 600 2 > /dev/null
if witness "file:$work/b/ledger.jsonl" "$work/forked.txt" > "$work/fork.out" 2>&1; then
  echo "FAIL: litewitness cosigned a fork" >&2; exit 1
fi
grep -q 'refused the checkpoint' "$work/fork.out" || { cat "$work/fork.out" >&2; exit 1; }
# The forked ledger is not the one the cosigned checkpoint vouches for.
if "$execgov" ledger verify --ledger "file:$work/b/ledger.jsonl" --checkpoint-key "$work/ledger.key.pub" \
     --checkpoint "$work/cosigned2.txt" --witness-key "$lw_vkey" --min-witnesses 1 > "$work/verify.out"; then
  echo "FAIL: ledger verify accepted a fork" >&2; exit 1
fi
cat "$work/verify.out"
grep -q '^FAILED at seq ' "$work/verify.out"
# An uncosigned checkpoint does not count.
if "$execgov" ledger verify --ledger "$ledger" --checkpoint-key "$work/ledger.key.pub" \
     --checkpoint "$work/forked.txt" --witness-key "$lw_vkey" --min-witnesses 1 > /dev/null 2>&1; then
  echo "FAIL: a checkpoint without a cosignature passed" >&2; exit 1
fi
echo "witness interop ok"
