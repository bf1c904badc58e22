#!/usr/bin/env bash
# The console over a 1,000,000-record ledger (bench/console/README.md):
# index build time and memory, and the API's answer times beside the limit
# (the first page under a second).
# Usage: bench/console/run.sh [BUILD_DIR] [RECORDS]   (default: build, 1000000)
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build}" records="${2:-1000000}"
bench="$build/bench/console/console_bench"
[ -x "$bench" ] || { echo "build $bench first (cmake --build $build --target console_bench)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
"$bench" "$work" "$records" 2> >(grep -v '"level":"info"' >&2)
