#include "engine/graph/model_spec.h"

#include <cmath>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/suggest.h"
#include "engine/graph/presets.h"

namespace te {

std::string yaml_location(const std::string& where, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0) return where;
  return (where.empty() ? "line " : where + ":") + std::to_string(mark.line + 1);
}

namespace {

const std::vector<std::string> kKeys = {"preset", "num_classes", "in_channels", "width", "layers"};

[[noreturn]] void fail(const std::string& where, const YAML::Node& at, const std::string& key,
                       const std::string& message) {
  // The same shape as the run config's messages: "file:line: key 'model.X': ...".
  throw ConfigError(yaml_location(where, at) + ": key 'model." + key + "': " + message);
}

int64_t positive_int(const YAML::Node& model, const std::string& key, const std::string& where) {
  const YAML::Node v = model[key];
  int64_t x = 0;
  try {
    x = v.as<int64_t>();
  } catch (const YAML::Exception&) {
    fail(where, v, key, "expected a positive integer, got '" + YAML::Dump(v) + "'");
  }
  if (x <= 0) fail(where, v, key, "expected a positive integer, got " + std::to_string(x));
  return x;
}

}  // namespace

ModelSpec parse_model_section(const YAML::Node& model, const std::string& where,
                              bool require_num_classes) {
  if (!model || !model.IsMap())
    throw ConfigError(yaml_location(where, model) +
                      ": `model` must be a mapping with either `preset` (one of " +
                      join(preset_names()) + ") or `layers` (a list of layers)");
  for (const auto& kv : model) {
    if (!kv.first.IsScalar())
      throw ConfigError(yaml_location(where, kv.first) + ": model: expected key names (" +
                        join(kKeys) + "), got '" + YAML::Dump(kv.first) + "'");
    const std::string key = kv.first.Scalar();
    bool known = false;
    for (const auto& k : kKeys) known |= (k == key);
    if (known) continue;
    const std::string guess = closest_match(key, kKeys);
    fail(where, kv.first, key,
         "unknown key" + (guess.empty() ? "" : "; did you mean '" + guess + "'?") +
             " (known keys: " + join(kKeys) + ")");
  }

  ModelSpec spec;
  spec.where = where;
  if (model["in_channels"]) spec.in_channels = positive_int(model, "in_channels", where);
  if (model["num_classes"]) spec.num_classes = positive_int(model, "num_classes", where);
  if (model["width"]) {
    const YAML::Node v = model["width"];
    try {
      spec.width = v.as<double>();
    } catch (const YAML::Exception&) {
      fail(where, v, "width", "expected a number, got '" + YAML::Dump(v) + "'");
    }
    if (!(spec.width > 0.0) || spec.width > 16.0)
      fail(where, v, "width", "expected a channel multiplier in (0, 16], got " + YAML::Dump(v));
  }

  const bool has_preset = static_cast<bool>(model["preset"]);
  const bool has_layers = static_cast<bool>(model["layers"]);
  if (has_preset == has_layers)
    throw ConfigError(yaml_location(where, model) + ": `model` needs exactly one of `preset` (" +
                      join(preset_names()) + ") and `layers` (a list of layers)" +
                      (has_preset ? ", not both" : ""));

  if (has_layers) {
    spec.layers = model["layers"];
    if (!spec.layers.IsSequence() || spec.layers.size() == 0)
      fail(where, spec.layers, "layers", "expected a non-empty list of layer mappings");
    if (model["width"])
      fail(where, model["width"], "width", "applies only to presets, not to a `layers` list");
    return spec;
  }

  const YAML::Node p = model["preset"];
  if (!p.IsScalar()) fail(where, p, "preset", "expected a preset name (" + join(preset_names()) + ")");
  spec.preset = p.as<std::string>();
  if (spec.num_classes < 0 && require_num_classes)
    fail(where, model, "num_classes", "required with a preset (the number of classes to predict)");
  const int64_t classes = spec.num_classes > 0 ? spec.num_classes : 2;  // stand-in: any count
  if (model["width"] && spec.width != 1.0 && !preset_accepts_width(spec.preset))
    fail(where, model["width"], "width", "preset '" + spec.preset + "' has a fixed width");
  try {
    spec.layers = preset_layers(spec.preset, {classes, spec.in_channels, spec.width});
  } catch (const ConfigError& e) {
    throw ConfigError(yaml_location(where, p) + ": model.preset: " + e.what());
  }
  spec.where = where + " (preset " + spec.preset + ")";
  return spec;
}

}  // namespace te
