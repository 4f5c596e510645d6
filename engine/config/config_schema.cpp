#include "engine/config/config_schema.h"

#include <cmath>
#include <cstdio>
#include <set>

#include "engine/core/suggest.h"

namespace te {
namespace {


ConfigKey key(std::string path, ConfigKind kind, std::string def, std::string help = "") {
  ConfigKey k;
  k.path = std::move(path);
  k.kind = kind;
  k.default_yaml = std::move(def);
  k.help = std::move(help);
  return k;
}
ConfigKey ranged(std::string path, ConfigKind kind, std::string def, double lo, double hi,
                 bool lo_exclusive = false, bool hi_exclusive = false) {
  ConfigKey k = key(std::move(path), kind, std::move(def));
  k.min = lo;
  k.max = hi;
  k.min_exclusive = lo_exclusive;
  k.max_exclusive = hi_exclusive;
  return k;
}
ConfigKey choice(std::string path, std::string def, std::vector<std::string> choices) {
  ConfigKey k = key(std::move(path), ConfigKind::Choice, std::move(def));
  k.choices = std::move(choices);
  return k;
}
ConfigKey required(std::string path, ConfigKind kind, std::string help) {
  ConfigKey k = key(std::move(path), kind, "", std::move(help));
  k.required = true;
  return k;
}

std::vector<ConfigKey> make_schema() {
  using K = ConfigKind;
  std::vector<ConfigKey> keys = {
      // The model: checked by the graph builder (it knows presets and layer types).
      key("model", K::Model, "{preset: resnet18}"),

      required("data.train", K::String, "the training images: a folder-per-class directory, an "
                                        "IDX directory or a packed shard file"),
      key("data.val", K::String, "", "the validation images"),
      key("data.train_split", K::String, "train"),  // IDX directories hold both splits
      key("data.val_split", K::String, "test"),
      ranged("data.image_size", K::Int, "128", 4, 4096),
      ranged("data.batch_size", K::Int, "64", 1, 65536),
      ranged("data.eval_batch_size", K::Int, "0", 0, 65536),  // 0: same as batch_size
      ranged("data.workers", K::Int, "2", 0, 256),
      ranged("data.max_skipped_fraction", K::Float, "0.01", 0, 1),
      key("data.mean", K::FloatList, ""),  // default: per channel count (ImageNet for RGB)
      key("data.std", K::FloatList, ""),
      key("data.class_names", K::StringList, ""),  // default: the data's names (IDX: "0".."9")
      ranged("data.resize_ratio", K::Float, "0.875", 0, 1, true),  // eval: resize, centre crop
      key("data.augment.random_resized_crop", K::Bool, "true"),
      ranged("data.augment.scale_min", K::Float, "0.08", 0, 1, true),
      ranged("data.augment.scale_max", K::Float, "1", 0, 1, true),
      key("data.augment.hflip", K::Bool, "true"),
      ranged("data.augment.pad_crop", K::Int, "0", 0, 1024),  // pixels; for small images
      ranged("data.augment.color_jitter", K::Float, "0", 0, 1, false, true),
      ranged("data.augment.random_erasing", K::Float, "0", 0, 1),

      choice("optim.type", "sgd", {"sgd", "adamw"}),
      ranged("optim.lr", K::Float, "0.1", 0, std::numeric_limits<double>::infinity(), true),
      ranged("optim.momentum", K::Float, "0.9", 0, 1, false, true),
      key("optim.nesterov", K::Bool, "false"),
      ranged("optim.weight_decay", K::Float, "5e-4", 0, 10),
      ranged("optim.beta1", K::Float, "0.9", 0, 1, false, true),
      ranged("optim.beta2", K::Float, "0.999", 0, 1, false, true),
      ranged("optim.eps", K::Float, "1e-8", 0, 1, true),
      key("optim.no_decay_bn_bias", K::Bool, "true"),

      choice("schedule.type", "cosine", {"cosine", "step", "onecycle", "constant"}),
      ranged("schedule.warmup_epochs", K::Float, "1", 0, 1e6),
      ranged("schedule.min_lr", K::Float, "0", 0, 1e6),
      key("schedule.milestones", K::IntList, "[]"),
      ranged("schedule.step_epochs", K::Float, "30", 0, 1e6, true),
      ranged("schedule.gamma", K::Float, "0.1", 0, 1, true),
      ranged("schedule.pct_start", K::Float, "0.3", 0, 1, true, true),

      ranged("train.epochs", K::Int, "30", 1, 1000000),
      choice("train.precision", "fp32", {"fp32", "bf16", "fp16"}),
      ranged("train.seed", K::Int, "0", 0, 9.2e18),
      ranged("train.grad_accum", K::Int, "1", 1, 65536),
      ranged("train.grad_clip", K::Float, "0", 0, 1e12),
      ranged("train.label_smoothing", K::Float, "0.1", 0, 1, false, true),
      ranged("train.eval_every_epochs", K::Int, "1", 1, 1000000),
      ranged("train.max_bad_steps", K::Int, "5", 1, 1000000),
      choice("train.device", "auto", {"auto", "cpu", "cuda"}),
      ranged("train.threads", K::Int, "0", 0, 4096),  // 0: all cores (or TE_NUM_THREADS)
      key("train.deterministic", K::Bool, "false"),
      key("train.allow_tf32", K::Bool, "true"),
      key("train.cuda_graphs", K::Bool, "true"),
      key("train.channels_last", K::Bool, "false"),
      key("train.allreduce_overlap", K::Bool, "true"),
      key("train.sync_batchnorm", K::Bool, "false"),
      choice("train.allreduce_dtype", "f32", {"f32", "bf16"}),

      ranged("checkpoint.every_epochs", K::Int, "1", 0, 1000000),
      ranged("checkpoint.every_steps", K::Int, "0", 0, 1e12),
      ranged("checkpoint.keep", K::Int, "3", 1, 1000000),
      choice("checkpoint.best_metric", "val_accuracy", {"val_accuracy", "val_loss"}),

      ranged("logging.every_steps", K::Int, "50", 1, 1e12),
      key("logging.tensorboard", K::Bool, "true"),
      choice("logging.progress", "auto", {"auto", "bar", "plain"}),
  };
  // Names from other tools (PyTorch scripts, timm, Keras) that mean one of our keys.
  const std::vector<std::pair<std::string, std::vector<std::string>>> aliases = {
      {"data.train", {"train_dir", "training", "train_path"}},
      {"data.val", {"val_dir", "valid", "validation", "test", "val_path"}},
      {"data.image_size", {"img_size", "size", "resolution", "input_size"}},
      {"data.batch_size", {"batch", "bs"}},
      {"data.workers", {"num_workers", "threads", "jobs"}},
      {"optim.lr", {"learning_rate", "learningrate", "rate", "base_lr"}},
      {"optim.weight_decay", {"wd", "decay", "l2"}},
      {"optim.type", {"optimizer", "name", "kind"}},
      {"schedule.warmup_epochs", {"warmup", "warmup_steps"}},
      {"train.epochs", {"num_epochs", "n_epochs", "max_epochs", "epoch"}},
      {"train.grad_accum", {"accumulate", "gradient_accumulation", "accum_steps", "accumulation"}},
      {"train.grad_clip", {"clip", "max_grad_norm", "gradient_clip", "clip_grad_norm"}},
      {"train.label_smoothing", {"smoothing"}},
      {"checkpoint.keep", {"keep_last", "max_keep", "keep_last_k"}},
      {"logging.every_steps", {"log_every", "interval", "log_interval"}},
  };
  for (const auto& [path, names] : aliases)
    for (auto& k : keys)
      if (k.path == path) k.aliases = names;
  return keys;
}

}  // namespace

const std::vector<ConfigKey>& run_config_schema() {
  static const std::vector<ConfigKey> schema = make_schema();
  return schema;
}

const ConfigKey* find_config_key(const std::string& path) {
  for (const auto& k : run_config_schema())
    if (k.path == path) return &k;
  return nullptr;
}

std::vector<std::string> config_children(const std::string& section) {
  const std::string prefix = section.empty() ? "" : section + ".";
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& k : run_config_schema()) {
    if (k.path.compare(0, prefix.size(), prefix) != 0 || k.path.size() == prefix.size()) continue;
    const std::string rest = k.path.substr(prefix.size());
    const std::string child = rest.substr(0, rest.find('.'));
    if (seen.insert(child).second) out.push_back(child);
  }
  return out;
}

std::string suggest_config_child(const std::string& section, const std::string& name) {
  const std::vector<std::string> children = config_children(section);
  std::string best = closest_match(name, children);
  if (!best.empty()) return best;
  // Through aliases: map each alias back to the child it stands for.
  std::vector<std::string> alias_names;
  std::vector<std::string> alias_targets;
  const std::string prefix = section.empty() ? "" : section + ".";
  for (const auto& k : run_config_schema()) {
    if (k.path.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string child = k.path.substr(prefix.size());
    if (child.find('.') != std::string::npos) continue;
    for (const auto& a : k.aliases) {
      alias_names.push_back(a);
      alias_targets.push_back(child);
    }
  }
  const std::string alias = closest_match(name, alias_names);
  for (size_t i = 0; i < alias_names.size(); ++i)
    if (alias_names[i] == alias) return alias_targets[i];
  return "";
}

bool is_config_section(const std::string& path) {
  const std::string prefix = path + ".";
  for (const auto& k : run_config_schema())
    if (k.path.compare(0, prefix.size(), prefix) == 0) return true;
  return false;
}

namespace {
std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
std::string range_text(const ConfigKey& k) {
  const bool has_min = std::isfinite(k.min), has_max = std::isfinite(k.max);
  if (has_min && has_max)
    return std::string(" in ") + (k.min_exclusive ? "(" : "[") + number(k.min) + ", " +
           number(k.max) + (k.max_exclusive ? ")" : "]");
  if (has_min) return (k.min_exclusive ? " > " : " >= ") + number(k.min);
  if (has_max) return (k.max_exclusive ? " < " : " <= ") + number(k.max);
  return "";
}
}  // namespace

std::string describe_expected(const ConfigKey& k) {
  switch (k.kind) {
    case ConfigKind::Int: return "an integer" + range_text(k);
    case ConfigKind::Float: return "a number" + range_text(k);
    case ConfigKind::Bool: return "true or false";
    case ConfigKind::String: return "a string";
    case ConfigKind::Choice: return "one of " + join(k.choices);
    case ConfigKind::FloatList: return "a list of numbers, e.g. [0.5, 0.5, 0.5]";
    case ConfigKind::IntList: return "a list of integers, e.g. [30, 60]";
    case ConfigKind::StringList: return "a list of strings, e.g. [cat, dog]";
    case ConfigKind::Model: return "a mapping (preset: NAME or layers: [...])";
  }
  return "?";
}

}  // namespace te
