// `trainer predict --checkpoint CKPT|RUN_DIR [--json] IMAGE...`: the class and its probability
// for each image.
#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/cli/device_select.h"
#include "engine/train/model_info.h"
#include "engine/train/predict.h"
#include "engine/train/run_dir.h"

namespace te::cli {
namespace {

struct PredictOptions {
  std::string checkpoint, device = "auto";
  std::vector<std::string> images;
  int64_t top = 1;
  bool json = false;
};

int run_predict(const PredictOptions& o) {
  if (o.json) spdlog::set_level(spdlog::level::warn);
  const std::string weights = resolve_weights_path(o.checkpoint);
  LoadedModel model = load_model(weights, Device::cpu());
  model.graph->to(select_device(o.device, model.info.model));
  const std::vector<Prediction> preds = predict_files(model, o.images, o.top);
  const auto& names = model.info.class_names;
  int failures = 0;
  nlohmann::json all = nlohmann::json::array();
  for (const Prediction& p : preds) {
    if (!p.error.empty()) {
      ++failures;
      if (o.json)
        all.push_back({{"image", p.image}, {"error", p.error}});
      else
        std::cerr << p.image << ": error: " << p.error << "\n";
      continue;
    }
    if (o.json) {
      nlohmann::json top = nlohmann::json::array();
      for (const auto& [cls, prob] : p.top) top.push_back({{"class", names[cls]}, {"index", cls}, {"probability", prob}});
      all.push_back({{"image", p.image}, {"class", names[p.top[0].first]},
                     {"probability", p.top[0].second}, {"top", top}});
    } else {
      std::string line = fmt::format("{}: {} ({:.4f})", p.image, names[p.top[0].first], p.top[0].second);
      for (size_t k = 1; k < p.top.size(); ++k)
        line += fmt::format(", {} ({:.4f})", names[p.top[k].first], p.top[k].second);
      std::cout << line << "\n";
    }
  }
  if (o.json) std::cout << all.dump() << "\n";
  return failures ? 1 : 0;
}

}  // namespace

void register_predict(CLI::App& app, std::vector<std::pair<CLI::App*, std::function<int()>>>& runners) {
  auto o = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand("predict", "Classify image files with a trained model");
  cmd->add_option("--checkpoint", o->checkpoint, "Weights file or run directory (its best weights)")->required();
  cmd->add_option("--top", o->top, "Show the K most probable classes")->capture_default_str();
  cmd->add_option("--device", o->device, "cpu, cuda[:N] or auto")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print a JSON array");
  cmd->add_option("images", o->images, "Image files (JPEG or PNG)")->required();
  runners.emplace_back(cmd, [o] { return run_predict(*o); });
}

}  // namespace te::cli
