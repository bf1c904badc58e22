#!/usr/bin/env bash
# Installs the Debian packages and builds execgov into ./build (incremental).
# Usage: hack/build.sh [TARGET...]   (no target: everything, tests included;
# the target console: the web app only)
set -euo pipefail
cd "$(dirname "$0")/.."
hack/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for t in "$@"; do [ "$t" = console ] || targets+=(--target "$t"); done
[ $# -gt 0 ] && [ ${#targets[@]} -eq 0 ] || cmake --build build --parallel "$(nproc)" "${targets[@]+"${targets[@]}"}"
# The governance console's web app (console/dist, docs/console.md): npm ci from
# the committed lockfile (once; offline after), then the Vite build. Never a
# browser download: the tests drive Debian's chromium.
if [ $# -eq 0 ] || [[ " $* " == *" console "* ]]; then
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
  [ -d console/node_modules/@playwright/test ] || (cd console && npm ci --no-audit --no-fund >/dev/null)
  (cd console && npm run --silent build >/dev/null)
fi
