#!/usr/bin/env bash
# Admission throughput and latency of `execgov serve` under wrk (HTTPS,
# keep-alive), printed beside its limits: the same server's trivial endpoint
# (GET /ping), OpenSSL's Ed25519 verify/s, and this disk's fdatasync latency
# (every governed decision is durable in the ledger before it is answered; a
# consumed or inherited artifact is recorded in that same ledger record).
#
# Scenarios, each for SECONDS with wrk -t THREADS -c CONNECTIONS:
#   ping           GET /ping: TLS + HTTP only, the ceiling
#   fresh          a Job per request, each with its own artifact (new jti):
#                  full Ed25519 verification, a consume, a ledger record
#   fresh@RATE     the same, paced to RATE requests/s: latency at that load
#   repeated       Pods of already-admitted Jobs (PODS_PER_JOB per Job), each
#                  with a new uid and its Job's artifact, sent by the Job
#                  controller's service account: signature cache hit,
#                  inheritance, a ledger record
#   repeated@RATE  the same, paced to RATE requests/s
# Every body is sent once (a reused one is counted in the "reused" column),
# and the allowed/verified/cached columns are read from the server's own
# /metrics, so a run that was not what it claims to be shows it.
#
# Usage: bench/webhook/run.sh [SECONDS]   (builds first if needed)
#   env: THREADS (2) CONNECTIONS (64) RATE (5000) PODS_PER_JOB (500)
#        FRESH_PER_SECOND (12000) REPEATED_PER_SECOND (24000): bodies generated per second of run
#        BUILD_DIR (build): the build directory whose execgov is measured
#        EXECGOV: an execgov binary to measure as it is (an earlier build, say)
#        KEEP_STATE: a directory to copy the server's state directory to at the end
#        SCENARIOS ("ping ping@rate fresh fresh@rate repeated repeated@rate"): which to run
#        PERF_SCENARIO, PERF_OUT: `perf record --call-graph dwarf` the server during that scenario into PERF_OUT
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
secs="${1:-10}"
threads="${THREADS:-2}" conns="${CONNECTIONS:-64}" rate="${RATE:-5000}" per_job="${PODS_PER_JOB:-500}"
n_fresh=$(( ${FRESH_PER_SECOND:-12000} * secs )) n_paced=$(( rate * secs + rate ))
n_pods=$(( ${REPEATED_PER_SECOND:-24000} * secs ))
n_jobs=$(( (n_pods + n_paced + per_job - 1) / per_job ))

build_dir="${BUILD_DIR:-build}"
if [ -n "${EXECGOV:-}" ]; then
  execgov=$(realpath "$EXECGOV")
else
  if [ "$build_dir" = build ] && [ ! -x build/src/cmd/execgov ]; then hack/build.sh >/dev/null; fi
  cmake --build "$build_dir" --target execgov --parallel 2 >/dev/null
  execgov="$root/$build_dir/src/cmd/execgov"
fi
command -v wrk >/dev/null || hack/install-deps.sh

work=$(mktemp -d /tmp/execgov-bench.XXXXXX)
serve_pid=
cleanup() {
  local j; for j in $(jobs -p); do [ "$j" = "$serve_pid" ] || kill "$j" 2>/dev/null || true; done
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  if [ -n "${KEEP_STATE:-}" ] && [ -d "$work/state" ]; then rm -rf "$KEEP_STATE"; cp -a "$work/state" "$KEEP_STATE"; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
bodies() { python3 "$root/bench/webhook/bodies.py" "$@"; }
cd "$work"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== openssl speed -seconds 1 ed25519 (OpenSSL's Ed25519, one core, for reference)"
openssl speed -seconds 1 ed25519 2>/dev/null | grep -E 'verify/s|Ed25519'
if [ -x "$root/$build_dir/bench/crypto/crypto_bench" ]; then
  echo "== execgov's own Ed25519 verify/s, one core (libsodium): the crypto limit of a fresh admission"
  "$root/$build_dir/bench/crypto/crypto_bench" 1 | grep -E 'Ed25519 (verify|full check)'
fi
python3 - "$work" <<'EOF'
import os, sys, time
fd = os.open(os.path.join(sys.argv[1], "sync-probe"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
lat = []
for _ in range(200):
    t = time.perf_counter(); os.write(fd, b"x" * 400 + b"\n"); os.fdatasync(fd); lat.append(time.perf_counter() - t)
lat.sort()
print("== fdatasync of a 400-byte append here, one writer: p50 %.2f ms, p99 %.2f ms (the limit for one durable write)"
      % (lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3))
EOF

# Keys, policy, and bodies.
"$execgov" keygen --alg ed25519 --kid bench-1 --out authority >/dev/null
mkdir policy
{
  cat <<EOF
apiVersion: execgov.io/v1alpha1
kind: ExecutionPolicy
metadata: {name: bench, generation: 1}
spec:
  enforcement: Enforce
  audience: cluster-a
  maxTTL: 15m
  clockSkew: 30s
  match: {kinds: [Pod, Job, ExecutionRequest]}
  trustedControllers: [system:serviceaccount:kube-system:job-controller]
  issuers:
  - name: ops-authority
    subjects: ["agent:*"]
    keys:
    - kid: bench-1
      algorithm: Ed25519
      publicKey: |
EOF
  sed 's/^/        /' authority.pub
} > policy/bench.yaml
# The bodies are copies of what a real kube-apiserver sent for a Job created
# from this very manifest and for the Pod its Job controller created
# (tests/unit/webhook/testdata/apiserver): defaulted, with managedFields and
# the token volume, 4-4.5 KB each. Only names, uids and artifacts change.
spec='{"restartPolicy":"Never","containers":[{"name":"main","image":"registry.example.com/tools/rotate@sha256:0b6f3a1b5ad0ee0aa0c2b1c3e0e5d8a3c1b8e6f0d2a4c6e8f0a2c4e6f8a0c2e4","command":["/rotate"],"args":["--service","payments"],"env":[{"name":"MODE","value":"safe"}]}]}'
echo '{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"bench","namespace":"agents"},"spec":{"template":{"spec":'"$spec"'}}}' > job.json
sign=("$execgov" sign --key authority.key --kid bench-1 --issuer ops-authority --subject agent:bench --audience cluster-a --ttl 10m)
captured="$root/tests/unit/webhook/testdata/apiserver"
cp "$captured/job-create.json" job-template.jsonl
cp "$captured/pod-create-by-job-controller.json" pod-template.jsonl

echo "== generating $n_fresh + $n_paced fresh Jobs, and $n_pods + $n_paced Pods of $n_jobs Jobs ($per_job each)"
t0=$(date +%s)
sign_tokens() {  # N OUT: N artifacts, signed in two processes
  local half=$(( ($1 + 1) / 2 ))
  bodies manifests "$half" job.json > "$2.m1"
  bodies manifests $(( $1 - half )) job.json > "$2.m2"
  "${sign[@]}" --artifact-only -f "$2.m1" > "$2.t1" &
  local p=$!
  if [ $(( $1 - half )) -gt 0 ]; then "${sign[@]}" --artifact-only -f "$2.m2" > "$2.t2"; else : > "$2.t2"; fi
  wait "$p"
  cat "$2.t1" "$2.t2" > "$2"
  rm -f "$2.m1" "$2.m2" "$2.t1" "$2.t2"
}
sign_tokens "$n_fresh" fresh.tokens
sign_tokens "$n_paced" paced.tokens
sign_tokens "$n_jobs" owner.tokens
bodies jobs job-template.jsonl fresh.tokens fresh.jsonl &
p1=$!
bodies jobs job-template.jsonl paced.tokens paced.jsonl
bodies jobs job-template.jsonl owner.tokens owners.jsonl
bodies pods pod-template.jsonl owners.jsonl "$per_job" $(( n_pods + n_paced )) all-pods.jsonl
head -n "$n_paced" all-pods.jsonl > paced-pods.jsonl
tail -n +$(( n_paced + 1 )) all-pods.jsonl > pods.jsonl
rm all-pods.jsonl
wait "$p1"
rm -f ./*.tokens
echo "   done in $(( $(date +%s) - t0 )) s ($(du -sh . | cut -f1) of bodies)"

# The server.
port=$(free_port) ops_port=$(free_port)
"$execgov" serve --policy policy --state-dir state --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$ops_port" \
  > serve.log 2>&1 &
serve_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ops_port/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$ops_port/readyz" >/dev/null || { tail serve.log >&2; echo "execgov serve did not become ready" >&2; exit 1; }
url="https://127.0.0.1:$port"
bodies prime "$url" state/tls/ca.crt owners.jsonl  # the Jobs consume their artifacts first

metric() {  # the sum of one metric's samples whose labels contain $2
  curl -sf "http://127.0.0.1:$ops_port/metrics" | awk -v m="$1" -v l="$2" \
    'index($0, m"{") == 1 && index($0, l) { s += $NF } END { printf "%d\n", s }'
}
snapshot() {
  echo "$(metric execgov_admission_requests_total 'decision="allowed"') $(metric execgov_admission_requests_total 'decision="denied"')" \
       "$(metric execgov_signature_verifications_total 'result="valid"') $(metric execgov_signature_verifications_total 'result="cached"')" \
       "$(metric execgov_admission_duration_seconds_bucket 'le="0.002"') $(metric execgov_admission_duration_seconds_count 'kind=')"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$serve_pid/stat"; }  # user + system, in clock ticks
# The machine's CPU time so far, and how much of it the hypervisor gave to
# other guests (steal): a run under steal measures the host, not execgov.
host_ticks() { awk '/^cpu / {t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $9}' /proc/stat; }
hz=$(getconf CLK_TCK)

results=()
run() {  # NAME CONNECTIONS BODIES [RATE]
  local name=$1 c=$2 file=$3 r=${4:-0} before after out line t0 t1
  before=$(snapshot)
  t0=$(cpu_ticks)
  local h0 h1; h0=$(host_ticks)
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  local perf_pid=
  if [ "${PERF_SCENARIO:-}" = "$name" ]; then
    perf record -q -F ${PERF_FREQ:-199} --call-graph dwarf,8192 -p "$serve_pid" -o "${PERF_OUT:-$root/perf.data}" -- sleep "$secs" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  out=$(wrk -t "$threads" -c "$c" -d "${secs}s" --timeout 5s -s "$root/bench/webhook/admission.lua" "$url/" -- \
        "$file" "$threads" "$r" "$work/ready-$name-" 2>&1) || { echo "$out" >&2; exit 1; }
  t1=$(cpu_ticks)
  h1=$(host_ticks)
  [ -z "$perf_pid" ] || wait "$perf_pid" || true
  after=$(snapshot)
  line=$(grep '^BENCH ' <<<"$out") || { echo "$out" >&2; exit 1; }
  read -r a0 d0 v0 k0 f0 c0 <<<"$before"
  read -r a1 d1 v1 k1 f1 c1 <<<"$after"
  # The server's own view: the share of its admissions decided and recorded
  # (fsync included) within 2 ms, from its latency histogram. wrk's
  # percentiles add the client's and the kernel's queueing on top.
  local within="-"
  [ $((c1 - c0)) -eq 0 ] || within=$(awk -v a=$((f1 - f0)) -v n=$((c1 - c0)) 'BEGIN { printf "%.1f%%", 100 * a / n }')
  local n; n=$(sed 's/.* requests=\([0-9]*\).*/\1/' <<<"$line")
  local cpu=$(( (t1 - t0) * 1000000 / hz / (n > 0 ? n : 1) ))
  local steal; steal=$(awk -v a="$h0" -v b="$h1" 'BEGIN { split(a, x, " "); split(b, y, " ");
    printf "%.0f%%", (y[1] > x[1]) ? 100 * (y[2] - x[2]) / (y[1] - x[1]) : 0 }')
  results+=("$name $c $line allowed=$((a1 - a0)) denied=$((d1 - d0)) verified=$((v1 - v0)) cached=$((k1 - k0)) cpu=$cpu load=$load steal=$steal srv2ms=$within")
  echo "   $name: $(sed 's/^BENCH //' <<<"$line") server-cpu-us/req=$cpu load=$load steal=$steal"
}

echo "== wrk -t$threads -d${secs}s against execgov serve ($url), bodies sent once each"
scenarios=" ${SCENARIOS:-ping ping@rate fresh fresh@rate repeated repeated@rate} "
[[ $scenarios != *" ping "* ]] || run ping "$conns" -
[[ $scenarios != *" ping@rate "* ]] || run "ping@$rate" "$conns" - "$rate"
[[ $scenarios != *" fresh "* ]] || run fresh "$conns" fresh.jsonl
[[ $scenarios != *" fresh@rate "* ]] || run "fresh@$rate" "$conns" paced.jsonl "$rate"
[[ $scenarios != *" repeated "* ]] || run repeated "$conns" pods.jsonl
[[ $scenarios != *" repeated@rate "* ]] || run "repeated@$rate" "$conns" paced-pods.jsonl "$rate"

hwm=$(awk '/VmHWM/ {print $2, $3}' "/proc/$serve_pid/status")
echo
printf '%-14s %5s %9s %8s %8s %8s %9s %7s %9s %8s %7s %8s %8s %5s %5s %8s\n' scenario conns "req/s" "p50 ms" "p99 ms" "p99.9 ms" \
  allowed denied verified cached reused "cpu us" "wrk us" load steal "srv<=2ms"
for r in "${results[@]}"; do
  declare -A f=()
  set -- $r
  name=$1 c=$2; shift 3
  for kv in "$@"; do f[${kv%%=*}]=${kv#*=}; done
  printf '%-14s %5s %9s %8s %8s %8s %9s %7s %9s %8s %7s %8s %8s %5s %5s %8s\n' "$name" "$c" "${f[rps]}" "${f[p50]}" "${f[p99]}" "${f[p999]}" \
    "${f[allowed]}" "${f[denied]}" "${f[verified]}" "${f[cached]}" "${f[reused]}" "${f[cpu]}" "${f[wrkcpu]}" "${f[load]}" "${f[steal]}" "${f[srv2ms]}"
  unset f
done
echo
echo "cpu us: the server's CPU time (user + system) per completed request; wrk us: the load generator's, in its worker"
echo "threads while they send (reading the bodies before is left out); load: 1-minute load average at the start;"
echo "steal: the share of this machine's CPU time the hypervisor gave to other guests during the scenario;"
echo "srv<=2ms: the share of the scenario's admissions the server decided and recorded within 2 ms (its own histogram)"
echo "peak resident memory of execgov serve (VmHWM): $hwm"
echo "ledger records: $(wc -l < state/ledger.jsonl), of them carrying a consumption or inheritance: $(grep -c '"replay":{' state/ledger.jsonl || true)" \
  "$([ -f state/replay.jsonl ] && echo ", replay journal lines: $(wc -l < state/replay.jsonl)")"
