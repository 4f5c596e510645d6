#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine, builds the trainer and runs the main job:
#   scripts/quickstart.sh [CONFIG] [extra trainer arguments...]
# The default, configs/quickstart.yaml, trains on Fashion-MNIST from the Debian package
# dataset-fashion-mnist: nothing to download beyond the package registries. Uses the GPU when
# one works (--device auto), otherwise the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG=${1:-configs/quickstart.yaml}
shift || true
BUILD_DIR=${BUILD_DIR:-build}

scripts/install_deps.sh
if [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH; fi
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# Paths relative to the checkout in cache keys, so clones in other folders share the cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTE_BUILD_TESTS=OFF -DTE_BUILD_BENCH=OFF \
  -DTE_CUDA="${TE_CUDA:-AUTO}"
cmake --build "$BUILD_DIR" -j "$(nproc)" --target trainer
"$BUILD_DIR/engine/cli/trainer" --config "$CONFIG" --device auto "$@"
