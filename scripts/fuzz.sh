#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/: config, image, idx, shards, checkpoint) with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer in their own build directory, writes the seed
# corpora (fuzz_make_seeds) and runs each target for SECONDS (default 60) in turn. Corpora grow
# across runs in $BUILD/corpus/<target>; crashes, leaks and hangs are written to
# $BUILD/findings/ (reproduce one with `$BUILD/fuzz/fuzz_<target> FILE`).
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Environment: FUZZ_BUILD_DIR (default build-fuzz), JOBS (ninja jobs, default: core count).
# Exits 1 when any target found something. Needs clang and libclang-rt-<version>-dev (Debian).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${1:-60}
[ $# -gt 0 ] && shift
TARGETS=${*:-config image idx shards checkpoint}
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-$(nproc)}

if ! command -v clang++ >/dev/null; then
  echo "clang++ not found: apt-get install clang libclang-rt-dev (or libclang-rt-14-dev on Debian 12)" >&2
  exit 2
fi

# Every engine source gets coverage instrumentation and both sanitizers; the targets add
# libFuzzer's main. -O1 keeps the stacks readable and the runs fast enough.
FLAGS="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Fuzz \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_FLAGS="$FLAGS" -DCMAKE_CXX_FLAGS="$FLAGS" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DTE_CUDA=OFF -DTE_CUDA_EMULATION=OFF -DTE_BUILD_TESTS=OFF -DTE_BUILD_BENCH=OFF -DTE_FUZZ=ON >/dev/null
ninja -C "$BUILD" -j "$JOBS" fuzz_make_seeds $(for t in $TARGETS; do echo "fuzz_$t"; done)

"$BUILD/fuzz/fuzz_make_seeds" "$BUILD/seeds" "$PWD"
mkdir -p "$BUILD/findings" "$BUILD/logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
summary=""
for t in $TARGETS; do
  mkdir -p "$BUILD/corpus/$t"
  log="$BUILD/logs/$t.log"
  echo "== fuzz_$t for ${SECONDS_PER_TARGET}s"
  set +e
  # -timeout: a single input running 10 s is a hang; -rss_limit_mb: 2 GiB is an out-of-memory
  # finding (and so is one allocation above it).
  "$BUILD/fuzz/fuzz_$t" "$BUILD/corpus/$t" "$BUILD/seeds/$t" -max_total_time="$SECONDS_PER_TARGET" \
    -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$BUILD/findings/$t-" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
  corpus=$(ls "$BUILD/corpus/$t" | wc -l)
  if [ "$rc" = 0 ]; then
    result="no findings"
  else
    result="FINDING (exit $rc): $(grep -m1 -E 'ERROR: |runtime error|SUMMARY' "$log" || tail -n 1 "$log"); see $log"
    status=1
  fi
  line=$(printf '%-12s %12s execs %6ss  corpus %5s  %s' "fuzz_$t" "${execs:-?}" "${secs:-?}" "$corpus" "$result")
  echo "$line"
  summary+="$line"$'\n'
done
echo
echo "$summary"
exit "$status"
