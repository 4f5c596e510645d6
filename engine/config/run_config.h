#pragma once
// The run config: what `trainer --config FILE` reads. Loading is strict (unknown keys, wrong
// types, out-of-range values and missing required keys are ConfigErrors naming file, line and
// key, with a "did you mean" for typos), fills every default, applies `--set key.path=value`
// overrides with the same checks, and keeps the resolved tree so it can be written beside the
// run and read back exactly on resume.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace te {

struct DataSection {
  std::string train;
  std::string val;  // "" = no validation
  std::string train_split = "train", val_split = "test";  // for IDX directories
  int64_t image_size = 128;
  int64_t batch_size = 64;
  int64_t eval_batch_size = 0;
  int workers = 2;
  double max_skipped_fraction = 0.01;
  std::vector<float> mean, std;  // empty = default for the channel count
  std::vector<std::string> class_names;  // empty = the training data's names
  double resize_ratio = 0.875;
  bool random_resized_crop = true;
  double scale_min = 0.08, scale_max = 1.0;
  bool hflip = true;
  int64_t pad_crop = 0;
  double color_jitter = 0;
  double random_erasing = 0;
};

struct OptimSection {
  std::string type = "sgd";
  double lr = 0.1, momentum = 0.9, weight_decay = 5e-4;
  bool nesterov = false;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  bool no_decay_bn_bias = true;
};

struct ScheduleSection {
  std::string type = "cosine";
  double warmup_epochs = 1, min_lr = 0;
  std::vector<int64_t> milestones;
  double step_epochs = 30, gamma = 0.1, pct_start = 0.3;
};

struct TrainSection {
  int64_t epochs = 30;
  std::string precision = "fp32";
  uint64_t seed = 0;
  int64_t grad_accum = 1;
  double grad_clip = 0;
  double label_smoothing = 0.1;
  int64_t eval_every_epochs = 1;
  int64_t max_bad_steps = 5;
  std::string device = "auto";
  int64_t threads = 0;
  bool deterministic = false;  // GPU: only deterministic cuDNN algorithms and reductions
  bool allow_tf32 = true;      // GPU: fp32 convolutions/GEMMs may use TF32 tensor cores
  bool cuda_graphs = true;     // GPU: replay each micro-batch's forward/backward as a CUDA graph
  bool channels_last = false;  // GPU: NHWC activations (kernels/layout.h)
  // Data parallelism: gradient buckets all-reduced during backward (CPU ranks); false: after it.
  bool allreduce_overlap = true;
  // Data parallelism: batch-norm statistics over all ranks in training (CPU ranks); false: per rank.
  bool sync_batchnorm = false;
  // Data parallelism: the dtype gradient buckets are all-reduced in ("f32" or "bf16").
  std::string allreduce_dtype = "f32";
};

struct CheckpointSection {
  int64_t every_epochs = 1;
  int64_t every_steps = 0;
  int64_t keep = 3;
  std::string best_metric = "val_accuracy";
};

struct LoggingSection {
  int64_t every_steps = 50;
  bool tensorboard = true;
  std::string progress = "auto";
};

struct RunConfig {
  std::string source;      // the file it came from ("" when built from a string)
  YAML::Node model;        // the model description, handed to Graph::build
  DataSection data;
  OptimSection optim;
  ScheduleSection schedule;
  TrainSection train;
  CheckpointSection checkpoint;
  LoggingSection logging;
  YAML::Node resolved;     // every key with its final value

  // The resolved config as YAML text (what config.resolved.yaml holds).
  std::string resolved_yaml() const;
};

// Reads and checks `path`, then applies `overrides` ("key.path=value" each).
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});
// The same for YAML text; `where` names it in messages (a file name or "<string>").
RunConfig parse_run_config(const std::string& yaml_text, const std::string& where,
                           const std::vector<std::string>& overrides = {});

}  // namespace te
