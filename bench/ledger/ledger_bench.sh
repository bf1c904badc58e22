#!/usr/bin/env bash
# Ledger throughput beside its limit: appends/s to the file and etcd backends
# with concurrent writers (group commit), and verify speed over 1,000,000 file
# records, printed after `openssl speed sha256` (what verify is bound by).
# Starts a throw-away etcd on free loopback ports and removes it afterwards.
# Usage: bench/ledger/ledger_bench.sh [BUILD_DIR] [SECONDS]   (BUILD_DIR default: build)
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build}" secs="${2:-5}"
bench="$build/bench/ledger/ledger_bench"
[ -x "$bench" ] || { echo "build $bench first (cmake --build $build --target ledger_bench)" >&2; exit 2; }
work=$(mktemp -d)
etcd_pid=
cleanup() { [ -n "$etcd_pid" ] && kill -9 "$etcd_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "== openssl speed -seconds 1 sha256 (the limit for hashing records)"
openssl speed -seconds 1 sha256 2>/dev/null | grep -E '^(type|sha256)'
echo
echo "== an admission's ledger entry in canonical form, one core (the webhook builds one per governed decision)"
"$bench" entry 200000
echo
echo "== verify (execgov ledger verify's code path, checkpoint signatures checked)"
"$bench" verify "$work" 1000000
echo
openssl genpkey -algorithm ed25519 -out "$work/ledger.key" 2>/dev/null
echo "== append, file backend (fdatasync per batch; $(df -T "$work" | awk 'NR==2{print $2}') on $(df "$work" | awk 'NR==2{print $1}'))"
for writers in 1 16 64; do
  rm -f "$work/ledger.jsonl"
  "$bench" append "file:$work/ledger.jsonl" "$work/ledger.key" "$writers" "$secs" 2>/dev/null
done
echo
cport=$(free_port) pport=$(free_port)
etcd --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
  --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
  --initial-cluster "default=http://127.0.0.1:$pport" > "$work/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$cport/health" >/dev/null && break; sleep 0.1; done
echo "== append, etcd backend ($(etcd --version | head -1), one member, one txn per batch of <= 60)"
for writers in 1 16 64 256; do
  "$bench" append "etcd://127.0.0.1:$cport/bench$writers" "$work/ledger.key" "$writers" "$secs" 2>/dev/null
done
