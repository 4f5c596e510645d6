#pragma once
// Private state of the Trainer, shared by trainer_setup.cpp (construction, resume) and
// trainer.cpp (the loop).
#include <memory>
#include <optional>

#include "engine/data/dataset.h"
#include "engine/data/loader.h"
#include "engine/distributed/data_parallel.h"
#include "engine/graph/graph.h"
#include "engine/io/metrics_writer.h"
#include "engine/io/tensorboard_writer.h"
#include "engine/layers/batch_stats_sync.h"
#include "engine/layers/softmax_cross_entropy.h"
#include "engine/optim/lr_schedule.h"
#include "engine/train/batch_feed.h"
#include "engine/train/evaluate.h"
#include "engine/train/loss_scaler.h"
#include "engine/train/step_capture.h"
#include "engine/optim/optimizer.h"
#include "engine/train/model_info.h"
#include "engine/train/progress.h"
#include "engine/train/run_dir.h"
#include "engine/train/trainer.h"
#include "engine/train/training_state.h"

namespace te {

struct Trainer::Impl {
  RunConfig config;
  TrainerOptions options;
  RunPaths run;
  ModelInfo info;
  std::shared_ptr<Dataset> train_set, val_set;
  std::unique_ptr<DataLoader> train_loader, val_loader;
  std::unique_ptr<Graph> graph;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<LrSchedule> schedule;
  std::unique_ptr<SoftmaxCrossEntropy> loss;
  std::unique_ptr<MetricsWriter> metrics;
  std::unique_ptr<TensorBoardWriter> tensorboard;
  std::unique_ptr<Progress> progress;
  TrainingState state;
  int64_t steps_per_epoch = 0;

  std::unique_ptr<BatchFeed> feed;  // the training batches, uploaded ahead of the compute
  std::unique_ptr<LossScaler> scaler;  // fp16 only; scale 1 otherwise
  std::unique_ptr<StepCapture> step_capture;  // CUDA graphs of the micro-batch work
  std::unique_ptr<DataParallel> dp;  // several ranks (options.comm); null for one process
  bool root() const { return !dp || dp->is_root(); }  // rank 0 writes the run directory
  bool overlap_allreduce = false;  // dp: gradient buckets reduced during the last backward
  std::unique_ptr<BatchStatsSync> bn_sync;  // dp with train.sync_batchnorm; null otherwise

  // Reused across steps (nothing is allocated per step once shapes are known).
  Tensor grad_logits;
  Tensor logits32, grad_logits32;  // mixed precision: the loss works on f32 copies
  // Per step, on the device: each micro-batch's summed loss, correct predictions, and the first
  // row found with a label outside the classes (-1: none; see ops::softmax_xent_train).
  Tensor step_loss, step_correct, bad_label_row;
  // Batch-norm running statistics before the step, restored when the step is skipped (a
  // non-finite forward would otherwise poison them for every later step).
  std::vector<NamedTensor> buffers;
  std::vector<Tensor> buffer_backup;

  void setup();
  void open_data();
  void build_model();
  void prepare_run_dir();

  // One optimizer step over grad_accum micro-batches; false when the epoch ran out of data.
  struct StepResult {
    bool ok = false;       // finite and applied
    double loss = 0;       // mean over the micro-batches
    int64_t images = 0, correct = 0;
    double lr = 0, grad_norm = -1;
    bool overflow = false;  // fp16: the gradients overflowed at this loss scale
  };
  StepResult train_step();
  // One micro-batch's device work: forward, loss (summed on the device), backward. Nothing in
  // it waits for the device, and a CUDA graph may record it once and replay it (step_capture.h).
  void micro_batch_work(const DeviceBatch& b, int64_t micro, const RunContext& ctx,
                        double grad_scale);
  void save(const char* why);
  // Data parallelism (trainer_distributed.cpp); each a no-op for one process.
  void setup_data_parallel();           // agreement checks, rank 0's weights everywhere, the log
  void reduce_step(StepResult& r);      // the step's loss, images, correct over all ranks
  void average_gradients();             // once per optimizer step, after accumulation
  // Overlapped instead: arm before the step's last backward, finish right after it.
  void arm_overlapped_allreduce(int64_t micro);
  void finish_overlapped_allreduce();
  // Why data parallelism rules out CUDA graphs of the step ("" when it does not).
  std::string why_no_step_capture() const;
  void sync_buffers();                  // identical batch-norm statistics (eval, checkpoints)
  EvalResult validate();                // sharded evaluation, combined over ranks
  bool stop_agreed();                   // a stop request seen by any rank stops every rank
  void log_step_record(double loss, double lr, double images_per_s, double grad_norm);
};

}  // namespace te
