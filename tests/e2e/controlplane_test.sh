#!/usr/bin/env bash
# Proves the control plane from hack/testenv.sh is the real thing, with the real
# kubectl and helm:
#
#   controlplane_test.sh version    kubectl and helm reach the API server
#   controlplane_test.sh crd        a CRD is served and a custom object stored
#   controlplane_test.sh job        the Job controller creates the Job's Pod
#   controlplane_test.sh webhook    a ValidatingWebhookConfiguration is called for
#                                   Pod creation and its denial reaches kubectl;
#                                   the Job controller's Pods reach it under the
#                                   Job controller's service account
#
# Runs against the instance in $EXECGOV_TESTENV_DIR (the ctest fixture sets it).
# Each case works in its own namespace and removes what it created, so cases
# may run in parallel.
set -euo pipefail

source "$(dirname "$0")/lib.sh"

ns=e2e-$1-$$
cleanup=()
on_exit() {
  local i
  for ((i = ${#cleanup[@]} - 1; i >= 0; i--)); do eval "${cleanup[i]}" || true; done
}
trap on_exit EXIT
new_namespace() {
  kubectl create namespace "$ns" >/dev/null
  cleanup+=("kubectl delete namespace $ns --wait=false >/dev/null")
  # Pods need the namespace's default ServiceAccount, which the controller
  # manager creates shortly after the namespace.
  poll 60 kubectl get serviceaccount default -n "$ns" >/dev/null 2>&1 ||
    fail "no default ServiceAccount in $ns"
}

case_version() {
  local out server client
  out=$(kubectl version -o json)
  echo "$out"
  server=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])' <<<"$out")
  client=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])' <<<"$out")
  [[ $server =~ ^v1\.[0-9]+\.[0-9]+$ ]] || fail "server version '$server' is not a release version"
  [ "$server" = "$client" ] || fail "server $server and kubectl $client differ"
  helm version --short
  # helm talks to the same API server: listing releases needs it.
  helm list --all-namespaces >/dev/null || fail "helm cannot reach the API server"
}

case_crd() {
  kubectl apply -f - <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.e2e.execgov.io}
spec:
  group: e2e.execgov.io
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, minimum: 1}
EOF
  cleanup+=("kubectl delete crd widgets.e2e.execgov.io --wait=false >/dev/null")
  kubectl wait --for=condition=Established --timeout=60s crd/widgets.e2e.execgov.io
  new_namespace
  poll 30 kubectl get widgets -n "$ns" >/dev/null 2>&1 || fail "widgets are not served"
  kubectl apply -n "$ns" -f - <<'EOF'
apiVersion: e2e.execgov.io/v1
kind: Widget
metadata: {name: first}
spec: {size: 3}
EOF
  [ "$(kubectl get widget first -n "$ns" -o jsonpath='{.spec.size}')" = 3 ] || fail "widget not stored"
  # The schema is enforced by the API server.
  if out=$(kubectl apply -n "$ns" -f - 2>&1 <<'EOF'
apiVersion: e2e.execgov.io/v1
kind: Widget
metadata: {name: invalid}
spec: {size: 0}
EOF
  ); then fail "a widget breaking the schema was accepted"; fi
  grep -q 'spec.size' <<<"$out" || fail "unexpected error: $out"
}

case_job() {
  new_namespace
  job_manifest hello "$ns" | kubectl apply -f -
  local pods='' get=(kubectl get pods -n "$ns" -l batch.kubernetes.io/job-name=hello -o name)
  poll 60 test -n "$("${get[@]}")" || {
    # What the Job controller saw (FailedCreate events name an admission
    # refusal), and every webhook configuration that could have refused it.
    kubectl get events -n "$ns" >&2 || true
    kubectl get job hello -n "$ns" -o jsonpath='{.status}' >&2 || true
    kubectl get validatingwebhookconfigurations >&2 || true
    fail "the Job controller created no Pod within 60s"
  }
  pods=$("${get[@]}")
  echo "created by the Job controller: $pods"
  local owner phase
  owner=$(kubectl get -n "$ns" "$pods" -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}')
  [ "$owner" = Job/hello ] || fail "pod owner is '$owner', not Job/hello"
  phase=$(kubectl get -n "$ns" "$pods" -o jsonpath='{.status.phase}')
  [ "$phase" = Pending ] || fail "pod phase is '$phase'; with no kubelet it must stay Pending"
}

case_webhook() {
  local tmp
  tmp=$(mktemp -d)
  cleanup+=("rm -rf $tmp")
  local message="execgov e2e: no pods allowed here"
  deny_webhook_start "$tmp" "$message"
  cleanup+=("kill $DENY_PID 2>/dev/null")

  new_namespace
  kubectl label namespace "$ns" "e2e.execgov.io/deny=$ns" >/dev/null
  local name=deny-$ns
  deny_webhook_apply "$name" "  namespaceSelector:
    matchLabels: {e2e.execgov.io/deny: $ns}"
  cleanup+=("kubectl delete validatingwebhookconfiguration $name >/dev/null")

  local pod=(kubectl run blocked -n "$ns" --image=registry.example.com/hello:1 --restart=Never)
  # The API server picks the configuration up asynchronously: a server-side dry
  # run (the webhook has no side effects) shows when it is in force.
  poll 30 bash -c "! $(printf '%q ' "${pod[@]}") --dry-run=server >/dev/null 2>&1" ||
    fail "the webhook never denied a dry run; its log: $(cat "$tmp/webhook.log")"

  local out
  if out=$("${pod[@]}" 2>&1); then fail "the pod was admitted: $out"; fi
  echo "kubectl said: $out"
  grep -qF 'admission webhook "deny.e2e.execgov.io" denied the request' <<<"$out" ||
    fail "the error does not name the webhook"
  grep -qF "$message (Pod blocked)" <<<"$out" || fail "the webhook's message did not reach kubectl"
  grep -q "CREATE Pod $ns/blocked" "$tmp/webhook.log" || fail "the webhook did not log the request"
  ! kubectl get pod blocked -n "$ns" >/dev/null 2>&1 || fail "the denied pod exists"

  # Pods a Job makes reach the webhook from the Job controller's own identity,
  # the one an ExecutionPolicy lists among its trustedControllers.
  kubectl create job made-by-job -n "$ns" --image=registry.example.com/hello:1 >/dev/null
  poll 60 grep -qE "CREATE Pod $ns/made-by-job-[a-z0-9]+ by system:serviceaccount:kube-system:job-controller\$" \
    "$tmp/webhook.log" ||
    fail "no Pod creation by the Job controller reached the webhook: $(cat "$tmp/webhook.log")"
  echo "the Job controller's Pod creation reached the webhook as system:serviceaccount:kube-system:job-controller"
}

case "${1:-}" in
  version | crd | job | webhook) "case_$1" ;;
  *) fail "usage: $0 version|crd|job|webhook" ;;
esac
echo "PASS: $1"
