#!/usr/bin/env bash
# A cluster to look at (issue 22): the real control plane (hack/testenv.sh:
# etcd, kube-apiserver, kube-controller-manager; no kubelet, so Pods stay
# Pending), execgov's webhook and operator as local processes under their own
# service accounts (the way the e2e tests run them, tests/e2e/cluster_lib.sh),
# a policy, an ExecutionRequest walked through to its Job and Pods, a few
# denials and a replay, and the governance console over the ledger.
#
#   hack/demo-cluster.sh [start]   prints the console's URL, its token and the ledger key to pin
#   hack/demo-cluster.sh stop      ends everything it started and removes its directory
#
# EXECGOV_DEMO_DIR (default /tmp/execgov-demo-$UID) holds its state.
# EXECGOV_DEMO_EXECGOV: an execgov binary already built (the e2e test's); the
# script then builds nothing (by default it runs hack/build.sh execgov console).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
demo=${EXECGOV_DEMO_DIR:-/tmp/execgov-demo-$UID}
export EXECGOV_TESTENV_DIR=$demo/testenv

stop() {
  if [ -f "$demo/pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$demo/pids"
    while read -r pid; do
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    done <"$demo/pids"
  fi
  [ -d "$EXECGOV_TESTENV_DIR" ] && "$repo/hack/testenv.sh" stop >/dev/null 2>&1 || true
  [ -f "$demo/work" ] && rm -rf "$(cat "$demo/work")"
  rm -rf "$demo"
}

case "${1:-start}" in
  stop) stop; echo "demo-cluster: stopped"; exit 0 ;;
  start) ;;
  *) echo "usage: hack/demo-cluster.sh [start|stop]" >&2; exit 2 ;;
esac
[ ! -e "$demo/pids" ] || { echo "demo-cluster: already running ($demo); run hack/demo-cluster.sh stop first" >&2; exit 2; }

execgov=${EXECGOV_DEMO_EXECGOV:+$(realpath "$EXECGOV_DEMO_EXECGOV")}
if [ -z "$execgov" ]; then
  "$repo/hack/build.sh" execgov console
  execgov=$repo/build/src/cmd/execgov
fi
mkdir -p "$demo"
started=""
trap '[ -n "$started" ] || { echo "demo-cluster: failed; stopping what was started" >&2; stop; }' EXIT
"$repo/hack/testenv.sh" start >/dev/null

# cluster_lib.sh's helpers, without its cleanup at exit: the demo keeps running.
source "$repo/tests/e2e/cluster_lib.sh"
cluster_init "$execgov" demo
echo "$CLUSTER_WORK" >"$demo/work"
trap '[ -n "$started" ] || { echo "demo-cluster: failed; stopping what was started" >&2; printf "%s\n" "${WEBHOOK_PIDS[@]}" "${OPERATOR_PIDS[@]}" >>"$demo/pids"; stop; }' EXIT
ns=team-a
cluster_governed_setup "$ns"
start_operator
work=$CLUSTER_WORK
echo "$work" >"$demo/work"
printf '%s\n' "${WEBHOOK_PIDS[@]}" "${OPERATOR_PIDS[@]}" >"$demo/pids"

echo "== an ExecutionRequest, signed, walked through to its Job and Pods"
cat >request.yaml <<YAML
apiVersion: execgov.io/v1alpha1
kind: ExecutionRequest
metadata: {name: rotate-keys-1, namespace: $ns}
spec:
  initiator: agent:e2e
  intent: rotate the payments service keys (demo)
  template:
    spec:
      backoffLimit: 0
      parallelism: 2
      completions: 2
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: rotate
            image: registry.example.com/tools/rotate:1.4
            command: ["/rotate"]
YAML
sign -f request.yaml >signed-request.yaml
kubectl apply -f signed-request.yaml
poll 60 bash -c "kubectl -n $ns get pods -o name 2>/dev/null | grep -q ." ||
  fail "no Pod appeared for the request's Job: $(tail -n 20 "$work/operator-0.log")"
kubectl -n "$ns" get executionrequests,jobs,pods

echo "== denials: an unsigned Job, a Job whose image changed after signing, and a replay of the request's artifact"
job_manifest unsigned-job "$ns" | kubectl apply -f - 2>&1 | tail -1 || true
job_manifest tampered-job "$ns" | sign -f - | sed 's#tools/rotate:1.2#tools/evil:1.2#' | kubectl apply -f - 2>&1 | tail -1 || true
sed 's/name: rotate-keys-1/name: rotate-keys-replay/' signed-request.yaml | kubectl apply -f - 2>&1 | tail -1 || true

echo "== the governance console"
head -c 32 /dev/urandom | base64 | tr -d '\n=' >"$demo/token"
chmod 600 "$demo/token"
"$EXECGOV" console --ledger "$LEDGER_URL?kubeconfig=$KUBECONFIG" --listen 127.0.0.1:0 --token-file "$demo/token" \
  --state-dir "$demo/console" --policy "$work/policy.yaml" \
  --metrics "webhook=http://127.0.0.1:${WEBHOOK_METRICS_PORTS[0]}" \
  --metrics "operator=http://127.0.0.1:${OPERATOR_METRICS_PORTS[0]}" >"$demo/console.log" 2>&1 &
echo $! >>"$demo/pids"
url=""
for _ in $(seq 100); do
  url=$(grep -o '"url":"[^"]*"' "$demo/console.log" | head -1 | cut -d'"' -f4 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || fail "the console did not start: $(cat "$demo/console.log")"
cp "$LEDGER_PUB" "$demo/ledger.pub"
started=yes
cat <<EOT

The demo runs. Open the console (its certificate is from a private CA: $demo/console/tls/ca.crt):
  $url
  token:               $(cat "$demo/token")
  ledger key to pin:   $demo/ledger.pub   (paste it under "Ledger key"; checkpoints follow every 10 s)
  kubectl:             export KUBECONFIG=$KUBECONFIG
Stop everything with: hack/demo-cluster.sh stop
EOT
