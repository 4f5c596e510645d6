#!/usr/bin/env bash
# Downloads Kaggle's "Dogs vs. Cats" (competition dogs-vs-cats) with the kaggle CLI and arranges
# it for configs/catdog.yaml:
#   data/catdog/train/{cat,dog}/*.jpg   (images 0 .. N_TRAIN-1 of each class)
#   data/catdog/val/{cat,dog}/*.jpg     (the next N_VAL of each class)
# Needs internet, `pip install kaggle`, a Kaggle API token (~/.kaggle/kaggle.json or
# KAGGLE_USERNAME/KAGGLE_KEY) and the competition's rules accepted on kaggle.com.
# Usage: scripts/download_catdog.sh [DEST (default data/catdog)] [N_TRAIN (10000)] [N_VAL (2500)]
set -euo pipefail

dest=${1:-data/catdog}
n_train=${2:-10000}
n_val=${3:-2500}

fail() { echo "download_catdog.sh: $*" >&2; exit 1; }

command -v kaggle >/dev/null 2>&1 ||
  fail "the kaggle CLI is not installed (pip install kaggle), or use the 5,000 images in ../shared/data/catdog: --set data.train=../shared/data/catdog/train --set data.val=../shared/data/catdog/val"
command -v unzip >/dev/null 2>&1 || fail "unzip is not installed (apt-get install unzip)"
if [[ ! -f ~/.kaggle/kaggle.json && -z "${KAGGLE_KEY:-}" ]]; then
  fail "no Kaggle API token: put kaggle.json in ~/.kaggle/ or set KAGGLE_USERNAME and KAGGLE_KEY"
fi
(( n_train + n_val <= 12500 )) || fail "N_TRAIN + N_VAL must be at most 12500 (images per class)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "downloading dogs-vs-cats into $work ..."
kaggle competitions download -c dogs-vs-cats -p "$work" ||
  fail "kaggle download failed: is there internet access, and were the competition rules accepted on kaggle.com?"
unzip -q "$work/dogs-vs-cats.zip" -d "$work"
unzip -q "$work/train.zip" -d "$work"
[[ -d "$work/train" ]] || fail "unexpected archive layout: no train/ folder in train.zip"

for cls in cat dog; do
  mkdir -p "$dest/train/$cls" "$dest/val/$cls"
  for ((i = 0; i < n_train + n_val; i++)); do
    src="$work/train/$cls.$i.jpg"
    [[ -f "$src" ]] || fail "missing $src in the archive"
    if (( i < n_train )); then mv "$src" "$dest/train/$cls/"; else mv "$src" "$dest/val/$cls/"; fi
  done
done
echo "done: $(find "$dest/train" -name '*.jpg' | wc -l) training and $(find "$dest/val" -name '*.jpg' | wc -l) validation images in $dest"
