# The in-cluster execgov for e2e tests: `execgov webhook` replicas and
# `execgov operator` processes running beside the shared control plane as
# their own service accounts, a ValidatingWebhookConfiguration pointing at a
# webhook, and cleanup. Sourced after `set -euo pipefail`; it sources lib.sh
# (KUBECONFIG, kubectl, fail, poll). Function names are stable:
#
#   cluster_init EXECGOV [NAME]   call first: sets CLUSTER_ID (unique per run),
#                                 CLUSTER_WORK (a temporary directory, cd'ed
#                                 into), EXECGOV, LEDGER_ORIGIN, LEDGER_URL, and
#                                 the EXIT trap (cluster_cleanup). NAME (default
#                                 "e2e") prefixes this run's cluster-wide names.
#   cluster_apply_crds            apply crds/ (idempotently; never deleted) and
#                                 wait until they are Established
#   cluster_setup_identities      namespace execgov-system, service accounts
#                                 execgov-webhook and execgov-operator with
#                                 least-privilege RBAC (testdata/rbac.yaml), and
#                                 a kubeconfig for each built on a token from
#                                 `kubectl create token`: WEBHOOK_KUBECONFIG,
#                                 OPERATOR_KUBECONFIG (requests carry the user
#                                 system:serviceaccount:execgov-system:<name>)
#   cluster_make_keys [KID]       an authority key pair (AUTHORITY_KEY,
#                                 AUTHORITY_PUB, AUTHORITY_KID, KEY_ENTRY: the
#                                 policy's keys entry from keygen) and the
#                                 ledger signing key (LEDGER_KEY, mode 0600;
#                                 LEDGER_PUB)
#   sign [FLAGS...]               `execgov sign` with that authority (issuer
#                                 e2e-authority, subject agent:e2e, audience
#                                 e2e-cluster, TTL 10m), e.g. sign -f job.yaml
#   cluster_namespace NAME [governed]   create a namespace (deleted at exit),
#                                 labelled execgov.io/governed=true when the
#                                 second argument is "governed"; waits for its
#                                 default ServiceAccount
#   cluster_apply_policy FILE     kubectl apply an ExecutionPolicy; its name is
#                                 deleted at exit
#   cluster_policy NAME NAMESPACE... print an Enforce ExecutionPolicy trusting
#                                 the authority for those namespaces, with the
#                                 job-controller and the operator as trusted
#                                 controllers (audience e2e-cluster)
#   start_webhooks N [FLAGS...]   start N `execgov webhook` replicas on free
#                                 loopback ports (each with its own private CA),
#                                 writing to LEDGER_URL; arrays WEBHOOK_PIDS,
#                                 WEBHOOK_PORTS, WEBHOOK_METRICS_PORTS,
#                                 WEBHOOK_CAS, logs $CLUSTER_WORK/webhook-<i>.log
#   wait_webhooks_ready [SECONDS] poll every replica's /readyz
#   register_webhook [REPLICA]    a ValidatingWebhookConfiguration (docs/design.md §8:
#                                 governed namespaces only, kube-system and
#                                 execgov-system excluded, Fail, NoneOnDryRun,
#                                 timeout, caBundle) named WEBHOOK_CONFIG,
#                                 pointing at replica REPLICA (default 0) and
#                                 scoped to this run's namespaces (call again
#                                 after adding namespaces)
#   wait_webhook_active NAMESPACE until a server dry run of an unsigned Pod in
#                                 NAMESPACE is refused by execgov
#   cluster_governed_setup NS     the above for the usual case: CRDs,
#                                 identities, keys, NS governed with an Enforce
#                                 policy (cluster_policy, named CLUSTER_ID), one
#                                 webhook replica registered and active in NS
#   start_operator [FLAGS...]     `execgov operator` as execgov-operator in the
#                                 background, with LEDGER_URL and LEDGER_KEY,
#                                 this run's Lease (execgov-operator-CLUSTER_ID),
#                                 identity operator-<n>-CLUSTER_ID and namespaces
#                                 (--watch-namespaces: create them first);
#                                 appends to OPERATOR_PIDS and
#                                 OPERATOR_METRICS_PORTS, log
#                                 $CLUSTER_WORK/operator-<n>.log
#   stop_pid PID                  SIGTERM, then SIGKILL after 10s; waits
#   webhook_metric REPLICA REGEX  sum of the replica's metric samples whose
#                                 line matches REGEX
#   cluster_on_cleanup CMD        run CMD (a string, eval'ed) at exit, before
#                                 the rest of the cleanup
#   cluster_cleanup               the EXIT trap: stops every process started
#                                 here, deletes the webhook configuration, the
#                                 policies and namespaces made here, this run's
#                                 ledger and replay ConfigMaps in execgov-system
#
# Parallel tests share one control plane: every cluster-wide name carries
# CLUSTER_ID; execgov-system, the service accounts, RBAC and the CRDs are shared
# and left in place. ExecutionPolicies are cluster-wide and every webhook sees
# every one: scope each test's policies to its own namespaces (match.namespaces,
# or a namespaceSelector on a label value unique to the run), since a governed
# object must satisfy every Enforce policy that matches it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLUSTER_SYSTEM_NS=execgov-system
CLUSTER_NAMESPACES=()
CLUSTER_POLICIES=()
CLUSTER_CLEANUPS=()
WEBHOOK_PIDS=()
WEBHOOK_PORTS=()
WEBHOOK_METRICS_PORTS=()
WEBHOOK_CAS=()
OPERATOR_PIDS=()
OPERATOR_METRICS_PORTS=()
WEBHOOK_CONFIG=""

cluster_init() {
  EXECGOV=$1
  local name=${2:-e2e}
  CLUSTER_ID="$name-$$"
  CLUSTER_WORK=$(mktemp -d)
  LEDGER_ORIGIN="ledger-$CLUSTER_ID"
  LEDGER_URL="configmap://$CLUSTER_SYSTEM_NS/$LEDGER_ORIGIN"
  trap cluster_cleanup EXIT
  cd "$CLUSTER_WORK"
}

cluster_on_cleanup() { CLUSTER_CLEANUPS+=("$1"); }

stop_pid() {
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cluster_cleanup() {
  local rc=$? c pid
  set +e
  for c in "${CLUSTER_CLEANUPS[@]}"; do eval "$c"; done
  for pid in "${OPERATOR_PIDS[@]}" "${WEBHOOK_PIDS[@]}"; do stop_pid "$pid"; done
  [ -n "$WEBHOOK_CONFIG" ] && kubectl delete validatingwebhookconfiguration "$WEBHOOK_CONFIG" --ignore-not-found >/dev/null 2>&1
  [ ${#CLUSTER_POLICIES[@]} -gt 0 ] && kubectl delete executionpolicy "${CLUSTER_POLICIES[@]}" --ignore-not-found >/dev/null 2>&1
  if [ ${#CLUSTER_NAMESPACES[@]} -gt 0 ]; then
    kubectl delete configmap -n "$CLUSTER_SYSTEM_NS" --ignore-not-found \
      -l "execgov.io/replay=true,execgov.io/namespace in ($(IFS=,; echo "${CLUSTER_NAMESPACES[*]}"))" >/dev/null 2>&1
    kubectl delete namespace "${CLUSTER_NAMESPACES[@]}" --wait=false --ignore-not-found >/dev/null 2>&1
  fi
  [ -n "${LEDGER_ORIGIN:-}" ] &&
    kubectl delete configmap -n "$CLUSTER_SYSTEM_NS" -l "execgov.io/ledger=$LEDGER_ORIGIN" --ignore-not-found >/dev/null 2>&1
  if [ $rc -ne 0 ] && [ -n "${CLUSTER_WORK:-}" ]; then
    for c in "$CLUSTER_WORK"/*.log; do
      [ -f "$c" ] && { echo "--- tail of $c" >&2; tail -n 30 "$c" >&2; }
    done
  fi
  [ -n "${CLUSTER_WORK:-}" ] && rm -rf "$CLUSTER_WORK"
  return $rc
}

cluster_apply_crds() {
  poll 60 kubectl apply -f "$repo/crds/" >/dev/null || fail "cannot apply the CRDs"
  kubectl wait --for condition=established --timeout=60s \
    crd/executionpolicies.execgov.io crd/executionrequests.execgov.io >/dev/null || fail "the CRDs are not Established"
}

# cluster_kubeconfig SERVICEACCOUNT FILE [NAMESPACE]: a kubeconfig with a
# bound token of the service account (of the install namespace by default),
# against the test control plane's server and CA.
cluster_kubeconfig() {
  local sa=$1 file=$2 sa_ns=${3:-$CLUSTER_SYSTEM_NS} server ca token
  server=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
  ca=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  token=$(kubectl create token "$sa" -n "$sa_ns" --duration=4h) || fail "no token for $sa"
  (
    umask 077
    cat >"$file" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster: {server: "$server", certificate-authority-data: "$ca"}
users:
- name: $sa
  user: {token: "$token"}
contexts:
- name: $sa
  context: {cluster: testenv, user: $sa, namespace: $sa_ns}
current-context: $sa
YAML
  )
}

cluster_setup_identities() {
  # Parallel runs apply the same objects; a create race is retried.
  poll 60 kubectl apply -f "$repo/tests/e2e/testdata/rbac.yaml" >/dev/null || fail "cannot apply the e2e RBAC"
  WEBHOOK_KUBECONFIG=$CLUSTER_WORK/webhook.kubeconfig
  OPERATOR_KUBECONFIG=$CLUSTER_WORK/operator.kubeconfig
  cluster_kubeconfig execgov-webhook "$WEBHOOK_KUBECONFIG"
  cluster_kubeconfig execgov-operator "$OPERATOR_KUBECONFIG"
  local who
  who=$(kubectl --kubeconfig "$OPERATOR_KUBECONFIG" auth whoami -o jsonpath='{.status.userInfo.username}' 2>/dev/null) ||
    who=system:serviceaccount:$CLUSTER_SYSTEM_NS:execgov-operator  # older kubectl: no whoami
  [ "$who" = "system:serviceaccount:$CLUSTER_SYSTEM_NS:execgov-operator" ] || fail "the operator's kubeconfig is $who"
}

cluster_make_keys() {
  AUTHORITY_KID=${1:-$CLUSTER_ID-authority}
  AUTHORITY_KEY=$CLUSTER_WORK/authority.key
  AUTHORITY_PUB=$CLUSTER_WORK/authority.pub
  KEY_ENTRY=$CLUSTER_WORK/key-entry.yaml
  "$EXECGOV" keygen --alg ed25519 --kid "$AUTHORITY_KID" --out "$CLUSTER_WORK/authority" >"$KEY_ENTRY" ||
    fail "keygen failed"
  "$EXECGOV" keygen --alg ed25519 --kid ledger --out "$CLUSTER_WORK/ledger" >/dev/null || fail "keygen failed"
  LEDGER_KEY=$CLUSTER_WORK/ledger.key
  LEDGER_PUB=$CLUSTER_WORK/ledger.pub
  [ "$(stat -c %a "$LEDGER_KEY")" = 600 ] || fail "the ledger key is not mode 0600"
}

sign() {
  "$EXECGOV" sign --key "$AUTHORITY_KEY" --kid "$AUTHORITY_KID" --issuer e2e-authority --subject agent:e2e \
    --audience e2e-cluster --ttl 10m "$@"
}

cluster_namespace() {
  local name=$1
  kubectl create namespace "$name" >/dev/null || fail "cannot create namespace $name"
  CLUSTER_NAMESPACES+=("$name")
  if [ "${2:-}" = governed ]; then kubectl label namespace "$name" execgov.io/governed=true >/dev/null; fi
  poll 60 kubectl get serviceaccount default -n "$name" >/dev/null 2>&1 || fail "no default ServiceAccount in $name"
}

cluster_apply_policy() {
  local file=$1 name
  name=$(kubectl apply -f "$file" -o name) || fail "cannot apply $file"
  CLUSTER_POLICIES+=("${name#*/}")
}

cluster_policy() {
  local name=$1
  shift
  local namespaces
  namespaces=$(IFS=,; echo "$*")
  cat <<YAML
apiVersion: execgov.io/v1alpha1
kind: ExecutionPolicy
metadata: {name: $name}
spec:
  enforcement: Enforce
  audience: e2e-cluster
  maxTTL: 15m
  match: {kinds: [Pod, Job, ExecutionRequest], namespaces: [$namespaces]}
  trustedControllers:
  - system:serviceaccount:kube-system:job-controller
  - system:serviceaccount:$CLUSTER_SYSTEM_NS:execgov-operator
  issuers:
  - name: e2e-authority
    subjects: ["agent:*"]
    keys:
YAML
  sed 's/^/    /' "$KEY_ENTRY"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_webhooks() {
  local n=$1 i base port ops fwd forward
  shift
  for ((i = 0; i < n; i++)); do
    base=${#WEBHOOK_PIDS[@]}
    port=$(free_port)
    ops=$(free_port)
    fwd=$(free_port)
    # As the chart runs them: one replica writes the ledger's tail, the
    # others forward to it (a Lease of this run's own). LEDGER_FORWARD=0:
    # every replica writes (bench/cluster compares the two).
    forward=()
    if [ "${LEDGER_FORWARD:-1}" != 0 ]; then
      forward=(--ledger-forward-listen "127.0.0.1:$fwd" --ledger-forward-address "127.0.0.1:$fwd"
        --ledger-writer-lease "ledger-writer-$CLUSTER_ID")
    fi
    "$EXECGOV" webhook --kubeconfig "$WEBHOOK_KUBECONFIG" --namespace "$CLUSTER_SYSTEM_NS" \
      --ledger "$LEDGER_URL" --ledger-key "$LEDGER_KEY" "${forward[@]}" \
      --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$ops" --state-dir "$CLUSTER_WORK/webhook-$base" "$@" \
      >"$CLUSTER_WORK/webhook-$base.log" 2>&1 &
    WEBHOOK_PIDS+=($!)
    WEBHOOK_PORTS+=("$port")
    WEBHOOK_METRICS_PORTS+=("$ops")
    WEBHOOK_CAS+=("$CLUSTER_WORK/webhook-$base/tls/ca.crt")
  done
}

wait_webhooks_ready() {
  local seconds=${1:-60} i
  for i in "${!WEBHOOK_PIDS[@]}"; do
    poll "$seconds" curl -sf "http://127.0.0.1:${WEBHOOK_METRICS_PORTS[$i]}/readyz" -o /dev/null ||
      fail "webhook replica $i did not become ready: $(tail -n 20 "$CLUSTER_WORK/webhook-$i.log")"
  done
}

register_webhook() {
  local replica=${1:-0} ca namespaces
  [ ${#CLUSTER_NAMESPACES[@]} -gt 0 ] || fail "register_webhook: create this run's namespaces first"
  ca=$(base64 -w0 <"${WEBHOOK_CAS[$replica]}")
  namespaces=$(IFS=,; echo "${CLUSTER_NAMESPACES[*]}")
  WEBHOOK_CONFIG=execgov-$CLUSTER_ID
  kubectl apply -f - >/dev/null <<YAML || fail "cannot register the webhook"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: $WEBHOOK_CONFIG}
webhooks:
- name: validate.execgov.io
  admissionReviewVersions: [v1]
  sideEffects: NoneOnDryRun
  failurePolicy: Fail
  timeoutSeconds: 10
  clientConfig:
    url: https://127.0.0.1:${WEBHOOK_PORTS[$replica]}/validate
    caBundle: $ca
  namespaceSelector:
    matchLabels: {execgov.io/governed: "true"}
    matchExpressions:
    - {key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system, $CLUSTER_SYSTEM_NS]}
    # This run's namespaces only: parallel runs must not call each other's webhooks.
    - {key: kubernetes.io/metadata.name, operator: In, values: [$namespaces]}
  rules:
  - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods]}
  - {apiGroups: [batch], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [jobs]}
  - {apiGroups: [execgov.io], apiVersions: [v1alpha1], operations: [CREATE, UPDATE], resources: [executionrequests]}
  - {apiGroups: [execgov.io], apiVersions: [v1alpha1], operations: [CREATE, UPDATE], resources: [executionapprovals]}
YAML
}

wait_webhook_active() {
  local ns=$1
  refused() {
    ! kubectl run "probe-$CLUSTER_ID" -n "$ns" --image=registry.example.com/probe:1 --restart=Never --dry-run=server \
      >/dev/null 2>"$CLUSTER_WORK/probe.err" && grep -q 'execgov: ' "$CLUSTER_WORK/probe.err"
  }
  poll 60 refused || fail "the webhook was not called in $ns: $(cat "$CLUSTER_WORK/probe.err")"
}

cluster_governed_setup() {
  local ns=$1
  cluster_apply_crds
  cluster_setup_identities
  cluster_make_keys
  cluster_namespace "$ns" governed
  cluster_policy "$CLUSTER_ID" "$ns" >"$CLUSTER_WORK/policy.yaml"
  cluster_apply_policy "$CLUSTER_WORK/policy.yaml"
  start_webhooks 1
  wait_webhooks_ready 60
  register_webhook 0
  wait_webhook_active "$ns"
}

start_operator() {
  local n=${#OPERATOR_PIDS[@]} ops forward=()
  ops=$(free_port)
  # As the chart runs it: its records go to the webhook replica writing the
  # tail (start_webhooks' Lease), unless LEDGER_FORWARD=0.
  [ "${LEDGER_FORWARD:-1}" = 0 ] || forward=(--ledger-writer-lease "ledger-writer-$CLUSTER_ID")
  # This run's Lease and namespaces only: parallel runs' operators must not
  # act on each other's requests (later flags in "$@" override these).
  "$EXECGOV" operator --kubeconfig "$OPERATOR_KUBECONFIG" --namespace "$CLUSTER_SYSTEM_NS" \
    --ledger "$LEDGER_URL" --ledger-key "$LEDGER_KEY" --metrics-listen "127.0.0.1:$ops" \
    --lease-name "execgov-operator-$CLUSTER_ID" --identity "operator-$n-$CLUSTER_ID" "${forward[@]}" \
    --watch-namespaces "$(IFS=,; echo "${CLUSTER_NAMESPACES[*]}")" "$@" >"$CLUSTER_WORK/operator-$n.log" 2>&1 &
  OPERATOR_PIDS+=($!)
  OPERATOR_METRICS_PORTS+=("$ops")
}

webhook_metric() {
  local replica=$1 regex=$2
  curl -sf "http://127.0.0.1:${WEBHOOK_METRICS_PORTS[$replica]}/metrics" |
    awk -v re="$regex" '!/^#/ && $0 ~ re { sum += $NF } END { printf "%d\n", sum }'
}
