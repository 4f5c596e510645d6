#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine and runs every test.
#   scripts/test.sh            # install deps, build (CUDA backend too when nvcc exists), ctest
# Environment: BUILD_DIR (default build), TE_CUDA (AUTO|ON|OFF), JOBS (default: core count).
# GPU tests carry the label `gpu` and skip with a message when no GPU is usable.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

scripts/install_deps.sh --test

# Python tools the tests use (TensorBoard reads back our event files), in a venv of our own.
VENV=.venv-test
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r scripts/requirements-test.txt
export TE_PYTHON="$PWD/$VENV/bin/python"

# CUDA toolkit on PATH when present (it is optional).
if [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH; fi
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# Paths relative to the checkout in cache keys, so clones in other folders share the cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DTE_CUDA="${TE_CUDA:-AUTO}" ${TE_CUDA_ARCHITECTURES:+-DTE_CUDA_ARCHITECTURES=$TE_CUDA_ARCHITECTURES}
cmake --build "$BUILD_DIR" -j "$JOBS"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
