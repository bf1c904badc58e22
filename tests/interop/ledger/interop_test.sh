#!/usr/bin/env bash
# Checks execgov's inclusion proofs and signed checkpoints with Go's
# golang.org/x/mod/sumdb/{note,tlog} (main.go), not with execgov's own code.
#   interop_test.sh EXECGOV LEDGER_WRITER GO
set -euo pipefail
execgov=$1 writer=$2 go=$3
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$src" && "$go" build -o "$work/ledgercheck" .)

ledger="file:$work/ledger.jsonl"
# 1234 records from 4 threads (checkpoints every 500 and on close).
"$writer" "$ledger" "$work/ledger.key" interop 1234 4 > "$work/acks"
"$execgov" ledger verify --ledger "$ledger" --checkpoint-key "$work/ledger.key.pub"

for seq in 0 1 2 499 777 1233; do
  "$execgov" ledger proof --ledger "$ledger" --seq "$seq" > "$work/proof.json"
  "$work/ledgercheck" "$work/proof.json" "$work/ledger.key.pub"
  "$execgov" ledger verify-proof --checkpoint-key "$work/ledger.key.pub" < "$work/proof.json"
done

# The Go side must refuse what is wrong: a changed record, and another key.
python3 - "$work/proof.json" "$work/forged.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["record"] = doc["record"].replace('"allowed"', '"denied"', 1)
json.dump(doc, open(sys.argv[2], "w"))
PY
if "$work/ledgercheck" "$work/forged.json" "$work/ledger.key.pub" 2>/dev/null; then
  echo "FAIL: Go accepted a proof for a changed record" >&2; exit 1
fi
if "$execgov" ledger verify-proof --checkpoint-key "$work/ledger.key.pub" < "$work/forged.json" >/dev/null; then
  echo "FAIL: execgov accepted a proof for a changed record" >&2; exit 1
fi
openssl genpkey -algorithm ed25519 2>/dev/null | openssl pkey -pubout > "$work/other.pub"
if "$work/ledgercheck" "$work/proof.json" "$work/other.pub" 2>/dev/null; then
  echo "FAIL: Go accepted a checkpoint under another key" >&2; exit 1
fi
echo "interop ok"
