#!/usr/bin/env bash
# Installs the Debian packages execgov builds, tests and benchmarks with.
# Idempotent: does nothing when every package is already installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libssl-dev openssl libcpprest-dev libboost-system-dev libyaml-cpp-dev nlohmann-json3-dev
  prometheus-cpp-dev libgtest-dev libgmock-dev libcli11-dev libgoogle-perftools-dev libsimdjson-dev libsodium-dev
  libcurl4-openssl-dev  # the Kubernetes and etcd HTTP client (src/kube/http.cc)
  zlib1g-dev  # gzip for sealed ConfigMap ledger segments
  libp11-kit-dev softhsm2 opensc  # PKCS#11 signing keys (p11-kit's pkcs11.h; a SoftHSM2 token and pkcs11-tool in tests)
  etcd-server etcd-client wrk prometheus
  python3 python3-jwcrypto python3-cryptography python3-yaml
  clang libclang-rt-dev  # libFuzzer and the sanitizers for hack/fuzz.sh
  golang-go curl procps iproute2
  nodejs chromium  # the console's web build (Vite) and its browser tests (Playwright, headless)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# A Go toolchain already on PATH (newer than Debian's) is fine.
if command -v go >/dev/null 2>&1; then
  tmp=(); for p in "${missing[@]}"; do [ "$p" = golang-go ] || tmp+=("$p"); done; missing=("${tmp[@]+"${tmp[@]}"}")
fi
# npm: Debian's package on a fresh machine; one that came with Node.js itself
# (NodeSource's nodejs bundles it, and conflicts with Debian's) is fine.
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
