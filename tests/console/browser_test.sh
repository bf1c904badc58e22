#!/usr/bin/env bash
# The console's browser tests (ctest console_browser_test, label browser):
# a real ledger written by the real webhook (make_ledger.sh), real
# `execgov console` servers over TLS on free loopback ports (the ledger, a
# copy tampered on disk, a copy the test rolls back, witnessed copies), a real
# `execgov serve` and an operator ops-port fixture for the health page, and
# Playwright driving Debian's Chromium headless against them
# (console/tests/*.spec.ts).
# Usage: browser_test.sh EXECGOV [SCREENSHOT_DIR]
set -euo pipefail
execgov="$(realpath "$1")"
shots="${2:-}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
chromium="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] || { echo "browser_test: $chromium is missing (hack/install-deps.sh installs chromium)" >&2; exit 1; }
[ -d "$repo/console/node_modules/@playwright/test" ] || { echo "browser_test: run npm ci in console/ (hack/build.sh does)" >&2; exit 1; }
[ -f "$repo/console/dist/index.html" ] || { echo "browser_test: build the console first (hack/build.sh)" >&2; exit 1; }

work="$(mktemp -d /tmp/execgov-console-test.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]+"${pids[@]}"}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$repo/tests/console/make_ledger.sh" "$execgov" "$work/fixture" >"$work/fixture.log" 2>&1 ||
  { cat "$work/fixture.log" >&2; exit 1; }
cp "$work/fixture/state/ledger.jsonl" "$work/main.jsonl"
cp "$work/fixture/early.jsonl" "$work/rollback.jsonl"   # grows, then rolls back, then forks
# Tampered on disk: the unsigned Job's denial rewritten into an allow.
python3 - "$work/fixture/state/ledger.jsonl" "$work/tampered.jsonl" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines(keepends=True)
for i, l in enumerate(lines):
    if '"unsigned-job"' in l:
        lines[i] = l.replace('"decision":"denied"', '"decision":"allowed"')
        break
else:
    sys.exit("no unsigned-job record to tamper with")
open(sys.argv[2], "w").write("".join(lines))
PY
head -c 32 /dev/urandom | base64 | tr -d '\n=' > "$work/token"
chmod 600 "$work/token"

# Serving certificates for the health page's expiry: the webhook's expires
# in 10 days (orange), the tampered console's expired an hour ago (red).
# cert NAME SECONDS: a self-signed P-256 certificate for 127.0.0.1 valid
# until SECONDS from now (negative: in the past), key mode 0600.
cert() {
  python3 - "$work/$1" "$2" <<'PY'
import datetime, ipaddress, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
path, seconds = sys.argv[1], int(sys.argv[2])
key = ec.generate_private_key(ec.SECP256R1())
now = datetime.datetime.now(datetime.timezone.utc)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=30)).not_valid_after(now + datetime.timedelta(seconds=seconds))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256()))
open(path + ".crt", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
fd = os.open(path + ".key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
os.close(fd)
PY
}
cert webhook-tls $((10 * 86400 + 3600))
cert expired-tls -3600

# A webhook whose ops port the health dashboard scrapes, with one decision
# made; an operator's ops port (a fixture: no operator runs without a
# cluster) whose runtime violations the test changes; and a port that
# answers nothing (port 1), shown as such.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wport=$(free_port); ops=$(free_port); operator_port=$(free_port)
"$execgov" serve --policy "$work/fixture/policies" --state-dir "$work/webhook-state" --listen "127.0.0.1:$wport" \
  --tls-cert "$work/webhook-tls.crt" --tls-key "$work/webhook-tls.key" \
  --metrics-listen "127.0.0.1:$ops" >"$work/webhook.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ops/readyz" >/dev/null && break; sleep 0.1; done
"$execgov" review -f "$work/fixture/unsigned.json" --user agent:rotator |
  curl -sf --cacert "$work/webhook-tls.crt" -H 'Content-Type: application/json' --data-binary @- \
    "https://127.0.0.1:$wport/validate" >/dev/null
# The operator's /metrics as runtime_verifier.cc and webhook_config_watch.cc
# write them: violations, and the webhook configuration edited away.
mkdir -p "$work/operator"
echo ok > "$work/operator/readyz"
cat > "$work/operator/metrics" <<'PROM'
# TYPE execgov_runtime_violations gauge
execgov_runtime_violations{reason="Unadmitted"} 2
execgov_runtime_violations{reason="Drift"} 1
execgov_runtime_violations{reason="Revoked"} 0
# TYPE execgov_runtime_enforcements_total counter
execgov_runtime_enforcements_total{action="delete",result="ok"} 1
# TYPE execgov_webhook_configuration_intact gauge
execgov_webhook_configuration_intact{name="execgov"} 0
PROM
python3 -m http.server --bind 127.0.0.1 --directory "$work/operator" "$operator_port" >"$work/operator.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$operator_port/readyz" >/dev/null && break; sleep 0.1; done

start_console() {  # NAME LEDGER [FLAGS...] -> sets url_NAME
  local log="$work/console-$1.log" name="$1" ledger="$2"
  shift 2
  "$execgov" console --ledger "file:$ledger" --listen 127.0.0.1:0 --token-file "$work/token" \
    --assets "$repo/console/dist" --state-dir "$work/console-state" "$@" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    url=$(grep -o '"url":"[^"]*"' "$log" | head -1 | cut -d'"' -f4 || true)
    [ -n "$url" ] && { printf -v "url_$name" '%s' "$url"; return; }
    sleep 0.1
  done
  echo "execgov console did not start:" >&2; cat "$log" >&2; exit 1
}
# The governance page's policies: the fixture's, and one with an expired
# key and revocations.
mkdir -p "$work/governance"
cp "$work/fixture/policies/"* "$work/governance/"
{
  printf 'apiVersion: execgov.io/v1alpha1\nkind: ExecutionPolicy\nmetadata: {name: legacy}\nspec:\n'
  printf '  enforcement: Audit\n  audience: cluster-a\n  maxTTL: 5m\n  issuers:\n'
  printf '  - name: old-authority\n    subjects: ["agent:*"]\n    keys:\n'
  sed 's/^/    /' "$work/fixture/key-entry.yaml" | sed 's/kid: ops-2026-11/kid: old-2025-01/'
  printf '      notAfter: "2025-06-01T00:00:00Z"\n'
  printf '  revocations:\n    kids: [old-2025-01]\n    jtis: [leaked-jti-1]\n'
} > "$work/governance/legacy.yaml"
# A ledger whose checkpoint a real witness cosigned (issue 23): the ledger
# ends at a checkpoint record, and the witness's cosignature goes into that
# record's note (its tree covers the records before it, not itself).
"$execgov" keygen --alg ed25519 --kid witness --out "$work/witness" >/dev/null
witness_vkey=$("$execgov" witness --name witness.console.test --key "$work/witness.key" --print-vkey)
last_cp=$(grep -n '"type":"checkpoint"' "$work/main.jsonl" | tail -n 1 | cut -d: -f1)
head -n "$last_cp" "$work/main.jsonl" > "$work/witnessed.jsonl"
log_vkey=$("$execgov" ledger vkey --ledger "file:$work/witnessed.jsonl" --checkpoint-key "$work/fixture/state/ledger.jsonl.key.pub")
"$execgov" witness --name witness.console.test --key "$work/witness.key" --state "$work/witness-state.json" \
  --log-key "$log_vkey" --listen 127.0.0.1:0 >"$work/witness.out" 2>"$work/witness.err" &
pids+=($!)
for _ in $(seq 100); do grep -q '^witness ' "$work/witness.out" 2>/dev/null && break; sleep 0.1; done
"$execgov" ledger witness --ledger "file:$work/witnessed.jsonl" --witness "$(awk '{print $6}' "$work/witness.out")" \
  --witness-key "$witness_vkey" --out "$work/cosigned.txt" 2>/dev/null
# The same checkpoint uncosigned in the ledger, its cosigned form kept
# beside it as the operator keeps it (PATH.cosigned): the console sends it
# as checkpoint.cosigned.
cp "$work/witnessed.jsonl" "$work/stored.jsonl"
cp "$work/cosigned.txt" "$work/stored.jsonl.cosigned"
python3 - "$work/witnessed.jsonl" "$work/cosigned.txt" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines(keepends=True)
rec = json.loads(lines[-1])
rec["checkpoint"] = open(sys.argv[2], encoding="utf-8").read()
lines[-1] = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
open(sys.argv[1], "w", encoding="utf-8").write("".join(lines))
PY
start_console main "$work/main.jsonl" --policy "$work/governance" --metrics "webhook=http://127.0.0.1:$ops" \
  --metrics "operator=http://127.0.0.1:$operator_port" --metrics gone=http://127.0.0.1:1
start_console tampered "$work/tampered.jsonl" --tls-cert "$work/expired-tls.crt" --tls-key "$work/expired-tls.key"
start_console rollback "$work/rollback.jsonl"
start_console witnessed "$work/witnessed.jsonl"
start_console stored "$work/stored.jsonl"
start_console approvals "$work/fixture/approvals.jsonl"

cd "$repo/console"
export CONSOLE_URL="$url_main" APPROVALS_URL="$url_approvals" TAMPERED_URL="$url_tampered" ROLLBACK_URL="$url_rollback" \
  WITNESSED_URL="$url_witnessed" STORED_URL="$url_stored" WITNESS_VKEY="$witness_vkey" \
  ROLLBACK_FILE="$work/rollback.jsonl" EARLY_FILE="$work/fixture/early.jsonl" OPERATOR_METRICS="$work/operator/metrics" \
  FULL_FILE="$work/fixture/state/ledger.jsonl" FORK_FILE="$work/fixture/fork.jsonl" \
  CONSOLE_TOKEN="$(cat "$work/token")" LEDGER_KEY_FILE="$work/fixture/state/ledger.jsonl.key.pub" \
  SCREENSHOT_DIR="$shots" CHROMIUM="$chromium" PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
node_modules/.bin/playwright test console.spec.ts witness.spec.ts approvals.spec.ts --reporter=line
