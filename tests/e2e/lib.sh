# Shared by the e2e scripts: sourced after `set -euo pipefail`. Puts the test
# control plane's kubeconfig, kubectl and helm in the environment, and defines
#   fail MESSAGE          print FAIL: MESSAGE and exit 1
#   poll SECONDS CMD...   run CMD until it succeeds, at most SECONDS long
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
