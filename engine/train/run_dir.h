#pragma once
// The layout of a run directory:
//   RUN/config.resolved.yaml     the config with every default filled in (resume reads it)
//   RUN/train.log                the log
//   RUN/metrics.jsonl            one JSON object per step record and per epoch record
//   RUN/tensorboard/             TensorBoard event files
//   RUN/checkpoints/epoch-0003-step-0000468.safetensors         weights (torchvision names)
//   RUN/checkpoints/epoch-0003-step-0000468.state.safetensors   optimizer buffers + state
//   RUN/checkpoints/best.safetensors                            the best weights so far
// Every weights file carries the model description in its metadata, so eval and predict
// rebuild the model from the checkpoint alone.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace te {

struct RunPaths {
  std::string root;
  std::string config() const { return root + "/config.resolved.yaml"; }
  std::string log() const { return root + "/train.log"; }
  std::string metrics() const { return root + "/metrics.jsonl"; }
  std::string tensorboard() const { return root + "/tensorboard"; }
  std::string checkpoints() const { return root + "/checkpoints"; }
  std::string best_weights() const { return checkpoints() + "/best.safetensors"; }
};

// One saved training checkpoint: the weights file and its training-state file.
struct CheckpointFiles {
  int64_t epoch = 0, step = 0;
  std::string weights, state;
};

// "runs/<config name>-<YYYYmmdd-HHMMSS>" for `trainer --config configs/x.yaml` without --out.
std::string default_run_dir(const std::string& config_path);

// Creates the directory and its checkpoints/ folder (IoError when it cannot).
RunPaths create_run_dir(const std::string& root);

// Checkpoint file names for a position.
CheckpointFiles checkpoint_files(const RunPaths& run, int64_t epoch, int64_t step);
// Complete checkpoints (both files present) in `run`, oldest first.
std::vector<CheckpointFiles> list_checkpoints(const RunPaths& run);
std::optional<CheckpointFiles> latest_checkpoint(const RunPaths& run);
// Deletes temporary files ("NAME.tmp.PID") that a killed process left in the run directory or
// its checkpoints/; they are never read, only take space.
void remove_stale_temporaries(const RunPaths& run);

// The weights file that `trainer eval/predict --checkpoint ARG` means: ARG itself when it is a
// file; for a run directory its best weights, else its latest checkpoint. IoError otherwise.
std::string resolve_weights_path(const std::string& arg);

}  // namespace te
