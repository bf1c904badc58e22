#!/usr/bin/env bash
# CPU per request of the Kubernetes HTTP client (src/kube/http.cc) against a
# real API server: a control plane of its own from hack/testenv.sh. Not a
# test: it prints figures.
#
# Usage: bench/kube/run.sh [N] [ROUNDS] [OTHER_BINARY]
#   N       ConfigMap POSTs, GETs and watch events per run (default 1000)
#   ROUNDS  runs per binary (default 5); with OTHER_BINARY (an
#           http_client_bench built from another revision of http.cc) the two
#           are alternated, this build first, so the host's drift hits both,
#           and the medians are printed side by side with their ratio.
# The figures are process CPU (user + system) per operation, so they include
# TLS and the kernel's share of the sockets, which every client pays.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-1000}
rounds=${2:-5}
other=${3:-}
flock /tmp/execgov-build.lock cmake --build "$root/build" --target http_client_bench >/dev/null
new=$root/build/bench/kube/http_client_bench

# A control plane already running in $EXECGOV_TESTENV_DIR is used and left
# running; otherwise one is started and stopped at exit.
if [ -z "${EXECGOV_TESTENV_DIR:-}" ] || ! "$root/hack/testenv.sh" status >/dev/null 2>&1; then
  export EXECGOV_TESTENV_DIR=$(mktemp -d /tmp/execgov-http-bench-XXXXXX)
  "$root/hack/testenv.sh" start >/dev/null
  trap '"$root/hack/testenv.sh" stop >/dev/null 2>&1 || true' EXIT
fi
kubeconfig=$EXECGOV_TESTENV_DIR/kubeconfig

out=$(mktemp -d /tmp/execgov-http-bench-out-XXXXXX)
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 0; r < rounds; r++)); do
  "$new" "$kubeconfig" "$n" >>"$out/new"
  [ -z "$other" ] || "$other" "$kubeconfig" "$n" >>"$out/old"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" "$other" <<'PY'
import statistics, sys, os
out, other = sys.argv[1], sys.argv[2]
def medians(f):
    by = {}
    for line in open(f):
        p = line.split()
        if len(p) == 4 and p[0] != "phase":
            by.setdefault(p[0], []).append(float(p[2]))
    return {k: statistics.median(v) for k, v in by.items()}
new = medians(os.path.join(out, "new"))
if not other:
    print("| phase | CPU µs per operation (median) |\n|---|---|")
    for k, v in new.items(): print(f"| {k} | {v:.0f} |")
    sys.exit(0)
old = medians(os.path.join(out, "old"))
print("| phase | this build, CPU µs/op | other build, CPU µs/op | this/other |\n|---|---|---|---|")
for k in new:
    print(f"| {k} | {new[k]:.0f} | {old[k]:.0f} | {new[k] / old[k]:.2f} |")
PY
