#!/usr/bin/env bash
# Runs the commands of a guide in docs/ against the real control plane, so the
# guides cannot drift from the code:
#
#   docs_test.sh GUIDE PATH/TO/execgov      GUIDE: install, policy-guide, agents,
#                                           auditors or operations
#
# Every ```bash block of docs/GUIDE.md runs, in order, in one bash session with
# `set -euo pipefail`, from a scratch directory holding links to charts/,
# manifests/ and crds/, with execgov, kubectl and helm on PATH. A guide that
# continues another says so on one line, `<!-- docs-test: after install
# policy-guide -->`: those guides' blocks run first, up to their
# `<!-- docs-test: teardown -->` line (the uninstall section). Other fenced
# blocks must be ```text or ```yaml (output and file contents), so no command
# can hide from the test in a ```sh block.
#
# What the harness changes, and why (the guides' text stays what a reader
# types):
#   - the names execgov-system and team-a become this run's own namespaces, so
#     parallel tests never share them;
#   - `helm install|upgrade` gets -f with a values file that narrows the
#     webhook configuration to this run's namespaces and, for guides that
#     need admission (`<!-- docs-test: webhook -->`), points it at an `execgov
#     webhook` process this harness runs on loopback: this control plane has
#     no kubelet, so the chart's pods never start;
#   - localhost:8080 (a port-forward to a webhook pod, in the guides) is that
#     process's metrics port;
#   - a line `<!-- docs-test: run FUNCTION -->` calls a harness function there:
#     stop_webhook (the guide's scenario is execgov being down),
#     wait_for_checkpoint (until the ledger has a signed checkpoint, which
#     execgov writes at least every 10 s).
# The release is named execgov, as in the guides: ctest runs these tests one at
# a time (RESOURCE_LOCK), and the cleanup removes the release, the webhook
# configuration, the namespaces and the guides' ExecutionPolicies.
set -euo pipefail

guide=$1
execgov=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
source "$(dirname "$0")/lib.sh"
id=$$
sys=e2e-docs-sys-$id
team=e2e-docs-team-$id
work=$(mktemp -d)
cleanup() {
  set +e
  local pid
  if pid=$(cat "$work/.webhook.pid" 2>/dev/null); then
    kill "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  helm uninstall execgov -n "$sys" >/dev/null 2>&1
  kubectl delete validatingwebhookconfiguration execgov --ignore-not-found >/dev/null 2>&1
  kubectl delete executionpolicy -l "e2e-docs=$id" --ignore-not-found >/dev/null 2>&1
  kubectl get executionpolicy -o name 2>/dev/null | grep -F "$team" | xargs -r kubectl delete --ignore-not-found >/dev/null 2>&1
  kubectl delete namespace "$sys" "$team" --wait=false --ignore-not-found >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

# blocks DOC [prefix]: the ```bash blocks of DOC; with `prefix`, only those
# before its teardown marker. Fails on ```sh/```shell/```console blocks.
blocks() {
  python3 - "$@" <<'PY'
import re, sys
path, prefix = sys.argv[1], len(sys.argv) > 2
out, block, lang = [], None, None
for n, line in enumerate(open(path), 1):
    if block is None:
        if prefix and line.strip() == "<!-- docs-test: teardown -->":
            break
        m = re.match(r"^<!-- docs-test: run (\w+) -->$", line.strip())
        if m:
            out.append("# --- %s:%d\n%s\n" % (path, n, m.group(1)))
            continue
        m = re.match(r"^```(\S*)\s*$", line)
        if m:
            lang = m.group(1)
            if lang not in ("bash", "text", "yaml", "json"):
                sys.exit("%s:%d: a ```%s block: use ```bash for commands (they are run) or ```text for output" % (path, n, lang or ""))
            block = []
    elif line.startswith("```"):
        if lang == "bash":
            out.append("# --- %s:%d\n%s" % (path, n - len(block), "".join(block)))
        block = None
    else:
        block.append(line)
if block is not None:
    sys.exit("%s: a code block is not closed" % path)
print("\n".join(out))
PY
}
directive() {  # directive DOC NAME: the words after `<!-- docs-test: NAME`
  sed -n "s/^<!-- docs-test: $2\(.*\) -->$/\1/p" "$1" | head -n1
}

doc=$repo/docs/$guide.md
[ -r "$doc" ] || fail "no $doc"
cd "$work"
ln -s "$repo/charts" "$repo/manifests" "$repo/crds" .
export PATH="$(dirname "$execgov"):$PATH"

needs_webhook=false
for g in $(directive "$doc" after) "$guide"; do
  grep -q '^<!-- docs-test: webhook -->$' "$repo/docs/$g.md" && needs_webhook=true
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
metrics_port=$(free_port)
{
  cat <<EOF
webhook:
  admission:
    extraNamespaceSelectorExpressions:
    - {key: kubernetes.io/metadata.name, operator: In, values: ["$team"]}
EOF
  if $needs_webhook; then
    echo "    url: https://127.0.0.1:$port/validate"
    # The harness's webhook takes the chart-made certificate from the Secret.
    echo "certificates: {mode: helm}"
  fi
} >.scope.yaml

# A kubeconfig for one of the chart's service accounts, so execgov runs here
# with exactly the RBAC the chart grants it in a cluster.
sa_kubeconfig() {  # sa_kubeconfig SERVICE-ACCOUNT FILE
  kubectl config view --raw --minify >"$2"
  kubectl --kubeconfig "$2" config set-credentials "$1" --token="$(kubectl -n "$sys" create token "$1" --duration=1h)" >/dev/null
  kubectl --kubeconfig "$2" config set-context --current --user="$1" >/dev/null
}

# Starts `execgov webhook` on loopback as the chart's webhook service account,
# with the serving certificate and ledger key the chart made, once the guides
# before this one have installed it.
start_webhook() {
  kubectl -n "$sys" get secret execgov-webhook-tls -o jsonpath='{.data.tls\.crt}' | base64 -d >.tls.crt
  kubectl -n "$sys" get secret execgov-webhook-tls -o jsonpath='{.data.tls\.key}' | base64 -d >.tls.key
  kubectl -n "$sys" get secret execgov-ledger-key -o jsonpath='{.data.ledger\.key}' | base64 -d >.ledger.key
  chmod 600 .tls.key .ledger.key
  sa_kubeconfig execgov-webhook .webhook.kubeconfig
  "$execgov" webhook --kubeconfig .webhook.kubeconfig --namespace "$sys" --ledger-key .ledger.key \
    --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$metrics_port" \
    --tls-cert .tls.crt --tls-key .tls.key >.webhook.log 2>&1 &
  echo $! >"$work/.webhook.pid"
  poll 60 curl -sf "http://127.0.0.1:$metrics_port/readyz" -o /dev/null || { cat .webhook.log; fail "execgov webhook did not become ready"; }
}
stop_webhook() {
  local pid
  pid=$(cat "$work/.webhook.pid")
  kill "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm "$work/.webhook.pid"
}
wait_for_checkpoint() {
  poll 60 bash -c "execgov ledger show --ledger configmap://$sys --type checkpoint --limit 1 | grep -q checkpoint" ||
    fail "no checkpoint in the ledger after 60 s"
}

{
  cat <<'EOF'
set -euo pipefail
helm() {
  case "${1:-}" in
    install|upgrade) command helm "$@" -f "$PWD/.scope.yaml" ;;
    *) command helm "$@" ;;
  esac
}
EOF
  # The webhook starts before the first guide that needs it, after the ones
  # before it have installed the chart.
  started=false
  for g in $(directive "$doc" after) "$guide"; do
    if ! $started && grep -q '^<!-- docs-test: webhook -->$' "$repo/docs/$g.md"; then
      echo 'start_webhook'
      started=true
    fi
    if [ "$g" = "$guide" ]; then blocks "$doc"; else blocks "$repo/docs/$g.md" prefix; fi
  done
} | sed -e "s/execgov-system/$sys/g" -e "s/team-a/$team/g" -e "s/localhost:8080/127.0.0.1:$metrics_port/g" >.guide.sh

echo "docs_test: running the commands of docs/$guide.md (script: $work/.guide.sh)"
export -f sa_kubeconfig start_webhook stop_webhook wait_for_checkpoint poll fail
export sys port metrics_port execgov work
set +e
bash -x .guide.sh
status=$?
set -e
[ $status = 0 ] || { [ -f .webhook.log ] && tail -n 50 .webhook.log; fail "a command of docs/$guide.md failed (exit $status)"; }
echo "docs_test: every command of docs/$guide.md ran"
