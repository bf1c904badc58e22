#!/usr/bin/env bash
# Builds the real Kubernetes control plane the e2e tests run against —
# kube-apiserver, kube-controller-manager, kubectl (k8s.io/kubernetes and its
# published k8s.io/* modules), etcd (go.etcd.io/etcd/server/v3) and helm
# (helm.sh/helm/v3) — from the Go module proxy, at the versions go.mod pins.
#
#   hack/controlplane/build.sh        # prints the bin directory on stdout
#
# Output: $EXECGOV_CONTROLPLANE_DIR/bin (default <repo>/.cache/controlplane/bin,
# git-ignored). A stamp over go.mod, go.sum, this script and the Go version makes
# a repeated run return at once; otherwise the Go module and build caches
# (GOMODCACHE, GOCACHE: Go's defaults unless set) make `go build` recompile only
# what changed. A cold build compiles all of Kubernetes: tens of minutes on two
# cores (docs/testing.md has measured times).
#
# Needs Go >= 1.21 (go.mod's toolchain line then selects the pinned Go through
# GOTOOLCHAIN); with no Go, or an older one such as Debian bookworm's 1.19, it
# fetches the pinned toolchain from the module proxy and checks it against the
# go.sum hash below.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${EXECGOV_CONTROLPLANE_DIR:-$repo/.cache/controlplane}
bin=$cache/bin
binaries=(etcd kube-apiserver kube-controller-manager kubectl helm)

# The Go release k8s.io/kubernetes v1.37 is built with; keep in step with go.mod's
# toolchain line. Hashes are the go.sum lines of golang.org/toolchain.
go_toolchain=go1.26.8
declare -A go_toolchain_h1=(
  [linux-amd64]="h1:ZOmGe1OnfREDMIdb1Qi4G9JSuDPBLGExZMQ4nis1RXM="
  [linux-arm64]="h1:sYL/O6MqS68ML0kjsQ36WoYIpJqkw60TxizWUYUKQMc="
)

log() { echo "controlplane/build: $*" >&2; }

# Prints the minor version of a `go` binary (19 for go1.19.8), or nothing.
go_minor() {
  "$1" env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p' || true
}

# Downloads golang.org/toolchain from the module proxy (what GOTOOLCHAIN does),
# verifies its go.sum hash, and prints the path of its go binary.
bootstrap_go() {
  local os arch platform version dir zip proxy
  os=linux
  case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) log "no pinned Go toolchain for $(uname -m); install Go >= 1.21"; return 1 ;;
  esac
  platform=$os-$arch
  version=v0.0.1-$go_toolchain.$platform
  dir=$cache/go/golang.org/toolchain@$version
  if [ ! -x "$dir/bin/go" ]; then
    proxy=${GOPROXY:-https://proxy.golang.org}
    proxy=${proxy%%[,|]*}
    case "$proxy" in http*) ;; *) proxy=https://proxy.golang.org ;; esac
    log "fetching Go $go_toolchain ($platform) from $proxy"
    mkdir -p "$cache/go"
    zip=$(mktemp "$cache/go/toolchain.XXXXXX.zip")
    curl -fsSL --retry 3 -o "$zip" "$proxy/golang.org/toolchain/@v/$version.zip"
    # go.sum's h1: base64(sha256 of "sha256hex  name\n" over the sorted zip entries).
    python3 - "$zip" "${go_toolchain_h1[$platform]}" "$cache/go" <<'PY'
import base64, hashlib, os, stat, sys, zipfile
path, want, dest = sys.argv[1:4]
with zipfile.ZipFile(path) as z:
    names = sorted(n for n in z.namelist() if not n.endswith("/"))
    summary = "".join("%s  %s\n" % (hashlib.sha256(z.read(n)).hexdigest(), n) for n in names)
    got = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
    if got != want:
        sys.exit("Go toolchain hash mismatch: got %s, want %s" % (got, want))
    z.extractall(dest)
    for n in names:  # module zips carry no modes; GOTOOLCHAIN sets these bits too
        if "/bin/" in n or "/pkg/tool/" in n:
            p = os.path.join(dest, n)
            os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
PY
    rm -f "$zip"
  fi
  echo "$dir/bin/go"
}

find_go() {
  local candidate minor
  for candidate in "$(command -v go || true)" /usr/local/go/bin/go /usr/lib/go/bin/go; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    minor=$(go_minor "$candidate")
    if [ -n "$minor" ] && [ "$minor" -ge 21 ]; then
      echo "$candidate"
      return
    fi
  done
  bootstrap_go
}

mkdir -p "$bin"
# One build at a time per cache: parallel test runs share the output directory.
exec 9>"$cache/build.lock"
flock 9

cd "$here"
go=$(find_go)
# The GOTOOLCHAIN default (auto) lets go.mod's toolchain line pick the pinned Go.
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto} CGO_ENABLED=0
goversion=$("$go" env GOVERSION)
stamp=$( (cat go.mod go.sum build.sh; echo "$goversion") | sha256sum | cut -d' ' -f1)

up_to_date=true
[ "$(cat "$bin/.stamp" 2>/dev/null)" = "$stamp" ] || up_to_date=false
for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || up_to_date=false; done
if $up_to_date; then
  log "up to date ($bin)"
  echo "$bin"
  exit 0
fi

# Version stamps the upstream release builds set (kubernetes hack/lib/version.sh,
# helm's Makefile), so `kubectl version` and `helm version` tell the truth. The
# build date is the module's release time, which keeps the link cacheable; the
# proxy does not say which commit a release is, so gitCommit stays empty.
mod() { "$go" list -m -f "{{.$2}}" "$1"; }
kube_version=$(mod k8s.io/kubernetes Version)
kube_date=$(mod k8s.io/kubernetes Time | sed 's/ /T/; s/ +0000 UTC/Z/')
kube_major=$(echo "$kube_version" | sed 's/^v\([0-9]*\)\..*/\1/')
kube_minor=$(echo "$kube_version" | sed 's/^v[0-9]*\.\([0-9]*\)\..*/\1/')
helm_version=$(mod helm.sh/helm/v3 Version)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=$kube_major -X $pkg.gitMinor=$kube_minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$kube_date -X $pkg.gitCommit="
done
ldflags+=" -X helm.sh/helm/v3/internal/version.version=$helm_version"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=$kube_major -X $pkg.k8sVersionMinor=$kube_minor"
done

log "building ${binaries[*]} with $goversion (Kubernetes $kube_version, helm $helm_version) into $bin"
start=$(date +%s)
# go build skips linking a program whose output is already up to date, so link
# into a directory kept between runs, then install changed programs by rename
# (a running binary is never rewritten in place).
out=$cache/go-build-out
mkdir -p "$out"
"$go" build -mod=readonly -trimpath -ldflags "$ldflags" -o "$out/" tool
for b in "${binaries[@]}"; do
  src=$out/$b
  # go names a main package after its import path; etcd's is go.etcd.io/etcd/server/v3.
  [ "$b" = etcd ] && src=$out/server
  cmp -s "$src" "$bin/$b" && continue
  cp "$src" "$bin/.$b.new"
  mv -f "$bin/.$b.new" "$bin/$b"
done
echo "$stamp" >"$bin/.stamp"
log "built in $(($(date +%s) - start))s"
echo "$bin"
