#!/usr/bin/env bash
# Builds ./build-asan (every target with ASan and UBSan, vptr included; see
# docs/testing.md) and runs the unit and integration tests in it. Any finding
# ends the process it is in, which fails the test. hack/test.sh runs this
# after the normal build's tests; it also runs alone.
# Usage: hack/test-sanitizers.sh [ctest arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# -O1: the build is CPU-bound on CI's two cores (about 15 CPU-seconds per
# file with the sanitizers), and the sanitizers' findings do not need -O2.
# Benchmarks are not built. The e2e suites (label e2e, and the integration
# programs that require the controlplane fixture) are left out with
# EXECGOV_E2E=OFF: six more programs (11 files, about 3 more minutes of build
# on two cores) plus the fixture, and a run time under ASan not measured yet,
# against a budget this step already uses most of. The HTTP client they
# reach (src/kube/http.cc) is exercised here by its unit tests and the
# ledger's etcd tests.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g" \
  -DEXECGOV_SANITIZE=ON -DEXECGOV_BUILD_BENCH=OFF -DEXECGOV_E2E=OFF >/dev/null
cmake --build build-asan --parallel "$(nproc)"

# halt_on_error and exitcode: a finding fails the process, in every child
# process too (the tests run execgov and ledger_writer). LeakSanitizer needs
# ptrace-like access to the process's threads; it works in CI's containers.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/hack/sanitizers/ubsan.supp"
export LSAN_OPTIONS="suppressions=$root/hack/sanitizers/lsan.supp:print_suppressions=0"
(cd build-asan && ctest -L 'unit|integration' --output-on-failure --timeout 1800 "$@")
