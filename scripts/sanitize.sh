#!/usr/bin/env bash
# The test suite under sanitizers (no GPU needed):
#   scripts/sanitize.sh          # asan and tsan below
#   scripts/sanitize.sh asan     # AddressSanitizer + UndefinedBehaviorSanitizer: every CPU test and
#                                #   the SIMT-emulated CUDA kernel tests (label emu), build-asan/
#   scripts/sanitize.sh emu      # the same for the emulated kernel tests and the fuzz targets'
#                                #   replay runs (label fuzz) only: what CI runs
#   scripts/sanitize.sh tsan     # ThreadSanitizer: the loader and thread-pool tests, build-tsan/
# Any report fails the run (halt_on_error, -fno-sanitize-recover). Suppressions: Open MPI's
# own allocations kept until exit (scripts/lsan.supp says why); nothing else.
# Environment: JOBS (default: core count). Run scripts/test.sh (or install_deps.sh) first.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-all}
JOBS=${JOBS:-$(nproc)}
if [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH; fi
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}

configure() {  # <build dir> <sanitizer flags>
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTE_BUILD_BENCH=OFF \
    -DCMAKE_CXX_FLAGS="$2 -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="$2" -DCMAKE_SHARED_LINKER_FLAGS="$2"
}

# The emulation's fibers are announced to ASan (kernels/cuda/emu/fiber_sanitizer.h), so the
# stack checks stay on. Leak checking is on too.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp
ASAN_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined"

if [ "$MODE" = all ] || [ "$MODE" = asan ]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer: CPU tests and emulated CUDA kernels"
  configure build-asan "$ASAN_FLAGS"
  cmake --build build-asan -j "$JOBS"
  ctest --test-dir build-asan --output-on-failure -j "$JOBS" -LE 'gpu|ptxas'
elif [ "$MODE" = emu ]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer: emulated CUDA kernels, fuzz replays"
  targets="fuzz_make_seeds fuzz_replay_config fuzz_replay_image fuzz_replay_idx"
  targets+=" fuzz_replay_shards fuzz_replay_checkpoint"
  if command -v nvcc > /dev/null; then
    targets+=" test_cuda_emu"
  else
    echo "sanitize.sh emu: no CUDA toolkit (nvcc), so no emulated kernels to test"
  fi
  configure build-asan "$ASAN_FLAGS"
  # shellcheck disable=SC2086  # a list of target names
  cmake --build build-asan -j "$JOBS" --target $targets
  # The whole-resnet steps (about 4 CPU-minutes under ASan) run in the normal build only: CI's
  # time goes to the kernels' own tests here. `asan` mode runs them too. NcclOneRank (MPI as a
  # singleton, no kernels of its own) is left to the normal build here: Open MPI's allocations
  # need the exact unwinder that tests/distributed/dist_fixture.cpp sets for mpirun's ranks only.
  ctest --test-dir build-asan --output-on-failure -j "$JOBS" -L 'emu|fuzz' -E 'ResNetStep|NcclOneRank'
fi

if [ "$MODE" = all ] || [ "$MODE" = tsan ]; then
  echo "== ThreadSanitizer: the loader and the thread pool"
  configure build-tsan "-fsanitize=thread"
  cmake --build build-tsan -j "$JOBS" --target test_core test_data
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --test-dir build-tsan --output-on-failure -j "$JOBS" \
      -R '^(Parallel|ThreadPool|Loader|FolderLoader|LoaderSkips|Shard|Prefetch)'
fi
