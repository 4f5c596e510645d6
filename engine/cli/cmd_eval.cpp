// `trainer eval --checkpoint CKPT|RUN_DIR --data DIR [--json]`: loss, top-1 accuracy and
// accuracy per class of a trained model on a data set.
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
#include "engine/core/error.h"
#include "engine/data/dataset.h"
#include "engine/data/loader.h"
#include "engine/train/evaluate.h"
#include "engine/train/model_info.h"
#include "engine/train/predict.h"
#include "engine/train/run_dir.h"

namespace te::cli {
namespace {

struct EvalOptions {
  std::string checkpoint, data, split = "test", device = "auto";
  int64_t batch_size = 128;
  int workers = 0;
  bool json = false;
};

int run_eval(const EvalOptions& o) {
  if (o.json) spdlog::set_level(spdlog::level::warn);  // stdout carries only the JSON
  const std::string weights = resolve_weights_path(o.checkpoint);
  LoadedModel model = load_model(weights, Device::cpu());
  model.graph->to(select_device(o.device, model.info.model));
  auto data = open_dataset(o.data, DatasetOptions{o.split});
  if (data->class_names() != model.info.class_names) {
    if (data->class_names().size() != model.info.class_names.size())
      throw DataError("--data " + o.data + " has " + std::to_string(data->class_names().size()) +
                      " classes, the model was trained on " +
                      std::to_string(model.info.class_names.size()));
    // Data that only numbers its classes (IDX) against a model that names them
    // (data.class_names) is the expected case, not worth a warning.
    bool numbered = true;
    for (size_t c = 0; c < data->class_names().size(); ++c)
      numbered = numbered && data->class_names()[c] == std::to_string(c);
    if (!numbered)
      spdlog::warn("class names of {} differ from the model's; comparing labels by index", o.data);
  }
  LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.workers = o.workers;
  lo.shuffle = false;
  lo.drop_last = false;
  DataLoader loader(data, eval_transform(model.info), lo);
  EvalResult r = evaluate(*model.graph, loader, model.info.mean, model.info.std);
  // Report under the checkpoint's names (its data.class_names), which the counts check above
  // lines up index by index with the data's labels.
  if (r.class_names.size() == model.info.class_names.size()) r.class_names = model.info.class_names;

  if (o.json) {
    nlohmann::json j = {{"checkpoint", weights}, {"data", o.data},         {"images", r.images},
                        {"correct", r.correct},  {"accuracy", r.accuracy}, {"loss", r.loss},
                        {"images_per_s", r.images_per_s}};
    nlohmann::json per_class = nlohmann::json::object();
    for (size_t c = 0; c < r.class_names.size(); ++c)
      per_class[r.class_names[c]] = {
          {"images", r.class_total[c]},
          {"correct", r.class_correct[c]},
          {"accuracy", r.class_total[c] ? static_cast<double>(r.class_correct[c]) / r.class_total[c] : 0.0}};
    j["per_class"] = per_class;
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << fmt::format("checkpoint {}\ndata       {} ({} images)\naccuracy   {:.4f} ({}/{})\nloss       {:.4f}\n",
                           weights, o.data, r.images, r.accuracy, r.correct, r.images, r.loss);
  std::cout << "per class:\n";
  for (size_t c = 0; c < r.class_names.size(); ++c)
    std::cout << fmt::format("  {:<20} {:.4f} ({}/{})\n", r.class_names[c],
                             r.class_total[c] ? static_cast<double>(r.class_correct[c]) / r.class_total[c] : 0.0,
                             r.class_correct[c], r.class_total[c]);
  return 0;
}

}  // namespace

void register_eval(CLI::App& app, std::vector<std::pair<CLI::App*, std::function<int()>>>& runners) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a trained model on a data set");
  cmd->add_option("--checkpoint", o->checkpoint, "Weights file or run directory (its best weights)")->required();
  cmd->add_option("--data", o->data, "Data set: class folders, IDX directory or shards")->required();
  cmd->add_option("--split", o->split, "Split of an IDX directory (train or test)")->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "Images per batch")->capture_default_str();
  cmd->add_option("--workers", o->workers, "Loader threads (0: all cores)")->capture_default_str();
  cmd->add_option("--device", o->device, "cpu, cuda[:N] or auto")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print one JSON object");
  runners.emplace_back(cmd, [o] { return run_eval(*o); });
}

}  // namespace te::cli
