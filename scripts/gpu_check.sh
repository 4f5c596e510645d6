#!/usr/bin/env bash
# One-shot check on a GPU machine: configure and build for sm_90 (Release, all cores; built here
# rather than carried: the binary then links this host's cuDNN headers and libraries, see
# kernels/cuda/cudnn_version.h), run every test including the GPU ones (the SIMT emulation is
# left out: CI runs it), `trainer doctor`, the Docker runtime-library check, the bandwidth of
# our own kernels (bench_kernels, against cudaMemcpy), and the training-throughput comparison with PyTorch eager and
# torch.compile (bench/compare_torch.py's default cases: resnet18/50 bf16 channels_last, resnet18
# fp32 and TF32; the engine's cells say "n/a (not supported: ...)" where it cannot run a case)
# when PyTorch imports; prints a summary with both tables last. Needs no network (no apt, no
# pip). Meant to finish within about 8 minutes on 16 cores (the comparison gets what is left of
# TOTAL_BUDGET after the build and tests, and skips torch.compile when that is too little).
#
#   scripts/gpu_check.sh             build + all tests + doctor + benchmarks
#   scripts/gpu_check.sh --sanitize  build + the GPU tests under compute-sanitizer (memcheck)
#   scripts/gpu_check.sh --catdog    build + configs/catdog.yaml trained in fp32 and in bf16 from
#                                    the shards of scripts/pack_catdog.sh (data/catdog-shards,
#                                    carried to the GPU machine: the data set itself is not there)
#
# Environment: BUILD_DIR (default build-gpu), CUDA_ARCH (default 90), OUT (if set, logs and the
# summary are copied there), AUTOTUNE=1 (benchmark with timed cuDNN engine search on both sides:
# the engine's --autotune and torch.backends.cudnn.benchmark; default: heuristics on both),
# TOTAL_BUDGET (seconds, default 480: the PyTorch comparison is given what is left of it).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
SANITIZE=0
CATDOG=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) SANITIZE=1 ;;
    --catdog) CATDOG=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg (expected --sanitize or --catdog)" >&2; exit 2 ;;
  esac
done
BUILD="${BUILD_DIR:-$ROOT/build-gpu}"
ARCH="${CUDA_ARCH:-90}"
JOBS="$(nproc)"
LOGS="$BUILD/gpu_check"
mkdir -p "$LOGS"
export PATH="/usr/local/cuda/bin:$PATH"
START=$(date +%s)
declare -a SUMMARY=()
note() { SUMMARY+=("$(printf '%-22s %s' "$1" "$2")"); }
elapsed() { echo $(( $(date +%s) - START )); }
show_tail() { echo "---- last lines of $1 ----"; tail -n "${2:-40}" "$1"; echo "----"; }
finish() {
  echo
  echo "================ GPU check summary ($(elapsed) s) ================"
  for line in "${SUMMARY[@]}"; do echo "$line"; done
  if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT" && cp -r "$LOGS" "$OUT/" 2>/dev/null
    printf '%s\n' "${SUMMARY[@]}" > "$OUT/gpu_check_summary.txt"
  fi
  exit "$1"
}

# ---- the machine ----
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n 4
  note "gpu" "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -n 1)"
else
  note "gpu" "nvidia-smi not found"
fi

# ---- configure ----
configure() {
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTE_CUDA=ON \
    -DTE_CUDA_ARCHITECTURES="$ARCH" -DTE_BUILD_TESTS=ON -DTE_BUILD_BENCH=ON \
    -DTE_CUDA_EMULATION=OFF -DTE_FUZZ_REPLAY_SECONDS=3 "$@" \
    > "$LOGS/configure.log" 2>&1
}
if ! configure; then
  # cuDNN may only be present inside PyTorch's nvidia-cudnn wheel.
  CUDNN_DIR="$(python3 -c 'import os, nvidia.cudnn as c; print(os.path.dirname(c.__file__))' 2>/dev/null || true)"
  if [ -n "$CUDNN_DIR" ] && configure -DCUDNN_ROOT="$CUDNN_DIR"; then
    note "configure" "OK (cuDNN from $CUDNN_DIR)"
  else
    show_tail "$LOGS/configure.log"
    note "configure" "FAILED (see $LOGS/configure.log)"
    finish 1
  fi
else
  note "configure" "OK, sm_$ARCH, $(grep -m1 -o 'cuDNN: .*' "$LOGS/configure.log" || echo 'cuDNN found')"
fi

# ---- build ----
T0=$(date +%s)
if ! timeout 240 ninja -C "$BUILD" -j "$JOBS" > "$LOGS/build.log" 2>&1; then
  grep -E 'error|FAILED' "$LOGS/build.log" | head -n 30
  show_tail "$LOGS/build.log" 20
  note "build" "FAILED after $(( $(date +%s) - T0 )) s (see $LOGS/build.log)"
  finish 1
fi
note "build" "OK in $(( $(date +%s) - T0 )) s with $JOBS jobs"
STATUS=0

if [ "$SANITIZE" = 1 ]; then
  SAN="$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)"
  if [ ! -x "$SAN" ]; then
    note "sanitize" "compute-sanitizer not found"
    finish 1
  fi
  # memcheck slows kernels 10-100x: the resnet step and the TF32 repeat are left out.
  T0=$(date +%s)
  timeout 280 "$SAN" --tool memcheck --error-exitcode 9 --print-limit 20 \
    "$BUILD/tests/test_cuda" --gtest_filter='-ResNetStep.*:*Tf32*' > "$LOGS/memcheck.log" 2>&1
  rc=$?
  RESULT="$(grep -E 'ERROR SUMMARY' "$LOGS/memcheck.log" | tail -n 1)"
  PASSED="$(grep -cE '^\[       OK \]' "$LOGS/memcheck.log")"
  SKIPPED="$(grep -cE '^\[  SKIPPED \]' "$LOGS/memcheck.log")"
  if [ $rc -ne 0 ]; then
    show_tail "$LOGS/memcheck.log" 60
    STATUS=1
  fi
  note "memcheck" "exit $rc in $(( $(date +%s) - T0 )) s: ${RESULT:-no summary}; $PASSED tests ok, $SKIPPED skipped"
  finish $STATUS
fi

if [ "$CATDOG" = 1 ]; then
  # The catdog target (>= 90% validation accuracy) and the bf16 check (within 1 point of fp32).
  SHARDS="${CATDOG_SHARDS:-$ROOT/data/catdog-shards}"
  if [ ! -d "$SHARDS/train" ] || [ ! -d "$SHARDS/val" ]; then
    note "catdog" "no shards at $SHARDS (run scripts/pack_catdog.sh and carry data/catdog-shards)"
    finish 1
  fi
  for precision in fp32 bf16; do
    T0=$(date +%s)
    RUN="$BUILD/catdog-$precision"
    rm -rf "$RUN"
    timeout "${CATDOG_TIMEOUT:-240}" "$BUILD/engine/cli/trainer" --config "$ROOT/configs/catdog.yaml"       --device cuda --out "$RUN" --set "data.train=$SHARDS/train" --set "data.val=$SHARDS/val"       --set "data.workers=${CATDOG_WORKERS:-12}" --set "train.precision=$precision"       --set logging.progress=plain > "$LOGS/catdog-$precision.log" 2>&1
    rc=$?
    grep -E 'precision:|CUDA graphs|memory plan' "$LOGS/catdog-$precision.log" | head -n 4
    grep -E 'epoch [0-9]+/[0-9]+:' "$LOGS/catdog-$precision.log" | tail -n 3
    DONE="$(grep -m1 -o 'done: .*' "$LOGS/catdog-$precision.log")"
    [ $rc -ne 0 ] && { show_tail "$LOGS/catdog-$precision.log" 30; STATUS=1; }
    note "catdog $precision" "exit $rc in $(( $(date +%s) - T0 )) s: ${DONE:-no result}"
  done
  # The input pipeline against synthetic data: resnet18, 128 px, batch 256, bf16, from the
  # shards (the loader's workers decode and augment) and from device-resident random data.
  T0=$(date +%s)
  RUN="$BUILD/catdog-pipeline"
  rm -rf "$RUN"
  timeout 180 "$BUILD/engine/cli/trainer" --config "$ROOT/configs/catdog.yaml" --device cuda \
    --out "$RUN" --set "data.train=$SHARDS/train" --set "data.val=$SHARDS/val" \
    --set "data.workers=${CATDOG_WORKERS:-14}" --set data.batch_size=256 --set train.epochs=8 \
    --set train.eval_every_epochs=1000 --set train.precision=bf16 --set logging.progress=plain \
    --set checkpoint.every_epochs=0 > "$LOGS/catdog-pipeline.log" 2>&1
  FED="$(grep -E 'epoch 8/8:' "$LOGS/catdog-pipeline.log" | grep -o '[0-9]* img/s' | head -n 1)"
  SYNTH="$(timeout 120 "$BUILD/bench/bench_train_throughput" --model resnet18 --size 128 --batch 256 \
    --classes 2 --precision bf16 2>&1 | grep -o '[0-9.]* images/s' | head -n 1)"
  note "pipeline" "resnet18 128 px b256 bf16: ${FED:-no result} from shards (epoch 8) vs ${SYNTH:-no result} synthetic; $(( $(date +%s) - T0 )) s"
  finish "${STATUS:-0}"
fi

# ---- tests ----
T0=$(date +%s)
timeout 110 ctest --test-dir "$BUILD" -LE gpu -j "$JOBS" --timeout 90 > "$LOGS/ctest_cpu.log" 2>&1
rc_cpu=$?
timeout 150 ctest --test-dir "$BUILD" -L gpu -j 4 --timeout 90 > "$LOGS/ctest_gpu.log" 2>&1
rc_gpu=$?
for kind in cpu gpu; do
  log="$LOGS/ctest_$kind.log"
  line="$(grep -E 'tests passed' "$log" | tail -n 1)"
  skipped="$(grep -c '\*\*\*Skipped' "$log")"
  [ -z "$line" ] && line="no result (timed out?)"
  note "ctest ($kind label)" "$line; $skipped skipped"
  # The failing tests by name, so the summary alone says where to look.
  failed="$(grep -hoE '[0-9]+ - [A-Za-z0-9_./]+ \((Failed|Timeout|SEGFAULT|Subprocess aborted|Exception)\)' "$log" \
    | awk '{print $3}' | head -n 30 | tr '\n' ' ')"
  [ -n "$failed" ] && note "  failed ($kind)" "$failed"
done
if [ $rc_cpu -ne 0 ] || [ $rc_gpu -ne 0 ]; then
  grep -hE 'Failed|\*\*\*' "$LOGS"/ctest_*.log | head -n 20
  # The output of the first failing GPU tests, for the record.
  for t in $(grep -hoE '[0-9]+ - [A-Za-z0-9_.]+ \(Failed\)' "$LOGS/ctest_gpu.log" | awk '{print $3}' | head -n 3); do
    "$BUILD/tests/test_cuda" --gtest_filter="$t" 2>&1 | tail -n 25
  done
  STATUS=1
fi
note "tests time" "$(( $(date +%s) - T0 )) s"

# ---- doctor ----
if timeout 60 "$BUILD/engine/cli/trainer" doctor > "$LOGS/doctor.log" 2>&1; then
  note "trainer doctor" "$(grep -E 'Convolution check|No usable GPU' "$LOGS/doctor.log" | sed 's/Convolution check on cuda:0 //' | tr '\n' ' ')"
else
  cat "$LOGS/doctor.log"
  note "trainer doctor" "FAILED: $(grep -E 'Convolution check|cannot' "$LOGS/doctor.log" | sed 's/Convolution check on cuda:0 //' | tr '\n' ' ')"
  STATUS=1
fi
cat "$LOGS/doctor.log"

# ---- the Docker image's runtime stage: every library the trainer links, from its packages ----
# (this host runs the image's base release, Ubuntu 24.04; docker/check_runtime_libs.sh)
if timeout 60 "$ROOT/docker/check_runtime_libs.sh" "$BUILD/engine/cli/trainer" \
    > "$LOGS/runtime_libs.log" 2>&1; then
  note "docker runtime libs" "OK: $(tail -n 1 "$LOGS/runtime_libs.log")"
else
  show_tail "$LOGS/runtime_libs.log" 20
  note "docker runtime libs" "MISSING: $(grep -c . "$LOGS/runtime_libs.log") lines, see $LOGS/runtime_libs.log"
  STATUS=1
fi

# ---- kernel bandwidth (exit 77: skipped, no usable GPU) ----
T0=$(date +%s)
timeout 120 "$BUILD/bench/bench_kernels" --json "$LOGS/bench_kernels.json" \
  > "$LOGS/bench_kernels.log" 2>&1
rc=$?
cat "$LOGS/bench_kernels.log"
case $rc in
  0)
    note "bench_kernels" "OK in $(( $(date +%s) - T0 )) s (effective GB/s = minimal bytes / median time)"
    while IFS= read -r line; do SUMMARY+=("  $line"); done < <(python3 "$ROOT/scripts/summarize_kernels.py" "$LOGS/bench_kernels.log")
    ;;
  77) note "bench_kernels" "$(grep -m1 -o 'skipped.*' "$LOGS/bench_kernels.log")" ;;
  *)
    show_tail "$LOGS/bench_kernels.log" 20
    note "bench_kernels" "FAILED: exit $rc in $(( $(date +%s) - T0 )) s (see $LOGS/bench_kernels.log)"
    STATUS=1
    ;;
esac

# ---- training throughput next to PyTorch ----
BENCH="$BUILD/bench/bench_train_throughput"
T0=$(date +%s)
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  AUTO=()
  [ "${AUTOTUNE:-0}" = 1 ] && AUTO=(--autotune)
  # What is left of the total budget, 60..240 s; past it compare_torch.py skips measurements
  # (torch.compile needs 120 s left to start), and SIGTERM still prints its table.
  BUDGET=$(( ${TOTAL_BUDGET:-480} - $(elapsed) - 10 ))
  [ "$BUDGET" -gt 240 ] && BUDGET=240
  [ "$BUDGET" -lt 60 ] && BUDGET=60
  timeout -k 15 $(( BUDGET + 45 )) python3 "$ROOT/bench/compare_torch.py" --engine-bench "$BENCH" \
    --time-budget "$BUDGET" "${AUTO[@]}" --json "$LOGS/bench.json" > "$LOGS/bench.log" 2>&1
  rc=$?
  cat "$LOGS/bench.log"
  [ $rc -ne 0 ] && STATUS=1
  while IFS= read -r line; do SUMMARY+=("  $line"); done < <(sed -n '/^==== engine vs PyTorch/,$p' "$LOGS/bench.log")
  note "benchmark" "exit $rc in $(( $(date +%s) - T0 )) s, budget $BUDGET s (0 ok; 1 a measurement failed; 2 or 124 interrupted)"
else
  note "benchmark" "PyTorch with CUDA not importable: engine only"
  : > "$LOGS/bench.log"
  for flag in "" "--tf32" "--precision bf16" "--precision bf16 --channels-last"; do
    # shellcheck disable=SC2086  # $flag holds zero or more options
    if timeout 120 "$BENCH" --model resnet18 --batch 256 --size 224 --device cuda $flag \
        >> "$LOGS/bench.log" 2>&1; then
      SUMMARY+=("  $(tail -n 1 "$LOGS/bench.log")")
    else
      show_tail "$LOGS/bench.log" 10
      SUMMARY+=("  bench $flag FAILED")
      STATUS=1
    fi
  done
fi
finish $STATUS
