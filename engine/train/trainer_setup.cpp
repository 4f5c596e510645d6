// Trainer construction: data, model, optimizer, schedule, run directory, resume.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "engine/core/parallel.h"
#include "engine/io/atomic_file.h"
#include "engine/train/checkpoint.h"
#include "engine/train/trainer_impl.h"

namespace te {
namespace {

// One sample's channel count when the data says it (IDX and raw shards); 3 for encoded files,
// which decode to RGB.
int64_t detect_channels(const Dataset& data) {
  if (data.size() == 0) return 3;
  SampleData sample;
  data.read(0, sample);
  return sample.kind == SampleData::Kind::Pixels ? sample.channels : 3;
}

TransformConfig transform_config(const RunConfig& c, const ModelInfo& info, bool train) {
  TransformConfig t;
  t.image_size = c.data.image_size;
  t.channels = info.input_chw[0];
  t.train = train;
  t.resize_ratio = c.data.resize_ratio;
  t.mean = info.mean;
  t.std = info.std;
  t.augment.random_resized_crop = c.data.random_resized_crop;
  t.augment.scale_min = c.data.scale_min;
  t.augment.scale_max = c.data.scale_max;
  t.augment.hflip = c.data.hflip;
  t.augment.pad_crop = static_cast<int>(c.data.pad_crop);
  t.augment.color_jitter = c.data.color_jitter;
  t.augment.random_erasing = c.data.random_erasing;
  return t;
}

}  // namespace

void Trainer::Impl::open_data() {
  const DataSection& d = config.data;
  train_set = open_dataset(d.train, DatasetOptions{d.train_split});
  if (train_set->size() == 0) throw DataError("training set '" + d.train + "' holds no samples");
  spdlog::info("training data: {} ({}, {} samples, {} classes)", d.train, train_set->kind(),
               train_set->size(), train_set->class_names().size());
  if (!d.val.empty()) {
    val_set = open_dataset(d.val, DatasetOptions{d.val_split});
    if (val_set->class_names() != train_set->class_names())
      throw DataError("the validation set '" + d.val + "' has other classes than the training set '" +
                      d.train + "' (" + std::to_string(val_set->class_names().size()) + " vs " +
                      std::to_string(train_set->class_names().size()) +
                      "); they must have the same class folders");
    spdlog::info("validation data: {} ({}, {} samples)", d.val, val_set->kind(), val_set->size());
  } else {
    spdlog::warn("no validation set (data.val): no validation and no best-model tracking");
  }
}

void Trainer::Impl::build_model() {
  const std::string& where = config.source;
  // Filled in place (not cloned) so the graph's messages keep the config's line numbers; the
  // resolved config shares this node and so records the filled values.
  YAML::Node model = config.model;
  const int64_t classes = static_cast<int64_t>(train_set->class_names().size());
  if (!model["num_classes"]) {
    model["num_classes"] = classes;
  } else if (model["num_classes"].as<int64_t>() != classes) {
    throw ConfigError(where + ": key 'model.num_classes' is " + model["num_classes"].as<std::string>() +
                      " but the training data has " + std::to_string(classes) +
                      " classes; remove the key to take it from the data");
  }
  if (!model["in_channels"]) model["in_channels"] = detect_channels(*train_set);
  const int64_t channels = model["in_channels"].as<int64_t>();
  info.model = model;
  info.input_chw = Shape{channels, config.data.image_size, config.data.image_size};
  info.class_names = train_set->class_names();
  // data.class_names names what the data only numbers (IDX labels "0".."9"); the checkpoint
  // carries these names to eval and predict.
  if (!config.data.class_names.empty()) {
    if (static_cast<int64_t>(config.data.class_names.size()) != classes)
      throw ConfigError(where + ": key 'data.class_names' lists " +
                        std::to_string(config.data.class_names.size()) +
                        " names but the training data has " + std::to_string(classes) +
                        " classes; give one name per class in label order, or remove the key");
    info.class_names = config.data.class_names;
  }
  info.mean = config.data.mean.empty() ? default_mean(channels) : config.data.mean;
  info.std = config.data.std.empty() ? default_std(channels) : config.data.std;
  if (info.mean.size() != 1 && static_cast<int64_t>(info.mean.size()) != channels)
    throw ConfigError(where + ": key 'data.mean' has " + std::to_string(info.mean.size()) +
                      " values for " + std::to_string(channels) + " input channels");
  info.resize_ratio = config.data.resize_ratio;

  GraphOptions go;
  go.init_seed = config.train.seed;
  if (config.train.precision == "bf16") go.compute_dtype = DType::BF16;
  if (config.train.precision == "fp16") go.compute_dtype = DType::F16;
  go.channels_last = config.train.channels_last;
  // The fused batchnorm2d_act has no synchronised statistics; the unfused graph has the same
  // names, checkpoints and initial values.
  if (dp && config.train.sync_batchnorm) go.fuse = false;
  graph = Graph::build(model, where, info.input_chw, go);
  graph->to(options.device);
  buffers = graph->named_buffers();
  for (const auto& b : buffers) buffer_backup.push_back(b.tensor.clone());

  OptimizerConfig oc;
  oc.type = config.optim.type;
  oc.momentum = config.optim.momentum;
  oc.nesterov = config.optim.nesterov;
  oc.weight_decay = config.optim.weight_decay;
  oc.beta1 = config.optim.beta1;
  oc.beta2 = config.optim.beta2;
  oc.eps = config.optim.eps;
  optimizer = make_optimizer(oc, graph->num_parameters(), options.device,
                             config.optim.no_decay_bn_bias ? graph->no_decay_ranges()
                                                           : std::vector<std::pair<int64_t, int64_t>>{});
  loss = std::make_unique<SoftmaxCrossEntropy>(config.train.label_smoothing);
  spdlog::info("model: {} parameters, input {}, {} classes, device {}", graph->num_parameters(),
               info.input_chw.str(), classes, options.device.str());
  if (graph->mixed_precision())
    spdlog::info("precision: {} (activations and conv/linear weights in {}; master weights, "
                 "batch-norm parameters and statistics, and optimizer state in f32{})",
                 config.train.precision, dtype_name(graph->compute_dtype()),
                 config.train.precision == "fp16" ? "; dynamic loss scaling" : "");
  else
    spdlog::info("precision: fp32");
  spdlog::info("activation layout: {}", layout_name(graph->layout()));
  scaler = std::make_unique<LossScaler>(config.train.precision == "fp16");
}

void Trainer::Impl::setup() {
  if (config.train.precision != "fp32" && options.device.is_cpu())
    throw ConfigError(config.source + ": key 'train.precision': " + config.train.precision +
                      " needs a CUDA device; the CPU backend computes in fp32 (set "
                      "train.precision: fp32, or run with --device cuda)");
  if (config.train.channels_last && options.device.is_cpu())
    throw ConfigError(config.source + ": key 'train.channels_last': channels-last activations "
                      "need a CUDA device; the CPU backend is NCHW only (set it to false, or run "
                      "with --device cuda)");
  if (options.comm)
    dp = std::make_unique<DataParallel>(options.comm, options.bucket_bytes,
                                        config.train.allreduce_dtype == "bf16" ? DType::BF16 : DType::F32);
  if (config.train.threads > 0) set_num_threads(static_cast<int>(config.train.threads));
  run = root() ? create_run_dir(options.run_dir) : RunPaths{options.run_dir};
  std::optional<CheckpointFiles> resume_from;
  if (options.resume) {
    resume_from = latest_checkpoint(run);
    if (!resume_from)
      throw IoError("nothing to resume in '" + run.root + "': no complete checkpoint in " +
                    run.checkpoints());
  } else if (latest_checkpoint(run)) {
    throw IoError("run directory '" + run.root + "' already holds checkpoints; continue it with "
                  "`trainer --resume " + run.root + "` or choose a new one with --out DIR");
  }

  open_data();
  build_model();

  const DataSection& d = config.data;
  LoaderOptions lo;
  lo.batch_size = d.batch_size;
  lo.workers = d.workers;
  lo.shuffle = true;
  lo.drop_last = true;  // equal-sized steps; the order changes every epoch
  lo.seed = config.train.seed;
  lo.max_skip_fraction = d.max_skipped_fraction;
  if (dp) lo.shard = EpochShard{dp->rank(), dp->size()};  // validation too (vo copies it)
  train_loader = std::make_unique<DataLoader>(train_set, transform_config(config, info, true), lo);
  const int64_t batches = train_loader->batches_per_epoch();
  steps_per_epoch = batches / config.train.grad_accum;
  if (steps_per_epoch == 0)
    throw ConfigError(config.source + ": the training set has " + std::to_string(train_set->size()) +
                      " samples, fewer than one optimizer step needs (data.batch_size " +
                      std::to_string(d.batch_size) + " x train.grad_accum " +
                      std::to_string(config.train.grad_accum) + ")");
  if (val_set) {
    LoaderOptions vo = lo;
    vo.batch_size = d.eval_batch_size;
    vo.shuffle = false;
    vo.drop_last = false;
    val_loader = std::make_unique<DataLoader>(val_set, transform_config(config, info, false), vo);
  }

  ScheduleConfig sc;
  sc.type = config.schedule.type;
  sc.warmup_epochs = config.schedule.warmup_epochs;
  for (int64_t m : config.schedule.milestones) sc.milestones.push_back(static_cast<double>(m));
  sc.gamma = config.schedule.gamma;
  sc.step_epochs = config.schedule.step_epochs;
  sc.min_lr = config.schedule.min_lr;
  sc.pct_start = config.schedule.pct_start;
  schedule = std::make_unique<LrSchedule>(sc, config.optim.lr, steps_per_epoch, config.train.epochs);

  if (options.resume && root()) remove_stale_temporaries(run);
  if (root()) write_file_atomic(run.config(), config.resolved_yaml());
  state.seed = config.train.seed;
  state.world_size = dp ? dp->size() : 1;
  if (resume_from) {
    state = load_newest_checkpoint(run, *graph, *optimizer, &*resume_from);
    if (state.seed != config.train.seed)
      throw ConfigError(run.config() + ": key 'train.seed' is " + std::to_string(config.train.seed) +
                        " but the checkpoint was trained with seed " + std::to_string(state.seed) +
                        "; an exact resume needs the same seed");
    scaler->restore(state.loss_scale, state.loss_scale_clean_steps);
    const int64_t ranks = dp ? dp->size() : 1;
    if (state.world_size != ranks)
      throw ConfigError(resume_from->state + ": the checkpoint was written by a run of " +
                        std::to_string(state.world_size) + " rank(s), this one has " +
                        std::to_string(ranks) + ": its loader position counts one rank's share "
                        "of the epoch, so resuming needs the same number of ranks (re-sharding "
                        "on resume is not implemented yet)");
    spdlog::info("resumed from {} (epoch {}, batch {}, step {})", resume_from->weights,
                 state.epoch + 1, state.batch, state.step);
  }
  feed = std::make_unique<BatchFeed>(*train_loader, graph->device(), info.mean, info.std,
                                     graph->compute_dtype(), graph->layout());
  if (root()) metrics = std::make_unique<MetricsWriter>(run.metrics(), /*append=*/options.resume);
  if (config.logging.tensorboard && root()) tensorboard = std::make_unique<TensorBoardWriter>(run.tensorboard());
  progress = std::make_unique<Progress>(progress_mode_from(root() ? config.logging.progress : "plain"),
                                        config.logging.every_steps);
  setup_data_parallel();
  step_capture = std::make_unique<StepCapture>(config.train.cuda_graphs, *graph, why_no_step_capture());
  spdlog::info("{} steps per epoch ({} batches of {}, grad_accum {}), {} epochs, run dir {}",
               steps_per_epoch, batches, d.batch_size, config.train.grad_accum,
               config.train.epochs, run.root);
  // The static memory plan is known before the first step: say what it will take.
  const GraphMemory mem = graph->memory_at(std::max(d.batch_size, val_set ? d.eval_batch_size : 0));
  const double mib = 1.0 / (1 << 20);
  spdlog::info("memory plan at batch {}: activations and their gradients {:.1f} MiB in one arena "
               "({:.1f} MiB without reuse), {:.1f} MiB saved by layers, parameters and gradients "
               "{:.1f} MiB", mem.batch, mem.arena_bytes * mib, mem.unplanned_bytes * mib,
               mem.saved_bytes * mib,
               2.0 * graph->num_parameters() * static_cast<double>(dtype_size(graph->dtype())) * mib);
}

Trainer::Trainer(RunConfig config, TrainerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->options = std::move(options);
  impl_->setup();
}

Trainer::~Trainer() = default;

const ModelInfo& Trainer::model_info() const { return impl_->info; }
int64_t Trainer::steps_per_epoch() const { return impl_->steps_per_epoch; }

}  // namespace te
