#!/usr/bin/env bash
# Installs everything, builds, and runs every test: unit, integration and e2e,
# then unit and integration again under ASan and UBSan.
# This is the README's second command and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/build.sh
# The real control plane the e2e tests run against (incremental: seconds when
# up to date, tens of minutes cold; see docs/testing.md).
hack/controlplane/build.sh >/dev/null
# The e2e fixture stops its control plane itself; this covers a ctest that is
# interrupted before its cleanup runs.
trap 'EXECGOV_TESTENV_DIR="$PWD/build/tests/e2e/testenv" hack/testenv.sh stop' EXIT
trap 'exit 130' INT TERM
(cd build && ctest --output-on-failure --timeout 1800 "$@")
# The unit and integration tests again, built with ASan and UBSan in
# ./build-asan (created here on the first run; see the script for what is
# left out and why).
hack/test-sanitizers.sh "$@"
# Every libFuzzer harness of tests/fuzz for a bounded time (FUZZ_SECONDS,
# default 60 s each) in ./build-fuzz; a crash fails the run with its input
# saved under build-fuzz/fuzz-artifacts/ (docs/testing.md, "Fuzzing").
hack/fuzz.sh
