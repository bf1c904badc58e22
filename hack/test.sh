#!/usr/bin/env bash
# Installs everything, builds, and runs every test: unit, integration and e2e.
# This is the README's second command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/build.sh
cd build
ctest --output-on-failure --timeout 1800 "$@"
