#!/usr/bin/env bash
# A cluster to look at (issue 22): the real control plane (hack/testenv.sh:
# etcd, kube-apiserver, kube-controller-manager; no kubelet, so Pods stay
# Pending), execgov's webhook, operator and authority as local processes under
# their own service accounts (the way the e2e tests run them,
# tests/e2e/cluster_lib.sh, tests/e2e/authority_test.sh), a policy, a signed
# ExecutionRequest walked through to its Job and Pods, a few denials and a
# replay; an AuthorityPolicy under which an agent's request is auto-approved,
# one is approved by alice (`execgov approve`) and one is left waiting; and
# the governance console over the ledger, in cluster mode (alice's token).
# tests/e2e/demo_cluster_test.sh (e2e_demo_cluster) runs it.
#
#   hack/demo-cluster.sh [start]   prints the console's URL, alice's token and the ledger key to pin
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

echo "== the authority: one request auto-approved, one approved by a person, one left waiting"
# The policy opted in to requests without an artifact (spec.authorization):
# the agent's ServiceAccount may ask as agent:e2e, the subject the authority signs for.
agent=system:serviceaccount:$ns:agent
cat >>"$work/policy.yaml" <<YAML
  authorization:
    allowPendingRequests: true
    initiatorMappings:
    - {user: "$agent", initiators: [agent:e2e]}
YAML
kubectl apply -f "$work/policy.yaml" >/dev/null
kubectl create serviceaccount agent -n "$ns" >/dev/null
kubectl create role agent -n "$ns" --verb=create,get,list,watch --resource=executionrequests.execgov.io >/dev/null
kubectl create rolebinding agent -n "$ns" --role=agent --serviceaccount="$ns:agent" >/dev/null
# alice approves: a ServiceAccount of the namespace approvers, whose group
# system:serviceaccounts:approvers the rule names (people would be users of a
# group from an identity provider, docs/authority.md).
kubectl create namespace approvers >/dev/null
kubectl create serviceaccount alice -n approvers >/dev/null
kubectl create role approver -n "$ns" --verb=create,get,list --resource=executionapprovals.execgov.io,executionrequests.execgov.io >/dev/null
kubectl create rolebinding approver -n "$ns" --role=approver --group=system:serviceaccounts:approvers >/dev/null
kubectl wait --for condition=established --timeout=60s crd/authoritypolicies.execgov.io crd/executionapprovals.execgov.io >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: execgov.io/v1alpha1
kind: AuthorityPolicy
metadata: {name: demo}
spec:
  rules:
  - name: auto-tools
    match: {namespaces: [$ns], initiators: ["agent:*"], images: ["registry.example.com/tools/*"]}
    action: AutoApprove
    ttl: 5m
  - name: batch-needs-review
    match: {namespaces: [$ns], images: ["registry.example.com/batch/*"]}
    action: RequireApprovals
    approvals: {count: 1, groups: [system:serviceaccounts:approvers]}
    timeout: 8h
YAML
cluster_kubeconfig execgov-authority "$work/authority.kubeconfig"
authority_ops=$(free_port)
"$EXECGOV" authority --kubeconfig "$work/authority.kubeconfig" --namespace "$CLUSTER_SYSTEM_NS" \
  --ledger "$LEDGER_URL" --ledger-key "$LEDGER_KEY" --key "$AUTHORITY_KEY" --kid "$AUTHORITY_KID" \
  --issuer e2e-authority --audience e2e-cluster --metrics-listen "127.0.0.1:$authority_ops" \
  --lease-name "execgov-authority-$CLUSTER_ID" --identity "authority-$CLUSTER_ID" \
  --watch-namespaces "$ns" >"$work/authority.log" 2>&1 &
echo $! >>"$demo/pids"
apol_ready() { [ "$(kubectl get apol demo -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
poll 60 apol_ready || fail "the AuthorityPolicy is not Ready: $(tail -n 20 "$work/authority.log")"

# agent_request NAME IMAGE INTENT: created by the agent, without an artifact.
agent_request() {
  kubectl --as="$agent" create -f - >/dev/null <<YAML
apiVersion: execgov.io/v1alpha1
kind: ExecutionRequest
metadata: {name: $1, namespace: $ns}
spec:
  initiator: agent:e2e
  intent: $3
  template:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: run, image: $2, command: ["/run"]}
YAML
}
phase_is() { [ "$(kubectl get executionrequest "$1" -n "$ns" -o jsonpath='{.status.phase}')" = "$2" ]; }
wait_phase() {
  poll 60 phase_is "$1" "$2" ||
    fail "request $1 is not $2: $(kubectl get executionrequest "$1" -n "$ns" -o jsonpath='{.status}') $(tail -n 20 "$work/authority.log")"
}
agent_request rotate-certs registry.example.com/tools/rotate-certs:2 "rotate the ingress certificates (auto-approved)"
agent_request nightly-report registry.example.com/batch/report:3 "the nightly billing report (needs one approval)"
agent_request drop-tables registry.example.com/batch/drop-tables:1 "drop the staging tables (waits for an approval)"
wait_phase rotate-certs Running
wait_phase nightly-report AwaitingAuthorization
cluster_kubeconfig alice "$work/alice.kubeconfig" approvers
KUBECONFIG=$work/alice.kubeconfig "$EXECGOV" approve "$ns/nightly-report" --reason "checked the report's query"
wait_phase nightly-report Running
wait_phase drop-tables AwaitingAuthorization
job_pods() { kubectl get pods -n "$ns" -o name 2>/dev/null | grep -q "^pod/$1-"; }  # its Job's Pods exist
for r in rotate-certs nightly-report; do
  poll 60 job_pods "$r" || fail "no Pod appeared for $r's Job: $(tail -n 20 "$work/operator-0.log")"
done
kubectl get executionrequests,executionapprovals -n "$ns"

echo "== the governance console, in cluster mode: alice's token, her RBAC, writes made as her"
# The console reviews each token (TokenReview, SubjectAccessReview: get
# ledgers.execgov.io in execgov-system) as its own ServiceAccount; alice may
# read the ledger, the policies and the requests, and approve in $ns.
kubectl create serviceaccount execgov-console -n "$CLUSTER_SYSTEM_NS" >/dev/null
kubectl apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: demo-console-reviews}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:auth-delegator}
subjects: [{kind: ServiceAccount, name: execgov-console, namespace: $CLUSTER_SYSTEM_NS}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: ledger-reader, namespace: $CLUSTER_SYSTEM_NS}
rules: [{apiGroups: [execgov.io], resources: [ledgers], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ledger-readers, namespace: $CLUSTER_SYSTEM_NS}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: ledger-reader}
subjects: [{kind: Group, name: system:serviceaccounts:approvers, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: demo-governance-viewer}
rules:
- {apiGroups: [execgov.io], resources: [executionpolicies, executionrequests, authoritypolicies], verbs: [get, list]}
- {apiGroups: [wgpolicyk8s.io], resources: [policyreports], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: demo-governance-viewers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: demo-governance-viewer}
subjects: [{kind: Group, name: system:serviceaccounts:approvers, apiGroup: rbac.authorization.k8s.io}]
YAML
cluster_kubeconfig execgov-console "$work/console.kubeconfig"
(umask 077 && kubectl create token alice -n approvers --duration=4h >"$demo/token")
"$EXECGOV" console --ledger "$LEDGER_URL?kubeconfig=$KUBECONFIG" --listen 127.0.0.1:0 \
  --kube-auth --kubeconfig "$work/console.kubeconfig" --namespace "$CLUSTER_SYSTEM_NS" --allow-writes \
  --state-dir "$demo/console" \
  --metrics "webhook=http://127.0.0.1:${WEBHOOK_METRICS_PORTS[0]}" \
  --metrics "operator=http://127.0.0.1:${OPERATOR_METRICS_PORTS[0]}" \
  --metrics "authority=http://127.0.0.1:$authority_ops" >"$demo/console.log" 2>&1 &
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
                       (alice's, valid 4 h: she reads the ledger and approves in $ns; another:
                        kubectl create token alice -n approvers)
  ledger key to pin:   $demo/ledger.pub   (paste it under "Ledger key"; checkpoints follow every 10 s)
  kubectl:             export KUBECONFIG=$KUBECONFIG
Stop everything with: hack/demo-cluster.sh stop
EOT
