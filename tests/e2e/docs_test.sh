#!/usr/bin/env bash
# Runs the commands of a guide in docs/ against the real control plane, so the
# guides cannot drift from the code:
#
#   docs_test.sh GUIDE PATH/TO/execgov      GUIDE: install, policy-guide, agents,
#                                           auditors, operations or authority
#
# Every ```bash block of docs/GUIDE.md runs, in order, in one bash session with
# `set -euo pipefail`, from a scratch directory holding links to charts/,
# manifests/ and crds/, with execgov, kubectl and helm on PATH. A guide that
# continues another says so on one line, `<!-- docs-test: after install
# policy-guide -->`: those guides' blocks run first, up to their
# `<!-- docs-test: teardown -->` line (the uninstall section). Other fenced
# blocks must be ```text or ```yaml (output and file contents), so no command
# can hide from the test in a ```sh block. A guide's blocks after a
# `<!-- docs-test: end -->` line are not read: what the harness cannot run
# (a PKCS#11 token, curl of every HTTPS answer), which another test must cover.
#
# What the harness changes, and why (the guides' text stays what a reader
# types):
#   - the names execgov-system, team-a and execgov-approvers become this run's
#     own namespaces, so parallel tests never share them;
#   - `helm install|upgrade` gets -f with a values file that narrows the
#     webhook configuration to this run's namespaces and, for guides that
#     need admission (`<!-- docs-test: webhook -->`), points it at the
#     webhook this harness runs on loopback: this control plane has no
#     kubelet, so the chart's pods never start, and chart_lib.sh runs the
#     operator and webhook containers as processes instead (their own args,
#     service accounts and Secrets);
#   - localhost:8080 (a port-forward to a webhook pod, in the guides) is that
#     process's metrics port;
#   - a line `<!-- docs-test: run FUNCTION -->` calls a harness function there:
#     stop_webhook (the guide's scenario is execgov being down),
#     resume_webhook (execgov is back: the webhook process again),
#     wait_for_checkpoint (until the ledger has a signed checkpoint, which
#     execgov writes at least every 10 s),
#     start_authority_https (the authority again, with the HTTPS endpoint
#     the guide enabled, its serving Secret kept in files);
#   - localhost:8443 (a port-forward to the authority's Service, in the
#     guides) is that endpoint on loopback;
#     start_authority (the chart's execgov-authority Deployment, once the
#     guide has enabled it, as a process like the webhook).
# The release is named execgov, as in the guides: ctest runs these tests one at
# a time (RESOURCE_LOCK), and the cleanup removes the release, the webhook
# configuration, the namespaces and the guides' ExecutionPolicies.
set -euo pipefail

guide=$1
execgov=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/chart_lib.sh"
id=$$
sys=e2e-docs-sys-$id
team=e2e-docs-team-$id
appr=e2e-docs-appr-$id
work=$(mktemp -d)
CHART_NS=$sys CHART_WORK=$work EXECGOV=$execgov
cleanup() {
  set +e
  chart_stop_all
  helm uninstall execgov -n "$sys" >/dev/null 2>&1
  kubectl delete validatingwebhookconfiguration execgov --ignore-not-found >/dev/null 2>&1
  kubectl delete executionpolicy -l "e2e-docs=$id" --ignore-not-found >/dev/null 2>&1
  kubectl get executionpolicy -o name 2>/dev/null | grep -F "$team" | xargs -r kubectl delete --ignore-not-found >/dev/null 2>&1
  kubectl get authoritypolicy -o name 2>/dev/null | grep -F "$team" | xargs -r kubectl delete --ignore-not-found >/dev/null 2>&1
  kubectl delete namespace "$sys" "$team" "$appr" --wait=false --ignore-not-found >/dev/null 2>&1
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
        if line.strip() == "<!-- docs-test: end -->":
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
operator_metrics_port=$(free_port)
authority_metrics_port=$(free_port)
authorize_port=$(free_port)
{
  cat <<EOF
webhook:
  admission:
    extraNamespaceSelectorExpressions:
    - {key: kubernetes.io/metadata.name, operator: In, values: ["$team"]}
EOF
  $needs_webhook && echo "    url: https://127.0.0.1:$port/validate"
} >.scope.yaml

# Starts the chart's operator and webhook as processes here (chart_lib.sh:
# their Deployments' args, service accounts and Secrets), once the guides
# before this one have installed the chart: the operator issues the serving
# certificate (certificates.mode=operator) that the webhook then serves.
start_webhook() {
  chart_sync_secret execgov-ledger-key "$work/.ledger"
  # --watch-namespaces: only this run's namespace, so that the objects other
  # tests leave in the shared control plane stay out of this run's ledger.
  chart_run execgov-operator operator --metrics-listen=127.0.0.1:$operator_metrics_port \
    --ledger-key=$work/.ledger/ledger.key --identity=docs-operator --watch-namespaces=$team
  poll 60 kubectl -n "$sys" get secret execgov-webhook-tls -o name >/dev/null 2>&1 ||
    { cat "$work/operator.log"; fail "the operator made no serving certificate"; }
  chart_sync_secret execgov-webhook-tls "$work/.tls"
  poll 30 test -s "$work/.tls/tls.key" || fail "the serving certificate did not reach $work/.tls"
  resume_webhook
}
stop_webhook() { chart_stop webhook; }
# The chart's authority (after the guide's `helm upgrade --set
# authority.enabled=true`), with its key Secret kept in files as for a pod.
# Extra arguments override the Deployment's too.
start_authority() {
  chart_sync_secret execgov-authority-key "$work/.authority"
  poll 30 test -s "$work/.authority/authority.key" || fail "the authority's key did not reach $work/.authority"
  chart_run execgov-authority authority --metrics-listen=127.0.0.1:$authority_metrics_port \
    --ledger-key=$work/.ledger/ledger.key --key=$work/.authority/authority.key --identity=docs-authority \
    --watch-namespaces=$team "$@"
  poll 60 curl -sf "http://127.0.0.1:$authority_metrics_port/readyz" -o /dev/null ||
    { cat "$work/authority.log"; fail "execgov authority did not become ready"; }
}
# The authority again after the guide enabled authority.authorize: its
# endpoint on loopback, its serving Secret in files as for a pod.
start_authority_https() {
  chart_stop authority
  chart_sync_secret execgov-authority-tls "$work/.authority-tls"
  poll 30 test -s "$work/.authority-tls/tls.key" || fail "the authority's serving key did not reach $work/.authority-tls"
  start_authority --authorize-listen=127.0.0.1:$authorize_port --tls-cert=$work/.authority-tls/tls.crt \
    --tls-key=$work/.authority-tls/tls.key
}
# The webhook again after stop_webhook (the operator kept running).
resume_webhook() {
  chart_run execgov-webhook webhook --listen=127.0.0.1:$port --metrics-listen=127.0.0.1:$metrics_port \
    --tls-cert=$work/.tls/tls.crt --tls-key=$work/.tls/tls.key --ledger-key=$work/.ledger/ledger.key
  poll 60 curl -sf "http://127.0.0.1:$metrics_port/readyz" -o /dev/null ||
    { cat "$work/webhook.log"; fail "execgov webhook did not become ready"; }
}
# Until a signed checkpoint covers every record written so far.
wait_for_checkpoint() {
  local size
  size=$(execgov ledger show --ledger "configmap://$sys" -o json | wc -l)
  poll 60 bash -c "execgov ledger show --ledger configmap://$sys --type checkpoint -o json | python3 -c '
import json, sys
sizes = [int(json.loads(l)[\"checkpoint\"].split(\"\\n\")[1]) for l in sys.stdin if l.strip()]
sys.exit(0 if sizes and max(sizes) >= $size else 1)'" ||
    fail "no checkpoint covers the ledger's $size records after 60 s"
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
} | sed -e "s/execgov-system/$sys/g" -e "s/team-a/$team/g" -e "s/execgov-approvers/$appr/g" -e "s/localhost:8080/127.0.0.1:$metrics_port/g" \
  -e "s/localhost:8443/127.0.0.1:$authorize_port/g" >.guide.sh

echo "docs_test: running the commands of docs/$guide.md (script: $work/.guide.sh)"
export -f chart_sa_kubeconfig chart_sync_secret chart_run chart_stop start_webhook stop_webhook resume_webhook wait_for_checkpoint start_authority start_authority_https poll fail
export sys team appr port metrics_port operator_metrics_port authority_metrics_port authorize_port execgov work CHART_NS CHART_WORK EXECGOV
set +e
bash -x .guide.sh
status=$?
set -e
if [ $status != 0 ]; then
  for log in operator webhook authority; do
    [ -f "$log.log" ] && { echo "--- $log.log"; tail -n 30 "$log.log"; }
  done
  fail "a command of docs/$guide.md failed (exit $status)"
fi
# The chart's RBAC must be enough for what the guide made execgov do.
for log in operator webhook authority; do
  if [ -f "$log.log" ] && grep -E 'HTTP 403|PermissionDenied|forbidden' "$log.log" >denied.txt; then
    head -n 5 denied.txt
    fail "the $log was refused by the API server: the chart's RBAC lacks a permission"
  fi
done
echo "docs_test: every command of docs/$guide.md ran"
