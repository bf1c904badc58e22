#!/usr/bin/env bash
# Runs every ```bash block of docs/witnesses.md, in order, in one bash
# session (set -euo pipefail) in a scratch directory holding a file ledger
# of 1200 records (ledger.jsonl, ledger.key, ledger.key.pub, as `execgov
# serve` writes them), with execgov on PATH, so the guide cannot drift from
# the code. Servers the guide starts listen on loopback port 0 and are
# stopped when it ends, also when it fails.
#   witnesses_docs_test.sh EXECGOV LEDGER_WRITER DOC
set -euo pipefail
execgov=$1 writer=$2 doc=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
ln -s "$execgov" "$work/bin/execgov"
"$writer" "file:$work/ledger.jsonl" "$work/ledger.key" docs 1200 2 > /dev/null
python3 - "$doc" > "$work/guide.sh" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M)
if not blocks:
    sys.exit("no bash blocks in " + sys.argv[1])
others = [m for m in re.findall(r"^```(\w*)", text, re.M) if m not in ("bash", "text", "yaml", "")]
if others:
    sys.exit("only bash, text and yaml blocks: found " + ", ".join(others))
print("set -euo pipefail")
# What the guide started in the background stops with it, also when it fails.
print("trap 'kill $(jobs -p) 2>/dev/null || true' EXIT")
for b in blocks:
    print(b)
PY
cd "$work"
PATH="$work/bin:$PATH" bash "$work/guide.sh"
echo "docs/witnesses.md ok"
