#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz in build-fuzz (clang, ASan +
# UBSan) and runs each for FUZZ_SECONDS (default 60) on a copy of its seeds in
# build-fuzz/fuzz-corpus/<harness>, which grows from run to run; the source
# tree is only read. A crash, leak, timeout or out-of-memory fails the run,
# with the input that caused it saved under build-fuzz/fuzz-artifacts/ and its
# path printed. hack/test.sh runs this after the other tests; docs/testing.md
# ("Fuzzing") has how to run one harness by hand.
#   hack/fuzz.sh [HARNESS...]   (default: every tests/fuzz/*_fuzz.cc)
# Environment: FUZZ_SECONDS, FUZZ_MAX_LEN (bytes, default 65536), FUZZ_JOBS
# (build jobs, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
hack/install-deps.sh

seconds=${FUZZ_SECONDS:-60}
# Large enough for the 64 KiB the fast JSON decoder takes and for nesting
# tens of thousands deep, which is what a depth limit has to stop.
max_len=${FUZZ_MAX_LEN:-65536}
dir=build-fuzz

if [ ! -f "$dir/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DEXECGOV_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
start=$SECONDS
nice -n 10 cmake --build "$dir" -j "${FUZZ_JOBS:-2}"
echo "fuzz: build took $((SECONDS - start)) s"

if [ $# -gt 0 ]; then
  harnesses=("$@")
else
  harnesses=()
  for f in tests/fuzz/*_fuzz.cc; do harnesses+=("$(basename "$f" _fuzz.cc)"); done
fi

# Seeds kept elsewhere in the tree (so they stay what the tests use), besides
# tests/fuzz/corpus/<harness>; and the dictionary of each harness.
extra_seeds() {
  case "$1" in
    admission_review) echo tests/unit/webhook/testdata/apiserver/*.json ;;
    json_fast_diff) echo tests/unit/webhook/testdata/apiserver/*.json tests/testdata/jcs/input/*.json ;;
    jws) echo tests/testdata/jcs/input/*.json ;;
    manifest) echo tests/e2e/testdata/scope-corpus/*.yaml ;;
  esac
}
dict_of() {
  case "$1" in
    admission_review) echo tests/fuzz/dict/admission_review.dict ;;
    jws | json_fast_diff) echo tests/fuzz/dict/json.dict ;;
    policy_yaml | manifest) echo tests/fuzz/dict/yaml.dict ;;
    ledger) echo tests/fuzz/dict/ledger.dict ;;
    tlog) echo tests/fuzz/dict/tlog.dict ;;
  esac
}

failed=()
for h in "${harnesses[@]}"; do
  bin="$dir/tests/fuzz/fuzz_$h"
  [ -x "$bin" ] || { echo "fuzz: no harness $bin" >&2; exit 2; }
  corpus="$dir/fuzz-corpus/$h"
  artifacts="$dir/fuzz-artifacts/$h"
  log="$dir/fuzz-logs/$h.log"
  mkdir -p "$corpus" "$artifacts" "$dir/fuzz-logs"
  # Seeds overwrite their earlier copies (test data changes); what the
  # fuzzer added is named by its hash and stays.
  # shellcheck disable=SC2046
  cp tests/fuzz/corpus/"$h"/* $(extra_seeds "$h") "$corpus"/ 2>/dev/null || true
  dict=$(dict_of "$h")
  before=$(find "$artifacts" -type f | wc -l)
  rc=0
  # -timeout: one input taking 10 s is a hang (a stall of the webhook);
  # -rss_limit_mb: a blow-up of memory is a finding too.
  nice -n 10 "$bin" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" ${dict:+-dict="$dict"} "$corpus" >"$log" 2>&1 || rc=$?
  # The last status line (cov, ft, corpus) and the final stats.
  status=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+' || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
  echo "fuzz: $h: ${execs:-?} execs, ${rate:-?}/s, ${status:-no status}, peak rss ${rss:-?} MB, rc $rc"
  if [ "$rc" -ne 0 ]; then
    grep -E 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY' "$log" | head -5 | sed 's/^/  /'
    found=$(find "$artifacts" -type f | wc -l)
    if [ "$found" -gt "$before" ]; then
      for f in $(ls -t "$artifacts"/* | head -n $((found - before))); do echo "  reproducer: $f (replay: $bin $f)"; done
    fi
    echo "  log: $log"
    failed+=("$h")
  fi
done

if [ ${#failed[@]} -eq 0 ]; then
  echo "fuzz: ${#harnesses[@]} harnesses, ${seconds} s each, 0 crashes"
else
  echo "fuzz: ${#harnesses[@]} harnesses, ${seconds} s each, ${#failed[@]} failed: ${failed[*]} (reproducers in $dir/fuzz-artifacts)"
  exit 1
fi
