// `trainer info --config FILE [--batch N]`: builds the config's model and prints the layer table
// (name, type, output shape, parameters), the parameter count and the activation memory at a
// batch size, without a GPU. Only the `model:` section is required; data.image_size (default
// 224) and data.batch_size (default 64) are used when present. Like the trainer, a preset
// without model.num_classes (or model.in_channels) takes it from the training data (data.train).
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/error.h"
#include "engine/data/dataset.h"
#include "engine/graph/graph.h"
#include "engine/graph/model_spec.h"

namespace te::cli {
namespace {

YAML::Node load_yaml(const std::string& path) {
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ConfigError(path + ": cannot open the config file");
  } catch (const YAML::ParserException& e) {
    throw ConfigError(path + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
}

// data.<key> as a positive integer, or `fallback` when absent.
int64_t data_int(const YAML::Node& root, const std::string& key, int64_t fallback,
                 const std::string& path) {
  const YAML::Node data = root["data"];
  if (!data || !data.IsMap() || !data[key]) return fallback;
  const YAML::Node v = data[key];
  int64_t x = 0;
  try {
    x = v.as<int64_t>();
  } catch (const YAML::Exception&) {
    x = 0;
  }
  if (x <= 0)
    throw ConfigError(yaml_location(path, v) + ": data." + key +
                      ": expected a positive integer, got '" + YAML::Dump(v) + "'");
  return x;
}

// Fills model.num_classes (presets need it) and model.in_channels from data.train when absent,
// as the trainer does, so the table shows the model that training would build.
YAML::Node complete_from_data(const YAML::Node& root, const std::string& path) {
  YAML::Node model = YAML::Clone(root["model"]);
  if (!model.IsMap()) return model;
  const bool need_classes = model["preset"] && !model["num_classes"];
  if (!need_classes && model["in_channels"]) return model;
  const YAML::Node data = root["data"];
  if (!data || !data.IsMap() || !data["train"]) {
    if (need_classes)
      throw ConfigError(yaml_location(path, root["model"]) +
                        ": model.num_classes is needed (or data.train, to count the classes)");
    return model;
  }
  const auto set = open_dataset(data["train"].as<std::string>());
  if (need_classes) model["num_classes"] = static_cast<int64_t>(set->class_names().size());
  if (!model["in_channels"] && set->size() > 0) {
    SampleData sample;
    set->read(0, sample);
    if (sample.kind == SampleData::Kind::Pixels) model["in_channels"] = sample.channels;
  }
  return model;
}

// train.precision (fp32, bf16, fp16) as the activations' dtype; fp32 when absent.
DType compute_dtype(const YAML::Node& root, const std::string& path) {
  const YAML::Node train = root["train"];
  if (!train || !train.IsMap() || !train["precision"]) return DType::F32;
  const YAML::Node v = train["precision"];
  const std::string p = v.IsScalar() ? v.as<std::string>() : "";
  if (p == "fp32") return DType::F32;
  if (p == "bf16") return DType::BF16;
  if (p == "fp16") return DType::F16;
  throw ConfigError(yaml_location(path, v) + ": train.precision: expected fp32, bf16 or fp16, got '" +
                    YAML::Dump(v) + "'");
}

int run_info(const std::string& path, int64_t batch) {
  const YAML::Node root = load_yaml(path);
  if (!root.IsMap() || !root["model"])
    throw ConfigError(path + ": needs a `model:` section, e.g. {preset: resnet18, num_classes: "
                             "1000, in_channels: 3}");
  const YAML::Node model = complete_from_data(root, path);
  const ModelSpec spec = parse_model_section(model, path);
  const int64_t size = data_int(root, "image_size", 224, path);
  if (batch <= 0) batch = data_int(root, "batch_size", 64, path);
  GraphOptions options;
  options.initialize = false;  // the table needs shapes, not values
  if (const DType c = compute_dtype(root, path); c != DType::F32) options.compute_dtype = c;
  const auto graph = Graph::build(model, path, {spec.in_channels, size, size}, options);
  std::cout << "model: " << (spec.preset.empty() ? "layers from " + path : spec.preset)
            << ", input " << Shape{spec.in_channels, size, size}.str() << ", output "
            << graph->output_shape(batch).str() << " at batch " << batch << "\n\n"
            << graph->summary(batch);
  // The static memory plan per batch size, for training and for inference (eval, predict).
  options.inference_only = true;
  const auto inference = Graph::build(model, path, {spec.in_channels, size, size}, options);
  std::set<int64_t> batches = {1, 8, 32, 64, 128, 256, batch};
  std::cout << "\nmemory plan (MiB; activations and their gradients in " << dtype_name(graph->compute_dtype())
            << ", one arena each):\n"
            << fmt::format("{:>6}  {:>14}  {:>13}  {:>15}  {:>15}\n", "batch", "training arena",
                           "without reuse", "saved by layers", "inference arena");
  const double mib = 1.0 / (1 << 20);
  for (int64_t b : batches) {
    const GraphMemory t = graph->memory_at(b), i = inference->memory_at(b);
    std::cout << fmt::format("{:>6}  {:>14.1f}  {:>13.1f}  {:>15.1f}  {:>15.1f}\n", b,
                             t.arena_bytes * mib, t.unplanned_bytes * mib, t.saved_bytes * mib,
                             i.arena_bytes * mib);
  }
  return 0;
}

}  // namespace

void register_info(CLI::App& app, std::vector<std::pair<CLI::App*, std::function<int()>>>& runners) {
  struct Args {
    std::string config;
    int64_t batch = 0;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "info", "Print a config's model: layers, output shapes, parameters, activation memory");
  cmd->add_option("--config", args->config, "YAML config with a `model:` section")->required();
  cmd->add_option("--batch", args->batch,
                  "Batch size for the memory estimate (default: data.batch_size, else 64)")
      ->check(CLI::PositiveNumber);
  runners.emplace_back(cmd, [args]() { return run_info(args->config, args->batch); });
}

}  // namespace te::cli
