#!/usr/bin/env bash
# Installs the Debian packages and builds execgov into ./build (incremental).
set -euo pipefail
cd "$(dirname "$0")/.."
hack/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --parallel "$(nproc)"
