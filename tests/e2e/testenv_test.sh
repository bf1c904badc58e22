#!/usr/bin/env bash
# The lifecycle of hack/testenv.sh on its own instance (not the shared fixture):
# start prints the exports and serves /readyz, a second start is refused,
# private keys are 0600, stop leaves no process and no directory behind.
# Run as root, it runs itself again as `nobody` to show root is not needed;
# exit 77 (ctest: skipped) when that user cannot read the checkout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
testenv=$repo/hack/testenv.sh
bin=${EXECGOV_CONTROLPLANE_BIN:-$repo/.cache/controlplane/bin}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

if [ "$(id -u)" = 0 ] && [ -z "${TESTENV_TEST_AS_USER:-}" ]; then
  command -v setpriv >/dev/null || exit 77
  as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  "${as_nobody[@]}" test -r "$testenv" -a -x "$bin/kube-apiserver" || {
    echo "nobody cannot read $repo; skipped" >&2
    exit 77
  }
  home=$(mktemp -d)
  trap 'rm -rf "$home"' EXIT
  chown 65534:65534 "$home"
  rc=0
  "${as_nobody[@]}" env -i PATH="$PATH" HOME="$home" TMPDIR="$home" TESTENV_TEST_AS_USER=1 \
    EXECGOV_CONTROLPLANE_BIN="$bin" "$0" || rc=$?
  exit $rc
fi

echo "running as $(id -un) (uid $(id -u))"
export EXECGOV_CONTROLPLANE_BIN=$bin
tmp=$(mktemp -d)
export EXECGOV_TESTENV_DIR=$tmp/testenv
trap '"$testenv" stop; rm -rf "$tmp"' EXIT

"$testenv" status >/dev/null && fail "status says running before start"
out=$("$testenv" start)
grep -qx "export KUBECONFIG=$EXECGOV_TESTENV_DIR/kubeconfig" <<<"$out" || fail "start printed: $out"
[ "$("$testenv" env)" = "$out" ] || fail "env differs from what start printed"
"$testenv" status || fail "status says not running"

[ "$("$bin/kubectl" --kubeconfig="$EXECGOV_TESTENV_DIR/kubeconfig" get --raw /readyz)" = ok ] ||
  fail "/readyz is not ok"

if err=$("$testenv" start 2>&1); then fail "a second start was accepted"; fi
grep -q 'already running' <<<"$err" || fail "a second start failed unclearly: $err"
"$testenv" status >/dev/null || fail "the refused start disturbed the running one"

for key in "$EXECGOV_TESTENV_DIR"/pki/*.key "$EXECGOV_TESTENV_DIR/kubeconfig"; do
  [ "$(stat -c %a "$key")" = 600 ] || fail "$key is mode $(stat -c %a "$key")"
done

# Every server listens on loopback only.
pids=$(cat "$EXECGOV_TESTENV_DIR"/*.pid)
listening=$(ss -Htlnp 2>/dev/null | grep -E "pid=($(echo $pids | tr ' ' '|'))," | awk '{print $4}' || true)
if [ -z "$listening" ]; then
  echo "ss shows no sockets of ours (no iproute2, or no process info); loopback check skipped"
else
  echo "listening:" $listening
  ! grep -v '^127\.0\.0\.1:' <<<"$listening" || fail "a component listens beyond 127.0.0.1"
fi

"$testenv" stop
for pid in $pids; do
  ! kill -0 "$pid" 2>/dev/null || fail "pid $pid still runs after stop"
done
[ ! -e "$EXECGOV_TESTENV_DIR" ] || fail "stop left $EXECGOV_TESTENV_DIR"
rc=0
"$testenv" status >/dev/null || rc=$?
[ "$rc" = 3 ] || fail "status after stop exited $rc, not 3"
echo "PASS: testenv lifecycle"
