#!/usr/bin/env bash
# kill -9 trials: trains a tiny Fashion-MNIST model and kill -9s the trainer at random moments,
# checkpoint writes included (a test hook holds each write between its temporary file and the
# rename for PAUSE_MS), then resumes; N times over one run. After every kill, --resume must
# continue from the newest complete checkpoint (weights + state file) and no checkpoint may go
# missing. Prints one line per trial and a summary; exits 1 when any run was lost.
#   scripts/kill_trials.sh [N]        # default 50
# Environment: TRAINER (default build/engine/cli/trainer), DATA (default
# /usr/share/datasets/fashion-mnist), PAUSE_MS (default 40), KEEP=1 keeps the work directory.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-50}
TRAINER=${TRAINER:-build/engine/cli/trainer}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
export TE_TEST_WRITE_PAUSE_MS=${PAUSE_MS:-40}
[ -x "$TRAINER" ] || { echo "no trainer at $TRAINER (build it, or set TRAINER)" >&2; exit 2; }
[ -e "$DATA/train-images-idx3-ubyte.gz" ] || [ -e "$DATA/train-images-idx3-ubyte" ] ||
  { echo "no Fashion-MNIST IDX files in $DATA (apt-get install dataset-fashion-mnist, or set DATA)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/kill_trials.XXXXXX)
RUN=$WORK/run
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
# Many steps, a checkpoint every 10 of them: most of the time goes to checkpoints.
cat > "$WORK/tiny.yaml" <<YAML
model: {preset: simple_cnn, width: 0.25, in_channels: 1}
data: {train: $DATA, image_size: 28, batch_size: 32, workers: 1, resize_ratio: 1.0,
       augment: {random_resized_crop: false}}
train: {epochs: 1000, threads: 1}
schedule: {type: constant}
checkpoint: {every_steps: 10, keep: 3}
logging: {every_steps: 10, progress: plain}
YAML

# The newest complete checkpoint's weights file name ("" when none): both files present.
newest() {
  local best="" best_step=-1 w step
  for w in "$RUN"/checkpoints/epoch-*-step-*.safetensors; do
    [ -e "$w" ] || continue
    case "$w" in *.state.safetensors) continue ;; esac
    [ -e "${w%.safetensors}.state.safetensors" ] || continue
    step=${w##*-step-}; step=$((10#${step%.safetensors}))
    if [ "$step" -gt "$best_step" ]; then best_step=$step; best=$(basename "$w"); fi
  done
  echo "$best"
}

# Waits until `pattern` is in `log` or `pid` ends; true when found.
wait_for() {
  local pid=$1 log=$2 pattern=$3
  for _ in $(seq 1 3000); do
    grep -q "$pattern" "$log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { grep -q "$pattern" "$log" 2>/dev/null; return; }
    sleep 0.02
  done
  return 1
}

lost=0 mid_write=0 previous_step=-1
for i in $(seq 1 "$N"); do
  log=$WORK/trial-$i.log
  expected=$(newest)
  if [ "$i" = 1 ]; then
    nice -n 10 "$TRAINER" --config "$WORK/tiny.yaml" --out "$RUN" --device cpu >"$log" 2>&1 &
    pid=$!
    wait_for "$pid" "$log" "checkpoint (every_steps)" || true
  else
    nice -n 10 "$TRAINER" --resume "$RUN" --device cpu >"$log" 2>&1 &
    pid=$!
    verdict=ok
    # One trial in five kills during start-up (loading the checkpoint, rewriting the config).
    if [ $((RANDOM % 5)) = 0 ]; then
      sleep "0.$((RANDOM % 10))"
    elif ! wait_for "$pid" "$log" "resumed from"; then
      verdict="LOST (no resume: $(tail -n 2 "$log" | tr '\n' ' '))"
    fi
    if grep -q "resumed from" "$log"; then
      got=$(basename "$(sed -n 's/.*resumed from \([^ ]*\) (epoch.*/\1/p' "$log" | head -n 1)")
      [ "$got" = "$expected" ] || verdict="LOST (resumed from $got, newest complete was $expected)"
    fi
  fi
  sleep "$((RANDOM % 2)).$((RANDOM % 10))"  # 0 to 1.9 s of training and checkpointing
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null && code=0 || code=$?
  # A temporary file of this process left behind: the kill hit a write before its rename.
  during=""
  if compgen -G "$RUN/checkpoints/*.tmp.$pid" >/dev/null || compgen -G "$RUN/*.tmp.$pid" >/dev/null; then
    during=" (during a checkpoint write)"
    mid_write=$((mid_write + 1))
  fi
  [ "$i" = 1 ] && verdict=ok
  [ "$code" = 137 ] || verdict="LOST (exit $code before the kill: $(tail -n 2 "$log" | tr '\n' ' '))"
  now=$(newest)
  if [ -z "$now" ]; then
    verdict="LOST (no complete checkpoint left)"
    step=-1
  else
    step=${now##*-step-}; step=$((10#${step%.safetensors}))
    [ "$step" -ge "$previous_step" ] || verdict="LOST (newest checkpoint went back from step $previous_step to $step)"
  fi
  previous_step=$step
  case "$verdict" in LOST*) lost=$((lost + 1)) ;; esac
  echo "trial $i: killed$during; newest complete checkpoint $now; $verdict"
done

# The last kill too: one more resume must start from the newest complete checkpoint.
expected=$(newest)
log=$WORK/final.log
nice -n 10 "$TRAINER" --resume "$RUN" --device cpu >"$log" 2>&1 &
pid=$!
if wait_for "$pid" "$log" "resumed from" &&
   [ "$(basename "$(sed -n 's/.*resumed from \([^ ]*\) (epoch.*/\1/p' "$log" | head -n 1)")" = "$expected" ]; then
  echo "final resume: from $expected"
else
  echo "final resume: LOST ($(tail -n 2 "$log" | tr '\n' ' '))"
  lost=$((lost + 1))
fi
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true

echo "kill -9 trials: $N, killed during a checkpoint write: $mid_write, lost runs: $lost"
[ "$lost" = 0 ]
