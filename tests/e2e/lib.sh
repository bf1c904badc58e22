# Shared by the e2e scripts: sourced after `set -euo pipefail`. Puts the test
# control plane's kubeconfig, kubectl and helm in the environment, and defines
#   fail MESSAGE          print FAIL: MESSAGE and exit 1
#   poll SECONDS CMD...   run CMD until it succeeds, at most SECONDS long
#   job_manifest NAME NS  a Job manifest the tests sign and submit
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
