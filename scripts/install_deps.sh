#!/usr/bin/env bash
# Installs the build dependencies from Debian/Ubuntu packages; with --test also what the tests
# use (Debian's PyTorch + torchvision, which check that our checkpoints load into torchvision).
# Idempotent: packages already present are left alone. Needs root (or sudo).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libyaml-cpp-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  libopenblas-dev libjpeg-dev libpng-dev zlib1g-dev
  libcli11-dev nlohmann-json3-dev
  libonnx-dev libprotobuf-dev
  python3-venv python3-dev
  dataset-fashion-mnist
  libopenmpi-dev openmpi-bin  # data parallelism: MPI (optional at build time) and mpirun for the tests
)
if [ "${1:-}" = "--test" ]; then
  PACKAGES+=(python3-torchvision)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install_deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install_deps: all packages present"
fi
