#pragma once
// Where a run stands, saved beside each checkpoint so a resumed run continues exactly: the
// position (epoch, batch inside it, optimizer step), the seed (all randomness is counter-based
// on (seed, epoch, sample) and (seed, step), so the seed plus the position IS the RNG state),
// best-model tracking and the partial sums of the current epoch's metrics.
#include <cstdint>
#include <string>

namespace te {

struct TrainingState {
  int64_t epoch = 0;          // the epoch in progress (0-based)
  int64_t batch = 0;          // the next batch of that epoch (loader position)
  int64_t step = 0;           // optimizer steps taken (including skipped ones): the lr position
  uint64_t seed = 0;
  int64_t bad_steps = 0;      // consecutive non-finite steps
  int64_t skipped_steps = 0;  // total non-finite steps
  double best_metric = 0;
  int64_t best_epoch = -1;    // -1: no validation yet
  // Partial sums of the epoch in progress (for its epoch record).
  double epoch_loss_sum = 0;
  int64_t epoch_loss_count = 0;
  int64_t epoch_images = 0;
  int64_t epoch_correct = 0;
  double epoch_seconds = 0;
  // fp16 dynamic loss scaling (loss_scaler.h); 1 and 0 for other precisions.
  double loss_scale = 1.0;
  int64_t loss_scale_clean_steps = 0;
  // Ranks of the data-parallel run that wrote it (1 before data parallelism existed): the
  // loader position counts one rank's share of the epoch, so resume needs the same number.
  int64_t world_size = 1;

  std::string to_json() const;
  // IoError naming `source` for malformed text.
  static TrainingState from_json(const std::string& text, const std::string& source);
};

}  // namespace te
