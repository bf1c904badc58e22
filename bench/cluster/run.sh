#!/usr/bin/env bash
# What governed admission costs a real cluster (issue 19), measured from the
# outside, side by side in one run: a control plane of its own from
# hack/testenv.sh (etcd, kube-apiserver, kube-controller-manager), with
# `execgov webhook` and `execgov operator` started as the e2e tests start them
# (tests/e2e/cluster_lib.sh: own service accounts, ConfigMap ledger,
# ValidatingWebhookConfiguration with the chart's timeout). Not a test: it
# prints figures and fails only when it could not measure.
#
#   1. Pod creates in an ungoverned namespace (the control), the same signed
#      Pods in a namespace whose only webhook is bench/cluster/nullhook (one
#      that allows everything and does nothing else: what calling any
#      webhook costs), and in a governed one, for each client count and
#      webhook replica count, alternated (control, null webhook, governed,
#      control, ...) so the shared host's drift hits all three. Every governed Pod carries its own
#      artifact (fresh jti, that Pod's digest), signed before the clock starts.
#      Two replicas sit behind a Service-like address on loopback: iptables
#      DNAT rules that pick a replica at random per connection, as
#      kube-proxy's do (or, without root and iptables, a round-robin TCP
#      proxy); one replica is called directly.
#   2. Per run: the client's latency of each create; etcd's revision and
#      dbSize before and after, and every event of a watch on its whole
#      keyspace (key + value bytes, by prefix); the API server's
#      apiserver_request_total before and after; the ledger records the run
#      appended (`execgov ledger show`).
#   3. What one API write costs this control plane: OBJECTS ConfigMaps of a
#      ledger batch's size created, read and deleted by 8 clients, each
#      verb's CPU per object by process (a batch is a create, and a delete
#      once merged).
#   4. A burst: BURST signed ExecutionRequests created by parallel
#      `kubectl create -f` processes, with the operator turning each into a
#      Job whose Pod the Job controller makes; the admission latency from the
#      API server's and execgov's histograms, and the admissions that
#      outlived the webhook timeout.
#
# Usage: bench/cluster/run.sh [CREATES_PER_RUN]     (default 500)
#   env: CLIENTS ("1 8 32")  REPLICAS ("1 2")  ROUNDS (2: control/governed pairs per cell)
#        BURST (200 ExecutionRequests; 0: none)  BURST_PARALLEL (20 kubectl processes at once)
#        OBJECTS (1000 ConfigMaps created, read, replaced and deleted: what one API write costs; 0: none)
#        NULLHOOK (1: each cell also runs the same signed Pods through bench/cluster/nullhook, a
#        webhook that allows everything and does nothing else, the floor any webhook sets; 0: not)
#        TIMEOUT (5: the webhook's timeoutSeconds, the chart's default)
#        WARMUP (20 creates per namespace before each cell, not measured)
#        LEDGER (configmap: the ledger in the cluster's ConfigMaps; etcd: on an etcd of its own)
#        WEBHOOK_ARGS (more flags for each webhook replica)
#        LEDGER_FORWARD (1: with two replicas, one writes the ledger and the other forwards
#        its records to it, as the chart runs them; 0: both write)
#        BALANCER (two replicas behind: kernel, iptables DNAT rules as kube-proxy writes for a
#        Service, when run as root with iptables; proxy, the Python TCP proxy; default kernel
#        if it can, else proxy)
#        BENCH_PERF, BENCH_PPROF (directories: a perf profile of the run's processes, the API
#        server's own pprof CPU profile of its first BENCH_PPROF_SECONDS (8) s, per run)
#        BENCH_PERF_HZ (499 samples/s), BENCH_PERF_CALLGRAPH (fp; dwarf,8192 unwinds execgov, which
#        is built without frame pointers, at the cost of much larger profiles)
#        EXECGOV (build/src/cmd/execgov)  OUT (a new /tmp/execgov-cluster-bench-<time> directory)
# Prints the Markdown tables at the end and writes them to $OUT/report.md,
# every run's raw figures to $OUT/results.jsonl. Every server it starts
# listens on loopback on a free port and is stopped at exit, Ctrl-C included.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bench=$root/bench/cluster
creates=${1:-500}
clients_list=${CLIENTS:-1 8 32}
replicas_list=${REPLICAS:-1 2}
rounds=${ROUNDS:-2}
burst=${BURST:-200}
burst_parallel=${BURST_PARALLEL:-20}
objects=${OBJECTS:-1000}
nullhook=${NULLHOOK:-1}
timeout=${TIMEOUT:-5}
warmup=${WARMUP:-20}
ledger_kind=${LEDGER:-configmap}
execgov_built=$(realpath "${EXECGOV:-$root/build/src/cmd/execgov}")
out=${OUT:-/tmp/execgov-cluster-bench-$(date -u +%Y%m%dT%H%M%SZ)}
[ -x "$execgov_built" ] || { echo "no execgov at $execgov_built: build it (flock /tmp/execgov-build.lock cmake --build build --target execgov)" >&2; exit 1; }
[[ $nullhook =~ ^[01]$ ]] || { echo "NULLHOOK: 1 or 0, not $nullhook" >&2; exit 2; }
[[ $objects =~ ^[0-9]+$ ]] || { echo "OBJECTS: a count, not $objects" >&2; exit 2; }
[[ $ledger_kind =~ ^(configmap|etcd)$ ]] || { echo "LEDGER: configmap or etcd, not $ledger_kind" >&2; exit 2; }
for r in $replicas_list; do
  [[ $r =~ ^[12]$ ]] || { echo "REPLICAS: 1 and/or 2, not $r" >&2; exit 2; }
done
replicas_list=$(tr ' ' '\n' <<<"$replicas_list" | sort -nu | xargs)  # the second replica is added, never removed
balancer=${BALANCER:-}
if [ -z "$balancer" ]; then
  balancer=proxy
  [ "$(id -u)" = 0 ] && iptables -t nat -S OUTPUT >/dev/null 2>&1 && balancer=kernel
fi
[[ $balancer =~ ^(kernel|proxy)$ ]] || { echo "BALANCER: kernel or proxy, not $balancer" >&2; exit 2; }
mkdir -p "$out"
started=$SECONDS
command_line="$(printf '%q ' "$0" "$@")"
for v in CLIENTS REPLICAS ROUNDS BURST BURST_PARALLEL OBJECTS NULLHOOK TIMEOUT WARMUP LEDGER LEDGER_FORWARD BALANCER WEBHOOK_ARGS EXECGOV; do
  [ -z "${!v:-}" ] || command_line="$v=$(printf '%q' "${!v}") $command_line"
done

# The control plane: our own instance, whatever else runs on this host.
work=$(mktemp -d /tmp/execgov-cluster-bench.XXXXXX)
export EXECGOV_TESTENV_DIR=$work/testenv
lb_pids=()
nat_chain="" nat_port=""
bench_cleanup() {
  local rc=$? p
  set +e
  trap '' INT TERM HUP  # a second Ctrl-C must not cut the cleanup short (children inherit this)
  for p in "${lb_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [ -z "$nat_chain" ] || nat_remove
  # cluster_lib.sh's own cleanup stops the webhooks and the operator; the
  # objects made here go with the instance, so it is not asked to delete them
  # (one DELETE per replay ConfigMap took minutes after a full run).
  if declare -F cluster_cleanup >/dev/null; then
    CLUSTER_NAMESPACES=() CLUSTER_POLICIES=() WEBHOOK_CONFIG="" LEDGER_ORIGIN=""
    (exit $rc)
    cluster_cleanup
  fi
  "$root/hack/testenv.sh" stop >/dev/null 2>&1
  rm -rf "$work"
  exit $rc
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM HUP
echo "== starting a control plane in $EXECGOV_TESTENV_DIR"
"$root/hack/testenv.sh" start >/dev/null
# A copy: a rebuild during the run must not mix two versions.
execgov=$work/execgov
cp -p "$execgov_built" "$execgov"

source "$root/tests/e2e/cluster_lib.sh"
cluster_init "$execgov" bench
trap bench_cleanup EXIT  # cluster_init set its own; ours calls it
if [ "$ledger_kind" = etcd ]; then
  # The ledger on an etcd of its own (docs/ledger.md: the backend for
  # sustained high rates), started as hack/testenv.sh starts the cluster's.
  read -r ledger_etcd_port ledger_etcd_peer < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
  etcd --name=ledger --data-dir="$work/ledger-etcd" \
    --listen-client-urls="http://127.0.0.1:$ledger_etcd_port" --advertise-client-urls="http://127.0.0.1:$ledger_etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$ledger_etcd_peer" \
    --initial-advertise-peer-urls="http://127.0.0.1:$ledger_etcd_peer" \
    --initial-cluster="ledger=http://127.0.0.1:$ledger_etcd_peer" \
    --unsafe-no-fsync --log-level=warn >"$work/ledger-etcd.log" 2>&1 &
  lb_pids+=($!)
  poll 30 curl -fsS --max-time 2 "http://127.0.0.1:$ledger_etcd_port/health" -o /dev/null ||
    fail "the ledger's etcd did not start: $(tail -n 5 "$work/ledger-etcd.log")"
  LEDGER_URL="etcd://127.0.0.1:$ledger_etcd_port/execgov/$LEDGER_ORIGIN"
fi

cluster_apply_crds
cluster_setup_identities
cluster_make_keys
plain_ns=$CLUSTER_ID-plain gov_ns=$CLUSTER_ID-gov burst_ns=$CLUSTER_ID-burst
cluster_namespace "$plain_ns"
cluster_namespace "$gov_ns" governed
cluster_namespace "$burst_ns" governed
cluster_policy "$CLUSTER_ID" "$gov_ns" "$burst_ns" >policy.yaml
cluster_apply_policy policy.yaml
scenarios="ungoverned governed"
if [ "$nullhook" = 1 ]; then
  null_ns=$CLUSTER_ID-null
  cluster_namespace "$null_ns"
  kubectl label namespace "$null_ns" bench.execgov.io/null-webhook=true >/dev/null
  scenarios="ungoverned null-webhook governed"
fi

# The admin's credentials and the API server's address, for the load
# generator and the /metrics scrapes.
(
  umask 077
  kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >api-ca.crt
  kubectl config view --raw --minify -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d >admin.crt
  kubectl config view --raw --minify -o jsonpath='{.users[0].user.client-key-data}' | base64 -d >admin.key
)
export BENCH_API BENCH_CA=$CLUSTER_WORK/api-ca.crt BENCH_CERT=$CLUSTER_WORK/admin.crt BENCH_KEY=$CLUSTER_WORK/admin.key
BENCH_API=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
export BENCH_ETCD=$EXECGOV_TESTENV_ETCD BENCH_EXECGOV=$execgov BENCH_LEDGER=$LEDGER_URL
export BENCH_WORK=$work:$CLUSTER_WORK  # whose processes' CPU time counts (cluster_bench.py process_cpu)
export BENCH_LEDGER_STATE=$CLUSTER_WORK/ledger-next BENCH_WEBHOOK_METRICS=
results=$out/results.jsonl
: >"$results"
cb() { python3 "$bench/cluster_bench.py" "$@"; }

# nat_add PORT BACKEND...: connections to 127.0.0.1:PORT go to one of the
# backends, picked at random per connection, as kube-proxy's iptables rules
# send a Service's (a chain of our own, jumped to from OUTPUT: loopback
# traffic is made here, so PREROUTING never sees it). nat_remove undoes it;
# the cleanup calls it, so no rule outlives the run.
nat_add() {
  local port=$1 i n
  shift
  n=$#
  nat_chain=EXECGOV-BENCH-$$ nat_port=$port
  iptables -w -t nat -N "$nat_chain"
  iptables -w -t nat -A OUTPUT -p tcp -d 127.0.0.1 --dport "$port" -j "$nat_chain"
  for ((i = 0; i < n; i++)); do
    local backend=${1}
    shift
    if ((i < n - 1)); then
      iptables -w -t nat -A "$nat_chain" -p tcp -m statistic --mode random \
        --probability "$(awk "BEGIN { printf \"%.5f\", 1 / ($n - $i) }")" -j DNAT --to-destination "$backend"
    else
      iptables -w -t nat -A "$nat_chain" -p tcp -j DNAT --to-destination "$backend"
    fi
  done
}
nat_remove() {
  iptables -w -t nat -D OUTPUT -p tcp -d 127.0.0.1 --dport "$nat_port" -j "$nat_chain" 2>/dev/null
  iptables -w -t nat -F "$nat_chain" 2>/dev/null
  iptables -w -t nat -X "$nat_chain" 2>/dev/null
  nat_chain=""
}
# Connections each rule sent on (nat rules see a connection's first packet only).
nat_stats() {
  iptables -w -t nat -L "$nat_chain" -n -v -x | awk '/DNAT/ { printf "%s%s", sep, $1; sep = " " }'
}

# lb N: an address in front of the first N replicas (BALANCER: kernel rules
# or the proxy), registered as the webhook (caBundle: their CAs); returns
# once the API server calls through it. One replica is registered as
# itself: a Service's in-kernel forwarding costs next to nothing, where the
# proxy (Python) spends ~0.3 ms of CPU per admission on the same two cores.
lb() {
  local n=$1 i backends=() file=$CLUSTER_WORK/lb-$1.port
  if [ "$n" = 1 ]; then
    BENCH_WEBHOOK_METRICS="http://127.0.0.1:${WEBHOOK_METRICS_PORTS[0]}/metrics "
    register_webhook 0
    kubectl patch validatingwebhookconfiguration "$WEBHOOK_CONFIG" --type=json \
      -p "[{\"op\": \"replace\", \"path\": \"/webhooks/0/timeoutSeconds\", \"value\": $timeout}]" >/dev/null
    wait_webhook_active "$gov_ns" >/dev/null
    return
  fi
  : >"$CLUSTER_WORK/lb-$n.ca"
  BENCH_WEBHOOK_METRICS=
  for ((i = 0; i < n; i++)); do
    backends+=("127.0.0.1:${WEBHOOK_PORTS[$i]}")
    cat "${WEBHOOK_CAS[$i]}" >>"$CLUSTER_WORK/lb-$n.ca"
    BENCH_WEBHOOK_METRICS+="http://127.0.0.1:${WEBHOOK_METRICS_PORTS[$i]}/metrics "
  done
  if [ "$balancer" = kernel ]; then
    free_port >"$file"  # nothing listens on it: the rules answer for it
    nat_add "$(cat "$file")" "${backends[@]}"
  else
    # python3 itself in the background (not a function's subshell), so the
    # pid the cleanup kills is the proxy's.
    python3 "$bench/cluster_bench.py" lb "$file" "${backends[@]}" >"$CLUSTER_WORK/lb-$n.log" 2>&1 &
    lb_pids+=($!)
    poll 30 test -s "$file" || fail "the proxy did not start: $(cat "$CLUSTER_WORK/lb-$n.log")"
  fi
  local ports=("${WEBHOOK_PORTS[@]}") cas=("${WEBHOOK_CAS[@]}")
  WEBHOOK_PORTS=("$(cat "$file")") WEBHOOK_CAS=("$CLUSTER_WORK/lb-$n.ca")
  register_webhook 0
  WEBHOOK_PORTS=("${ports[@]}") WEBHOOK_CAS=("${cas[@]}")
  kubectl patch validatingwebhookconfiguration "$WEBHOOK_CONFIG" --type=json \
    -p "[{\"op\": \"replace\", \"path\": \"/webhooks/0/timeoutSeconds\", \"value\": $timeout}]" >/dev/null
  through_balancer() {
    wait_webhook_active "$gov_ns" >/dev/null || return 1
    if [ "$balancer" = kernel ]; then
      nat_stats | grep -q '[1-9]'
    else
      test -s "$file.stats"
    fi
  }
  poll 60 through_balancer || fail "the API server does not call the webhook through the $balancer balancer"
}
lb_stats() {
  if [ "$balancer" = kernel ]; then
    echo "connections per replica: $(nat_stats) (kernel rules)"
  else
    echo "connections per replica: $(cat "$CLUSTER_WORK/lb-$1.port.stats") (proxy)"
  fi
}

# start_nullhook: bench/cluster/nullhook built and serving on a free
# loopback port (its own certificate), registered for the null-webhook
# namespace with the chart's failure policy and this run's timeout; returns
# once the API server calls it.
start_nullhook() {
  local go port
  go=$(command -v go || echo /usr/local/go/bin/go)
  (cd "$bench/nullhook" && CGO_ENABLED=0 "$go" build -o "$work/nullhook" .) || fail "cannot build bench/cluster/nullhook"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$CLUSTER_WORK/nullhook.key" -out "$CLUSTER_WORK/nullhook.crt" 2>/dev/null ||
    fail "cannot make the null webhook's certificate"
  port=$(free_port)
  "$work/nullhook" -listen "127.0.0.1:$port" -cert "$CLUSTER_WORK/nullhook.crt" -key "$CLUSTER_WORK/nullhook.key" \
    >"$CLUSTER_WORK/nullhook.log" 2>&1 &
  lb_pids+=($!)
  kubectl apply -f - >/dev/null <<YAML || fail "cannot register the null webhook"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: bench-null-$CLUSTER_ID}
webhooks:
- name: null.bench.execgov.io
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  timeoutSeconds: $timeout
  clientConfig:
    url: https://127.0.0.1:$port/validate
    caBundle: $(base64 -w0 <"$CLUSTER_WORK/nullhook.crt")
  namespaceSelector:
    matchLabels: {bench.execgov.io/null-webhook: "true"}
    matchExpressions:
    - {key: kubernetes.io/metadata.name, operator: In, values: [$null_ns]}
  rules:
  - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
YAML
  called() {
    kubectl run "probe-$CLUSTER_ID" -n "$null_ns" --image=registry.example.com/probe:1 --restart=Never \
      --dry-run=server >/dev/null 2>&1 &&
      [ "$(curl -fsS --max-time 2 --cacert "$CLUSTER_WORK/nullhook.crt" "https://127.0.0.1:$port/count")" -gt 0 ]
  }
  poll 60 called || fail "the API server does not call the null webhook: $(cat "$CLUSTER_WORK/nullhook.log")"
}

# make_pods SCENARIO PREFIX N: the bodies of one run (signed unless
# ungoverned: the null webhook's Pods are the governed ones, byte for byte
# but for their namespace).
make_pods() {
  local ns=$plain_ns
  [ "$1" = governed ] && ns=$gov_ns
  [ "$1" = null-webhook ] && ns=$null_ns
  cb pods "$3" "$ns" "$2" >"$2.jsonl"
  if [ "$1" != ungoverned ]; then
    sign --artifact-only -f "$2.jsonl" >"$2.tokens" || fail "cannot sign $2.jsonl"
    cb annotate "$2.jsonl" "$2.tokens" "$2.jsonl"
  fi
}

echo "== execgov: $execgov_built ($("$execgov" --version 2>/dev/null | head -n1))"
echo "== $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
start_webhooks 1 ${WEBHOOK_ARGS:-}
wait_webhooks_ready 60
lb 1
start_operator
poll 60 curl -sf "http://127.0.0.1:${OPERATOR_METRICS_PORTS[0]}/readyz" -o /dev/null ||
  fail "the operator did not become ready: $(tail -n 20 "$CLUSTER_WORK/operator-0.log")"

[ "$nullhook" = 0 ] || start_nullhook

echo "== background: 5 s with nothing created"
cb measure idle --scenario idle --command "sleep 5" --results "$results" --settle 0

for replicas in $replicas_list; do
  if [ "$replicas" = 2 ]; then
    start_webhooks 1 ${WEBHOOK_ARGS:-}
    wait_webhooks_ready 60
    lb 2
  fi
  for clients in $clients_list; do
    echo "== $replicas webhook replica(s), $clients client(s): $rounds x (${scenarios// /, }), $creates creates each"
    for scenario in $scenarios; do
      make_pods "$scenario" "warm-$scenario-$replicas-$clients" "$warmup"
      cb measure warmup --pods "warm-$scenario-$replicas-$clients.jsonl" --clients "$clients" \
        --results "$CLUSTER_WORK/warmup.jsonl" >/dev/null
    done
    for ((round = 1; round <= rounds; round++)); do
      for scenario in $scenarios; do
        prefix=$scenario-r$replicas-c$clients-$round
        make_pods "$scenario" "$prefix" "$creates"
        cb measure "$prefix" --scenario "$scenario" --pods "$prefix.jsonl" --clients "$clients" \
          --replicas "$replicas" --round "$round" --results "$results"
      done
    done
    [ "$replicas" = 1 ] || echo "   $(lb_stats 2)"
  done
done

if [ "$objects" -gt 0 ]; then
  # What one ledger batch costs the cluster, whoever writes it: a create,
  # and a delete once merged (`cluster_bench.py objects`), at the size of
  # the 8-client batches above.
  echo "== one API write: $objects ConfigMaps of 3000 bytes created, read, replaced and deleted"
  kubectl create namespace "$CLUSTER_ID-objects" >/dev/null
  cb objects "$objects" "$CLUSTER_ID-objects" 3000 "$results"
fi

if [ "$burst" -gt 0 ]; then
  replicas=$(tr ' ' '\n' <<<"$replicas_list" | sort -n | tail -n1)
  echo "== burst: $burst signed ExecutionRequests, $burst_parallel kubectl create processes at once, $replicas replica(s)"
  cb requests "$burst" "$burst_ns" req >requests.jsonl
  sign --artifact-only -f requests.jsonl >requests.tokens || fail "cannot sign the requests"
  cb annotate requests.jsonl requests.tokens "$CLUSTER_WORK/requests/"
  # One kubectl per file, as someone would type it; each prints its wall time.
  create='t0=$EPOCHREALTIME; kubectl create -f "$1" >/dev/null || exit 1; t1=$EPOCHREALTIME; echo "LATENCY $(awk "BEGIN { print $t1 - $t0 }")"'
  cb measure "burst-$burst-requests-$burst_parallel-at-once" --scenario burst --replicas "$replicas" \
    --timeout "$timeout" --pod-count "$burst_ns:$burst" --wait 300 --settle 2 --results "$results" \
    --logs "$CLUSTER_WORK/webhook-*.log" --log-namespace "$burst_ns" \
    --command "ls $CLUSTER_WORK/requests/*.json | xargs -P $burst_parallel -n 1 bash -c '$create' _"
fi

elapsed=$((SECONDS - started))
{
  echo "## bench/cluster/run.sh, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Command: \`$command_line\` (in $root at commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'));" \
    "$(nproc) cores; whole run $((elapsed / 60)) min $((elapsed % 60)) s."
  echo "execgov: $execgov_built, built $(date -u -r "$execgov" +%Y-%m-%dT%H:%MZ) ($("$execgov" --version 2>/dev/null | head -n1))."
  echo "Control plane: hack/testenv.sh ($(etcd --version 2>/dev/null | head -n1 | sed 's/^etcd Version: /etcd /'), $(kubectl version -o json 2>/dev/null |
    python3 -c 'import json,sys; print("kube-apiserver " + json.load(sys.stdin)["serverVersion"]["gitVersion"])' 2>/dev/null)); webhook timeout ${timeout} s; ledger $LEDGER_URL;" \
    "two replicas behind $([ "$balancer" = kernel ] && echo "iptables DNAT rules (kube-proxy's way)" || echo "the Python proxy")."
  echo
} >"$out/header.md"
cb report "$results" "$out/tables.md" >/dev/null
cat "$out/header.md" "$out/tables.md" >"$out/report.md"
rm "$out/header.md" "$out/tables.md"
echo
cat "$out/report.md"
echo "report: $out/report.md (raw figures: $results)"
