#pragma once
// The training loop: epochs of optimizer steps (each over grad_accum micro-batches), gradient
// clipping, non-finite step skipping, validation at an interval, best-model tracking,
// checkpoints (last K + best), metrics.jsonl, TensorBoard scalars, progress, and exact resume.
//
// Exactness of resume: every random choice is counter-based on (seed, epoch, sample) or
// (seed, step), the learning rate is a pure function of the step, and the checkpoint holds the
// weights, buffers, optimizer state and position; so a resumed run reproduces the bytes of an
// uninterrupted one on the CPU.
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "engine/config/run_config.h"
#include "engine/core/device.h"
#include "engine/core/error.h"
#include "engine/train/model_info.h"

namespace te {

class Communicator;
class Graph;

// Training cannot continue: the loss or the gradients stayed non-finite.
class TrainingDiverged : public Error {
  using Error::Error;
};

struct TrainerOptions {
  std::string run_dir;        // where everything is written (created if missing)
  Device device = Device::cpu();
  bool resume = false;        // continue from the latest checkpoint in run_dir
  // Behave as if SIGTERM arrived during this optimizer step (1-based, counted over the whole
  // run; 0 = never). Lets tests interrupt at an exact point through the real signal path.
  int64_t stop_at_step = 0;
  // Data parallelism (engine/distributed): this rank's communicator, null for one process.
  // Each rank trains on its share of every epoch (data.batch_size per rank), gradients are
  // averaged once per optimizer step, and rank 0 alone writes the run directory.
  std::shared_ptr<Communicator> comm;
  int64_t bucket_bytes = 25ll << 20;  // gradient all-reduce bucket
  // Called on the training thread after every optimizer step ({"type": "step", ...}) and every
  // epoch (the epoch record metrics.jsonl gets); for the Python bindings' callbacks. It may call
  // request_stop() to end the run with a checkpoint, as SIGINT does.
  std::function<void(const nlohmann::json&)> on_record;
};

struct TrainSummary {
  int64_t epochs = 0, steps = 0, skipped_steps = 0;
  int64_t skipped_files = 0;  // distinct unreadable training files skipped (this process)
  double train_loss = 0;
  double val_loss = 0, val_accuracy = 0;  // of the last validation (0 when none)
  bool validated = false;
  double best_metric = 0;
  int64_t best_epoch = -1;  // 1-based epoch of the best weights, -1 without validation
  double seconds = 0;       // wall time of this process's part of the run
  double images_per_s = 0;  // training throughput over this process's part
  std::string best_weights, last_weights;
  // Data parallelism: gradient buckets whose all-reduce started while backward was still
  // running (0 when not overlapped).
  int64_t overlapped_buckets = 0;
  // CUDA graphs (this process): micro-batch steps run by replaying a captured graph, and the
  // captures made (0 and 0 when graphs are not used).
  int64_t replayed_micro_batches = 0, graph_captures = 0;
};

class Trainer {
 public:
  // Opens the data, builds the model and optimizer, prepares the run directory (writes
  // config.resolved.yaml), and on resume loads the latest checkpoint.
  Trainer(RunConfig config, TrainerOptions options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains to the configured number of epochs. Throws Interrupted after writing a checkpoint
  // when a stop was requested (SIGINT/SIGTERM), TrainingDiverged after too many consecutive
  // non-finite steps, and te::Error subclasses for data or I/O failures.
  TrainSummary run();

  const ModelInfo& model_info() const;
  int64_t steps_per_epoch() const;
  // The model as trained so far (its flat parameters, buffers), e.g. to compare ranks.
  Graph& graph();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace te
