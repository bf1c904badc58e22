# Shared by the e2e scripts: sourced after `set -euo pipefail`. Puts the test
# control plane's kubeconfig, kubectl and helm in the environment, and defines
#   fail MESSAGE          print FAIL: MESSAGE and exit 1
#   poll SECONDS CMD...   run CMD until it succeeds, at most SECONDS long
#   job_manifest NAME NS  a Job manifest the tests sign and submit
#   deny_webhook_start DIR MESSAGE
#                         tests/e2e/deny_webhook.py as the coprocess DENY (it
#                         exits with this shell), serving 127.0.0.1 with a
#                         certificate made in DIR; sets DENY_PID, DENY_PORT
#   deny_webhook_apply NAME SELECTORS [RULE]
#                         a ValidatingWebhookConfiguration NAME sending Pod
#                         CREATEs (or RULE, a YAML flow mapping of
#                         rules[]) to it (webhook deny.e2e.execgov.io, Fail,
#                         5 s) where SELECTORS, YAML lines indented two spaces
#                         (namespaceSelector, objectSelector), match
here=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
eval "$("$repo/hack/testenv.sh" env)"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

poll() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# One container, and an env var from a fieldRef, which the API server
# defaults (fieldRef.apiVersion): a signed digest must survive defaulting.
job_manifest() {
  cat <<YAML
apiVersion: batch/v1
kind: Job
metadata: {name: $1, namespace: $2}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: rotate
        image: registry.example.com/tools/rotate:1.2
        command: ["/rotate"]
        args: ["--service", "payments"]
        env:
        - {name: MODE, value: safe}
        - name: NODE
          valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
YAML
}

deny_webhook_start() {
  local dir=$1 message=$2
  # A CA and a serving certificate for 127.0.0.1; the API server trusts the CA
  # through caBundle.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=e2e-webhook-ca -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -addext basicConstraints=CA:FALSE \
    -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
  DENY_DIR=$dir
  # As a coprocess the server's stdin is our pipe: it exits when this shell does.
  coproc DENY { exec python3 "$repo/tests/e2e/deny_webhook.py" "$dir/tls.crt" "$dir/tls.key" "$message" 2>"$dir/webhook.log"; }
  read -r -t 30 DENY_PORT <&"${DENY[0]}" || fail "the deny webhook did not start: $(cat "$dir/webhook.log")"
}

deny_webhook_apply() {
  local rule=${3:-'{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}'}
  kubectl apply -f - >/dev/null <<YAML || fail "cannot register the deny webhook $1"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: $1}
webhooks:
- name: deny.e2e.execgov.io
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  timeoutSeconds: 5
  clientConfig:
    url: https://127.0.0.1:$DENY_PORT/validate
    caBundle: $(base64 -w0 <"$DENY_DIR/ca.crt")
  rules:
  - $rule
$2
YAML
}
