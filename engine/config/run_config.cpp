#include "engine/config/run_config.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "engine/config/config_schema.h"
#include "engine/config/config_override.h"
#include "engine/core/error.h"
#include "engine/core/suggest.h"
#include "engine/graph/model_check.h"

namespace te {
namespace {

// "file.yaml:12: key 'optim.lr'" — the prefix of every message about one key.
std::string locate(const std::string& where, const YAML::Node& at, const std::string& path) {
  std::string loc = where;
  if (at.IsDefined() && at.Mark().line >= 0 && where.rfind("--set", 0) != 0)
    loc += ":" + std::to_string(at.Mark().line + 1);
  return loc + ": key '" + path + "'";
}

std::string show(const YAML::Node& v) {
  std::string s = YAML::Dump(v);
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

[[noreturn]] void bad_value(const ConfigKey& k, const YAML::Node& v, const std::string& loc) {
  throw ConfigError(loc + ": expected " + describe_expected(k) + ", got '" + show(v) + "'");
}

bool in_range(const ConfigKey& k, double x) {
  if (std::isnan(x)) return false;
  if (k.min_exclusive ? !(x > k.min) : !(x >= k.min)) return false;
  if (k.max_exclusive ? !(x < k.max) : !(x <= k.max)) return false;
  return true;
}

// Checks one value against its key; `loc` names where it came from.
void check_value(const ConfigKey& k, const YAML::Node& v, const std::string& loc) {
  if (v.IsNull()) {
    // An explicit null means "unset"; only keys without a default may be unset.
    if (k.default_yaml.empty() && !k.required) return;
    bad_value(k, v, loc);
  }
  switch (k.kind) {
    case ConfigKind::Int: {
      int64_t x = 0;
      if (!v.IsScalar() || !YAML::convert<int64_t>::decode(v, x)) bad_value(k, v, loc);
      if (!in_range(k, static_cast<double>(x))) bad_value(k, v, loc);
      return;
    }
    case ConfigKind::Float: {
      double x = 0;
      if (!v.IsScalar() || !YAML::convert<double>::decode(v, x) || !std::isfinite(x))
        bad_value(k, v, loc);
      if (!in_range(k, x)) bad_value(k, v, loc);
      return;
    }
    case ConfigKind::Bool: {
      bool b = false;
      if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b)) bad_value(k, v, loc);
      return;
    }
    case ConfigKind::String:
      if (!v.IsScalar() || v.Scalar().empty()) bad_value(k, v, loc);
      return;
    case ConfigKind::Choice: {
      if (!v.IsScalar()) bad_value(k, v, loc);
      for (const auto& c : k.choices)
        if (c == v.Scalar()) return;
      const std::string near = closest_match(v.Scalar(), k.choices);
      throw ConfigError(loc + ": '" + v.Scalar() + "' is not " + describe_expected(k) +
                        (near.empty() ? "" : " (did you mean '" + near + "'?)"));
    }
    case ConfigKind::FloatList: {
      if (!v.IsSequence() || v.size() == 0) bad_value(k, v, loc);
      for (const auto& e : v) {
        double x = 0;
        if (!e.IsScalar() || !YAML::convert<double>::decode(e, x) || !std::isfinite(x))
          bad_value(k, v, loc);
      }
      return;
    }
    case ConfigKind::IntList: {
      if (!v.IsSequence()) bad_value(k, v, loc);
      for (const auto& e : v) {
        int64_t x = 0;
        if (!e.IsScalar() || !YAML::convert<int64_t>::decode(e, x) || x < 0) bad_value(k, v, loc);
      }
      return;
    }
    case ConfigKind::StringList: {
      if (!v.IsSequence() || v.size() == 0) bad_value(k, v, loc);
      for (const auto& e : v)
        if (!e.IsScalar() || e.Scalar().empty()) bad_value(k, v, loc);
      return;
    }
    case ConfigKind::Model:
      if (!v.IsMap()) bad_value(k, v, loc);
      return;
  }
}

[[noreturn]] void unknown_key(const std::string& section, const std::string& name,
                              const std::string& loc) {
  const std::vector<std::string> known = config_children(section);
  const std::string near = suggest_config_child(section, name);
  const std::string full = section.empty() ? name : section + "." + name;
  std::string msg = loc + ": unknown key '" + full + "'";
  if (!near.empty()) msg += "; did you mean '" + near + "'?";
  msg += " (known keys" + (section.empty() ? std::string() : " in '" + section + "'") + ": " +
         join(known) + ")";
  throw ConfigError(msg);
}

// Walks a mapping at `section`, checking every key it holds.
void check_tree(const YAML::Node& node, const std::string& section, const std::string& where) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar())
      throw ConfigError(locate(where, it->first, section.empty() ? "(top level)" : section) +
                        ": expected key names, got '" +
                        show(it->first) + "'");
    const std::string name = it->first.Scalar();
    const std::string path = section.empty() ? name : section + "." + name;
    const std::string loc = locate(where, it->first, path);
    if (const ConfigKey* k = find_config_key(path)) {
      check_value(*k, it->second, loc);
    } else if (is_config_section(path)) {
      if (it->second.IsNull()) continue;  // "augment:" with nothing below: all defaults
      if (!it->second.IsMap())
        throw ConfigError(loc + ": expected a mapping of keys (" + join(config_children(path)) +
                          "), got '" + show(it->second) + "'");
      check_tree(it->second, path, where);
    } else {
      unknown_key(section, name, loc);
    }
  }
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  return parts;
}

// The node at a dotted path, or an undefined node (IsDefined() false).
YAML::Node missing() { return YAML::Node(YAML::NodeType::Undefined); }
YAML::Node lookup(const YAML::Node& root, const std::string& path) {
  YAML::Node at;
  at.reset(root);  // reset, not '=': assigning a Node would overwrite the value it refers to
  for (const auto& part : split_path(path)) {
    if (!at.IsMap()) return missing();
    const YAML::Node& const_at = at;
    YAML::Node next = const_at[part];
    if (!next.IsDefined()) return missing();
    at.reset(next);
  }
  return at;
}

// Sets the value at a dotted path, creating (or replacing null) sections on the way.
void assign(YAML::Node& root, const std::string& path, const YAML::Node& value) {
  const std::vector<std::string> parts = split_path(path);
  YAML::Node at;
  at.reset(root);
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next = at[parts[i]];
    if (!next.IsMap()) {
      at[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next = at[parts[i]];
    }
    at.reset(next);
  }
  at[parts.back()] = value;
}

void apply_override(YAML::Node& root, const std::string& text) {
  const ConfigOverride o = parse_override(text);
  const std::string loc = "--set " + text + ": key '" + o.path + "'";
  const std::vector<std::string> parts = split_path(o.path);
  for (const auto& p : parts)
    if (p.empty()) throw ConfigError(loc + ": empty name in the key path");
  // Keys below `model` belong to the model description, which the graph builder checks.
  if (parts.size() > 1 && parts[0] == "model") {
    if (!lookup(root, "model").IsMap()) assign(root, "model", YAML::Node(YAML::NodeType::Map));
    assign(root, o.path, o.value);
    return;
  }
  if (const ConfigKey* k = find_config_key(o.path)) {
    check_value(*k, o.value, loc);
    assign(root, o.path, o.value);
    return;
  }
  // Unknown: find the deepest known section to suggest from.
  std::string section;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string candidate = section.empty() ? parts[i] : section + "." + parts[i];
    if (i + 1 < parts.size() && is_config_section(candidate)) {
      section = candidate;
      continue;
    }
    if (is_config_section(candidate))
      throw ConfigError(loc + ": '" + candidate + "' is a section; set one of its keys (" +
                        join(config_children(candidate)) + ")");
    unknown_key(section, parts[i], "--set " + text);
  }
}

template <typename T>
T get(const YAML::Node& root, const std::string& path) {
  return lookup(root, path).as<T>();
}

std::vector<float> get_floats(const YAML::Node& root, const std::string& path) {
  std::vector<float> out;
  const YAML::Node v = lookup(root, path);
  if (v.IsSequence())
    for (const auto& e : v) out.push_back(e.as<float>());
  return out;
}

std::vector<std::string> get_strings(const YAML::Node& root, const std::string& path) {
  std::vector<std::string> out;
  const YAML::Node v = lookup(root, path);
  if (v.IsSequence())
    for (const auto& e : v) out.push_back(e.Scalar());
  return out;
}

std::string get_optional_string(const YAML::Node& root, const std::string& path) {
  const YAML::Node v = lookup(root, path);
  return v.IsDefined() && v.IsScalar() ? v.Scalar() : "";
}

// Builds the resolved tree in schema order with every default filled in.
YAML::Node resolve(const YAML::Node& given, const std::string& where) {
  YAML::Node out(YAML::NodeType::Map);
  for (const auto& k : run_config_schema()) {
    const YAML::Node v = lookup(given, k.path);
    if (v.IsDefined() && !v.IsNull()) {
      // The model keeps its original nodes: their line numbers go into the graph's messages
      // (YAML::Clone would drop them).
      assign(out, k.path, k.kind == ConfigKind::Model ? v : YAML::Clone(v));
    } else if (k.required) {
      throw ConfigError(where + ": missing required key '" + k.path + "' (" + k.help + ")");
    } else if (!k.default_yaml.empty()) {
      assign(out, k.path, YAML::Load(k.default_yaml));
    } else {
      assign(out, k.path, YAML::Node(YAML::NodeType::Null));
    }
  }
  return out;
}

RunConfig extract(const YAML::Node& r, const std::string& where) {
  RunConfig c;
  c.source = where;
  c.resolved = r;
  c.model = lookup(r, "model");
  // Model keys are checked here like every other key, before the trainer opens any data.
  check_model_description(c.model, where);

  DataSection& d = c.data;
  d.train = get<std::string>(r, "data.train");
  d.val = get_optional_string(r, "data.val");
  d.train_split = get<std::string>(r, "data.train_split");
  d.val_split = get<std::string>(r, "data.val_split");
  d.image_size = get<int64_t>(r, "data.image_size");
  d.batch_size = get<int64_t>(r, "data.batch_size");
  d.eval_batch_size = get<int64_t>(r, "data.eval_batch_size");
  if (d.eval_batch_size == 0) d.eval_batch_size = d.batch_size;
  d.workers = static_cast<int>(get<int64_t>(r, "data.workers"));
  d.max_skipped_fraction = get<double>(r, "data.max_skipped_fraction");
  d.mean = get_floats(r, "data.mean");
  d.std = get_floats(r, "data.std");
  if (!d.mean.empty() && !d.std.empty() && d.mean.size() != d.std.size())
    throw ConfigError(where + ": keys 'data.mean' and 'data.std' have different lengths (" +
                      std::to_string(d.mean.size()) + " and " + std::to_string(d.std.size()) +
                      ")");
  for (float s : d.std)
    if (!(s > 0)) throw ConfigError(where + ": key 'data.std': every value must be > 0");
  d.class_names = get_strings(r, "data.class_names");
  // Names key the per-class results (eval --json), so two classes may not share one.
  for (size_t i = 0; i < d.class_names.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (d.class_names[i] == d.class_names[j])
        throw ConfigError(locate(where, lookup(r, "data.class_names"), "data.class_names") +
                          ": '" + d.class_names[i] + "' is given twice (classes " +
                          std::to_string(j) + " and " + std::to_string(i) + ")");
  d.resize_ratio = get<double>(r, "data.resize_ratio");
  d.random_resized_crop = get<bool>(r, "data.augment.random_resized_crop");
  d.scale_min = get<double>(r, "data.augment.scale_min");
  d.scale_max = get<double>(r, "data.augment.scale_max");
  if (d.scale_min > d.scale_max)
    throw ConfigError(where + ": key 'data.augment.scale_min' (" + std::to_string(d.scale_min) +
                      ") is larger than 'data.augment.scale_max' (" +
                      std::to_string(d.scale_max) + ")");
  d.hflip = get<bool>(r, "data.augment.hflip");
  d.pad_crop = get<int64_t>(r, "data.augment.pad_crop");
  d.color_jitter = get<double>(r, "data.augment.color_jitter");
  d.random_erasing = get<double>(r, "data.augment.random_erasing");

  OptimSection& o = c.optim;
  o.type = get<std::string>(r, "optim.type");
  o.lr = get<double>(r, "optim.lr");
  o.momentum = get<double>(r, "optim.momentum");
  o.nesterov = get<bool>(r, "optim.nesterov");
  o.weight_decay = get<double>(r, "optim.weight_decay");
  o.beta1 = get<double>(r, "optim.beta1");
  o.beta2 = get<double>(r, "optim.beta2");
  o.eps = get<double>(r, "optim.eps");
  o.no_decay_bn_bias = get<bool>(r, "optim.no_decay_bn_bias");
  if (o.nesterov && o.type == "sgd" && o.momentum == 0)
    throw ConfigError(where + ": key 'optim.nesterov': Nesterov momentum needs optim.momentum > 0");

  ScheduleSection& s = c.schedule;
  s.type = get<std::string>(r, "schedule.type");
  s.warmup_epochs = get<double>(r, "schedule.warmup_epochs");
  s.min_lr = get<double>(r, "schedule.min_lr");
  for (const auto& e : lookup(r, "schedule.milestones")) s.milestones.push_back(e.as<int64_t>());
  s.step_epochs = get<double>(r, "schedule.step_epochs");
  s.gamma = get<double>(r, "schedule.gamma");
  s.pct_start = get<double>(r, "schedule.pct_start");

  TrainSection& t = c.train;
  t.epochs = get<int64_t>(r, "train.epochs");
  t.precision = get<std::string>(r, "train.precision");
  t.seed = static_cast<uint64_t>(get<int64_t>(r, "train.seed"));
  t.grad_accum = get<int64_t>(r, "train.grad_accum");
  t.grad_clip = get<double>(r, "train.grad_clip");
  t.label_smoothing = get<double>(r, "train.label_smoothing");
  t.eval_every_epochs = get<int64_t>(r, "train.eval_every_epochs");
  t.max_bad_steps = get<int64_t>(r, "train.max_bad_steps");
  t.device = get<std::string>(r, "train.device");
  t.threads = get<int64_t>(r, "train.threads");
  t.deterministic = get<bool>(r, "train.deterministic");
  t.allow_tf32 = get<bool>(r, "train.allow_tf32");
  t.cuda_graphs = get<bool>(r, "train.cuda_graphs");
  t.channels_last = get<bool>(r, "train.channels_last");
  t.allreduce_overlap = get<bool>(r, "train.allreduce_overlap");
  t.sync_batchnorm = get<bool>(r, "train.sync_batchnorm");
  t.allreduce_dtype = get<std::string>(r, "train.allreduce_dtype");
  if (s.warmup_epochs >= static_cast<double>(t.epochs) && s.type != "constant" && s.warmup_epochs > 0)
    throw ConfigError(where + ": key 'schedule.warmup_epochs': " + YAML::Dump(lookup(r, "schedule.warmup_epochs")) +
                      " warm-up epochs leave nothing of " + std::to_string(t.epochs) +
                      " training epochs (train.epochs); use fewer warm-up epochs");

  CheckpointSection& k = c.checkpoint;
  k.every_epochs = get<int64_t>(r, "checkpoint.every_epochs");
  k.every_steps = get<int64_t>(r, "checkpoint.every_steps");
  k.keep = get<int64_t>(r, "checkpoint.keep");
  k.best_metric = get<std::string>(r, "checkpoint.best_metric");

  LoggingSection& l = c.logging;
  l.every_steps = get<int64_t>(r, "logging.every_steps");
  l.tensorboard = get<bool>(r, "logging.tensorboard");
  l.progress = get<std::string>(r, "logging.progress");
  return c;
}

}  // namespace

std::string RunConfig::resolved_yaml() const {
  YAML::Emitter out;
  out << resolved;
  return std::string(out.c_str()) + "\n";
}

RunConfig parse_run_config(const std::string& yaml_text, const std::string& where,
                           const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(where + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap())
    throw ConfigError(where + ": expected a mapping of sections (" + join(config_children("")) +
                      ") at the top level");
  check_tree(root, "", where);
  for (const auto& o : overrides) apply_override(root, o);
  YAML::Node resolved = resolve(root, where);
  // The default warm-up (1 epoch) must not make short runs (train.epochs: 1) an error: only an
  // explicit warm-up that leaves no training is one.
  // The same for onecycle, which has its own warm-up phase (schedule.pct_start).
  const YAML::Node warmup_given = lookup(root, "schedule.warmup_epochs");
  const bool onecycle = resolved["schedule"]["type"].as<std::string>() == "onecycle";
  if (!warmup_given.IsDefined() &&
      (onecycle || resolved["schedule"]["warmup_epochs"].as<double>() >= resolved["train"]["epochs"].as<double>()))
    resolved["schedule"]["warmup_epochs"] = 0;
  if (onecycle && warmup_given.IsDefined() && warmup_given.as<double>() > 0)
    throw ConfigError(locate(where, warmup_given, "schedule.warmup_epochs") +
                      ": the onecycle schedule has its own warm-up (schedule.pct_start); remove "
                      "warmup_epochs or set it to 0");
  return extract(resolved, where);
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open the config file (does it exist?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_run_config(ss.str(), path, overrides);
}

}  // namespace te
