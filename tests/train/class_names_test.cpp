// data.class_names end to end: the names reach the checkpoint and `trainer eval`, and a list
// of the wrong length is a ConfigError naming both counts.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "engine/config/run_config.h"
#include "engine/core/error.h"
#include "engine/train/model_info.h"
#include "engine/train/run_dir.h"
#include "engine/train/trainer.h"
#include "train_fixture.h"

namespace te {
namespace {
using namespace te::testing;

const std::string& data_root() {
  static const std::string root = [] {
    const std::string dir = fresh_dir("names_data");
    make_color_dataset(dir, 16, 8, 16, 11);  // folders blue, green, red: labels 0, 1, 2
    return dir;
  }();
  return root;
}

TrainSummary train(const std::string& run_dir, const std::vector<std::string>& overrides) {
  spdlog::set_level(spdlog::level::warn);
  TrainerOptions o;
  o.run_dir = run_dir;
  const std::string yaml = tiny_config(data_root(), "train: {epochs: 1}\nlogging: {tensorboard: false}\n");
  Trainer trainer(parse_run_config(yaml, "tiny.yaml", overrides), o);
  return trainer.run();
}

TEST(ClassNames, ConfigNamesGoIntoTheCheckpointAndEval) {
  const std::string run = fresh_dir("names_run");
  const std::vector<std::string> names = {"azure", "lime green", "crimson"};
  train(run, {"data.class_names=[azure, lime green, crimson]", "train.device=cpu"});

  const LoadedModel m = load_model(RunPaths{run}.best_weights(), Device::cpu());
  EXPECT_EQ(m.info.class_names, names);

  // `trainer eval` on the folder data reports under the checkpoint's names, label by label.
  const CommandResult e = run_command({trainer_binary(), "eval", "--checkpoint", run, "--data",
                                       data_root() + "/val", "--json", "--device", "cpu"});
  ASSERT_EQ(e.exit_code, 0) << e.output;
  const auto j = nlohmann::json::parse(e.output.substr(e.output.find('{')));
  ASSERT_EQ(j["per_class"].size(), 3u) << j.dump();
  for (const auto& n : names) {
    ASSERT_TRUE(j["per_class"].contains(n)) << j.dump();
    EXPECT_EQ(j["per_class"][n]["images"].get<int>(), 8) << j.dump();
  }
  EXPECT_FALSE(j["per_class"].contains("red")) << j.dump();
}

TEST(ClassNames, WrongCountIsAConfigError) {
  const std::string run = fresh_dir("names_wrong");
  try {
    train(run, {"data.class_names=[a, b, c, d]", "train.device=cpu"});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("data.class_names"), std::string::npos) << msg;
    EXPECT_NE(msg.find("lists 4 names but the training data has 3 classes"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace te
