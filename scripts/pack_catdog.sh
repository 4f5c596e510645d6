#!/usr/bin/env bash
# Packs the cat/dog images into shards (trainer pack: pre-resized JPEGs, 144 px shorter side,
# about 42 MiB for 5,000 images) so they fit in what the GPU machine is sent, and so the loader
# reads them at shard speed. Builds the trainer first if needed (CPU build is enough).
#
#   scripts/pack_catdog.sh [SRC (default ../shared/data/catdog)] [DST (default data/catdog-shards)]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="${1:-$ROOT/../shared/data/catdog}"
DST="${2:-$ROOT/data/catdog-shards}"
TRAINER="${TRAINER:-$ROOT/build/engine/cli/trainer}"
if [ ! -x "$TRAINER" ]; then
  cmake -S "$ROOT" -B "$ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
  ninja -C "$ROOT/build" trainer
fi
for split in train val; do
  if [ ! -d "$SRC/$split" ]; then
    echo "error: $SRC/$split not found (expected <root>/{train,val}/<class>/*.jpg; see scripts/download_catdog.sh)" >&2
    exit 2
  fi
  rm -rf "${DST:?}/$split"
  "$TRAINER" pack "$SRC/$split" "$DST/$split" --size 144
done
du -sh "$DST"
