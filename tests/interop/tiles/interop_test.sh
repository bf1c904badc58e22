#!/usr/bin/env bash
# Reads execgov's ledger as a C2SP tlog-tiles log with third-party code only
# (main.go: filippo.io/torchwood, golang.org/x/mod/sumdb/{note,tlog}), from
# `execgov ledger serve` and from a directory written by `ledger export
# --tiles` and served statically: the checkpoint, every entry, inclusion
# proofs and a consistency proof from an earlier checkpoint.
#   interop_test.sh EXECGOV LEDGER_WRITER GO
set -euo pipefail
execgov=$1 writer=$2 go=$3
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$src" && "$go" build -o "$work/tilecheck" .)

ledger="file:$work/ledger.jsonl" key="$work/ledger.key.pub"
# 700 records (checkpoints after 500 and on close: 702 records, the tree of 701 published).
"$writer" "$ledger" "$work/ledger.key" interop 700 2 > /dev/null

"$execgov" ledger serve --ledger "$ledger" --listen 127.0.0.1:0 --checkpoint-key "$key" --refresh 100ms \
  > "$work/serve.out" 2> "$work/serve.err" &
server=$!
for _ in $(seq 1 100); do
  grep -q '^serving ' "$work/serve.out" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.err" >&2; echo "FAIL: ledger serve exited" >&2; exit 1; }
  sleep 0.1
done
url=$(sed -n 's/^serving .* at \(http[^ ]*\)$/\1/p' "$work/serve.out")
[ -n "$url" ] || { echo "FAIL: ledger serve printed no address" >&2; exit 1; }

"$work/tilecheck" -save "$work/old.txt" "$url" "$key" | tee "$work/check1"
grep -qx 'ok size 701' "$work/check1"

# The ledger grows; the server publishes its new checkpoint within a refresh.
"$writer" "$ledger" "$work/ledger.key" interop 1100 4 > /dev/null
size=$("$execgov" ledger verify --ledger "$ledger" --checkpoint-key "$key" | sed -n 's/.*the last for size \([0-9]*\).*/\1/p')
[ "$size" -gt 1792 ] && [ "$size" -lt 2048 ] || { echo "FAIL: unexpected ledger size $size" >&2; exit 1; }
"$execgov" ledger consistency --ledger "$ledger" --from "$work/old.txt" --checkpoint-key "$key" > "$work/consistency.json"
"$execgov" ledger verify-consistency --checkpoint-key "$key" --from "$work/old.txt" < "$work/consistency.json"
for _ in $(seq 1 100); do
  "$work/tilecheck" -old "$work/old.txt" -consistency "$work/consistency.json" "$url" "$key" > "$work/check2" || true
  grep -qx "ok size $size" "$work/check2" && break
  sleep 0.1
done
cat "$work/check2"
grep -qx "consistent from 701 to $size" "$work/check2"
grep -qx "execgov consistency proof from 701 to $size verifies" "$work/check2"

# Paths are bounded: what is not a canonical tile path, or is past the tree, is not served.
python3 - "$url" "$size" <<'PY'
import sys, urllib.request, urllib.error
base, size = sys.argv[1], int(sys.argv[2])
w = size - 1792  # the last level-0 tile's width (7 full tiles before it)
def status(path, method="GET"):
    try:
        return urllib.request.urlopen(urllib.request.Request(base + path, method=method)).status
    except urllib.error.HTTPError as e:
        return e.code
want = {"checkpoint": 200, "tile/0/000": 200, "tile/0/007.p/%d" % w: 200, "tile/1/000.p/7": 200,
        "tile/entries/007.p/%d" % w: 200, "tile/0/007.p/%d" % (w + 1): 404, "tile/0/008": 404,
        "tile/entries/007": 404, "tile/1/000.p/8": 404, "tile/2/000.p/1": 404,
        "tile/0/x000/001": 400, "tile/0/0001": 400, "tile/0/7": 400, "tile/0/000.p/0": 400,
        "tile/0/000.p/256": 400, "tile/64/000": 400, "tile/00/000": 400, "tile/0/000/": 400,
        "tile/0/%2e%2e/000": 400, "tile/entries/000.p/011/": 400, "etc/passwd": 404, "": 404}
bad = {p: (status(p), w) for p, w in want.items() if status(p) != w}
if status("checkpoint", "POST") != 405: bad["POST checkpoint"] = status("checkpoint", "POST")
if bad:
    sys.exit("FAIL: unexpected statuses (got, want): %r" % bad)
PY

# The same log exported for static hosting, read by the same client.
"$execgov" ledger export --ledger "$ledger" --tiles "$work/tiles" --checkpoint-key "$key"
"$work/tilecheck" -old "$work/old.txt" "$work/tiles" "$key" | tee "$work/check3"
grep -qx "ok size $size" "$work/check3"

# What is wrong is refused: a tile changed by one byte, and another key.
cp -r "$work/tiles" "$work/bad"
printf '\x00' | dd of="$work/bad/tile/0/003" bs=1 seek=100 conv=notrunc status=none
if "$work/tilecheck" "$work/bad" "$key" 2>/dev/null; then
  echo "FAIL: the client accepted a changed hash tile" >&2; exit 1
fi
openssl genpkey -algorithm ed25519 2>/dev/null | openssl pkey -pubout > "$work/other.pub"
if "$work/tilecheck" "$url" "$work/other.pub" 2>/dev/null; then
  echo "FAIL: the client accepted a checkpoint under another key" >&2; exit 1
fi
echo "tiles interop ok"
