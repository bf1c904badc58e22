#!/usr/bin/env bash
# Signs, verifies and full decisions per second per core, printed beside
# OpenSSL's own figures measured in the same run on the same machine.
# Usage: bench/crypto/run.sh [seconds-per-figure]   (builds first)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-3}"
hack/build.sh >/dev/null
echo "== openssl speed -seconds $secs ed25519 ecdsap256 (OpenSSL, one core: the reference; execgov verifies Ed25519 with libsodium)"
openssl speed -seconds "$secs" ed25519 ecdsap256 2>/dev/null | grep -E '^ *(253|256)|sign/s|op/s' || true
echo
echo "== execgov"
build/bench/crypto/crypto_bench "$secs"
