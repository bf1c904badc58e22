#!/usr/bin/env bash
# One source of truth for what gets installed:
#   crds/*.yaml                 the CRDs (edit these)
#   charts/execgov/crds/        copies of them, for `helm install`
#   manifests/install.yaml      the chart rendered for `kubectl apply -f`
#                               (namespace execgov-system, serving certificates
#                               from the operator's CA, the ledger key from a
#                               Secret you create: see docs/install.md)
#
#   hack/render-manifests.sh           rewrite the copies and install.yaml
#   hack/render-manifests.sh --check   exit 1, naming the stale file, when they
#                                      differ from what would be written (CI)
#
# Uses the helm that hack/controlplane/build.sh builds (or HELM).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
helm=${HELM:-$repo/.cache/controlplane/bin/helm}
[ -x "$helm" ] || helm=$(command -v helm) || { echo "render-manifests: no helm (run hack/controlplane/build.sh)" >&2; exit 2; }
check=false
[ "${1:-}" = --check ] && check=true

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir "$out/crds"
cp "$repo"/crds/*.yaml "$out/crds/"

{
  cat <<'YAML'
# execgov: everything `kubectl apply -f` needs, rendered from charts/execgov by
# hack/render-manifests.sh; do not edit (a test fails when it is stale).
# Before applying, create the ledger signing key Secret as docs/install.md
# shows. The operator makes the webhook's serving certificates. Namespaces are
# governed only once labelled execgov.io/governed=true.
---
apiVersion: v1
kind: Namespace
metadata:
  name: execgov-system
  labels:
    # execgov's own pods meet the restricted Pod Security Standard.
    pod-security.kubernetes.io/enforce: restricted
YAML
  for crd in "$out"/crds/*.yaml; do
    echo "---"
    cat "$crd"
  done
  "$helm" template execgov "$repo/charts/execgov" --namespace execgov-system \
    --set ledger.generate=false --set ledger.existingSecret=execgov-ledger-key
} >"$out/install.yaml"

stale=()
compare() {  # compare GENERATED TARGET
  if $check; then
    cmp -s "$1" "$2" || stale+=("${2#"$repo"/}")
  else
    cp "$1" "$2"
  fi
}
mkdir -p "$repo/charts/execgov/crds" "$repo/manifests"
for crd in "$out"/crds/*.yaml; do compare "$crd" "$repo/charts/execgov/crds/$(basename "$crd")"; done
# A CRD removed from crds/ must go from the chart too.
for copy in "$repo"/charts/execgov/crds/*.yaml; do
  [ -e "$repo/crds/$(basename "$copy")" ] && continue
  if $check; then stale+=("${copy#"$repo"/} (not in crds/)"); else rm "$copy"; fi
done
compare "$out/install.yaml" "$repo/manifests/install.yaml"

if [ ${#stale[@]} -gt 0 ]; then
  printf 'render-manifests: out of date: %s\n' "${stale[@]}" >&2
  echo "render-manifests: run hack/render-manifests.sh and commit the result" >&2
  exit 1
fi
