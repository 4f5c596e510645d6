// End to end on a tiny generated image set, through the library: the loss falls, checkpoints
// and metrics are written, a resumed run is byte-identical to an uninterrupted one, and
// non-finite steps are skipped and then stop the run.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/config/run_config.h"
#include "engine/io/safetensors.h"
#include "engine/train/interrupt.h"
#include "engine/train/run_dir.h"
#include "engine/train/trainer.h"
#include "train_fixture.h"

namespace te {
namespace {
namespace fs = std::filesystem;
using namespace te::testing;

const std::string& data_root() {
  static const std::string root = [] {
    const std::string dir = fresh_dir("data");
    make_color_dataset(dir, 48, 16, 16, 7);
    return dir;
  }();
  return root;
}

std::vector<nlohmann::json> read_records(const std::string& path, const std::string& type) {
  std::vector<nlohmann::json> out;
  std::istringstream in(read_text(path));
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j.at("type") == type) out.push_back(j);
  }
  return out;
}

TrainSummary train(const std::string& yaml, const std::string& run_dir, bool resume = false,
                   int64_t stop_at_step = 0, const std::vector<std::string>& overrides = {}) {
  TrainerOptions o;
  o.run_dir = run_dir;
  o.resume = resume;
  o.stop_at_step = stop_at_step;
  Trainer trainer(parse_run_config(yaml, "tiny.yaml", overrides), o);
  return trainer.run();
}

class TrainLoop : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::warn);
    request_stop(0);
  }
  void TearDown() override { request_stop(0); }
};

TEST_F(TrainLoop, LossFallsAndEverythingIsWritten) {
  const std::string run = fresh_dir("basic");
  const std::string yaml = tiny_config(
      data_root(), "optim: {lr: 0.05}\ntrain: {epochs: 4, seed: 3}\n"
                   "checkpoint: {keep: 2}\nlogging: {every_steps: 2, tensorboard: true}\n");
  const TrainSummary s = train(yaml, run);
  EXPECT_EQ(s.epochs, 4);
  EXPECT_EQ(s.steps, 4 * 9);  // 144 images / 16 per batch
  EXPECT_TRUE(s.validated);
  EXPECT_GT(s.val_accuracy, 0.8) << "colour classes are easy; the model did not learn";

  const RunPaths paths{run};
  const auto epochs = read_records(paths.metrics(), "epoch");
  ASSERT_EQ(epochs.size(), 4u);
  for (const auto& e : epochs)
    for (const char* key : {"epoch", "train_loss", "val_loss", "val_accuracy", "lr", "images_per_s"})
      EXPECT_TRUE(e.contains(key)) << key << " missing in " << e.dump();
  EXPECT_LT(epochs.back()["train_loss"].get<double>(), epochs.front()["train_loss"].get<double>());
  EXPECT_LT(epochs.back()["val_loss"].get<double>(), epochs.front()["val_loss"].get<double>());
  const auto steps = read_records(paths.metrics(), "step");
  EXPECT_EQ(steps.size(), 18u);  // every 2 of 36 steps
  EXPECT_GT(steps.front()["lr"].get<double>(), 0);
  // Without clipping the norm is computed on the logged steps only, and each logged step has one.
  for (const auto& st : steps) {
    ASSERT_TRUE(st.contains("grad_norm")) << st.dump();
    EXPECT_TRUE(st["grad_norm"].is_number() && st["grad_norm"].get<double>() > 0) << st.dump();
  }

  // Checkpoints: the newest two (keep: 2) with their state, plus the best weights.
  const auto ckpts = list_checkpoints(paths);
  ASSERT_EQ(ckpts.size(), 2u);
  EXPECT_EQ(ckpts.back().epoch, 4);
  EXPECT_EQ(ckpts.back().step, 36);
  EXPECT_TRUE(fs::exists(paths.best_weights()));
  EXPECT_TRUE(fs::exists(paths.config()));
  EXPECT_FALSE(fs::is_empty(paths.tensorboard()));
  // The resolved config documents the run, including what was taken from the data.
  const std::string resolved = read_text(paths.config());
  EXPECT_NE(resolved.find("num_classes: 3"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("label_smoothing: 0.1"), std::string::npos) << resolved;
  // Weights carry torchvision-style names and the model description.
  std::map<std::string, std::string> meta;
  const auto tensors = load_safetensors(ckpts.back().weights, &meta);
  std::vector<std::string> names;
  for (const auto& t : tensors) names.push_back(t.name);
  for (const char* n : {"conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked", "fc.bias"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_TRUE(meta.count("te.model"));
  EXPECT_NE(meta["te.class_names"].find("green"), std::string::npos);

  // The same run directory is not silently reused.
  EXPECT_THROW(train(yaml, run), IoError);
}

TEST_F(TrainLoop, ResumeGivesByteIdenticalWeights) {
  // Gradient accumulation, clipping, dropout and momentum: every piece of state must survive.
  const std::string yaml = tiny_config(
      data_root(), "optim: {lr: 0.05, nesterov: true}\nschedule: {type: cosine, warmup_epochs: 1}\n"
                   "train: {epochs: 3, seed: 11, grad_accum: 2, grad_clip: 0.5}\n"
                   "logging: {tensorboard: false}\n");
  const std::string full = fresh_dir("full");
  const TrainSummary s = train(yaml, full);
  ASSERT_EQ(s.steps, 12);  // 9 batches -> 4 steps of 2 per epoch
  const CheckpointFiles last = checkpoint_files(RunPaths{full}, 3, 12);
  const std::string want_weights = read_text(last.weights);
  const std::string want_state = read_text(last.state);
  ASSERT_FALSE(want_weights.empty());

  // Interrupt mid-epoch, at an epoch's last step, and right after an epoch started.
  for (int64_t stop : {2, 4, 5}) {
    SCOPED_TRACE("stopped after step " + std::to_string(stop));
    const std::string run = fresh_dir("resumed" + std::to_string(stop));
    try {
      train(yaml, run, false, stop);
      FAIL() << "expected Interrupted";
    } catch (const Interrupted& e) {
      EXPECT_EQ(e.exit_code(), 143);
      EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos) << e.what();
    }
    request_stop(0);
    const auto saved = latest_checkpoint(RunPaths{run});
    ASSERT_TRUE(saved.has_value());
    EXPECT_EQ(saved->step, stop);
    train(yaml, run, true);
    const CheckpointFiles got = checkpoint_files(RunPaths{run}, 3, 12);
    EXPECT_TRUE(read_text(got.weights) == want_weights) << "weights differ from the uninterrupted run";
    EXPECT_TRUE(read_text(got.state) == want_state) << "optimizer state differs";
    // Epoch records: one per epoch across both processes.
    EXPECT_EQ(read_records(RunPaths{run}.metrics(), "epoch").size(), 3u);
  }
}

TEST_F(TrainLoop, ResumeNeedsACheckpoint) {
  const std::string run = fresh_dir("noresume");
  EXPECT_THROW(train(tiny_config(data_root()), run, true), IoError);
}

TEST_F(TrainLoop, NonFiniteStepsAreSkippedThenTheRunStops) {
  const std::string run = fresh_dir("diverge");
  // A learning rate this large overflows the weights after the first step.
  const std::string yaml = tiny_config(
      data_root(), "optim: {lr: 1.0e+37, momentum: 0}\nschedule: {type: constant, warmup_epochs: 0}\n"
                   "train: {epochs: 3, max_bad_steps: 3}\nlogging: {every_steps: 1, tensorboard: false}\n");
  try {
    train(yaml, run);
    FAIL() << "expected TrainingDiverged";
  } catch (const TrainingDiverged& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("3 consecutive steps"), std::string::npos) << msg;
    EXPECT_NE(msg.find("lower"), std::string::npos) << msg;
    EXPECT_NE(msg.find("optim.lr"), std::string::npos) << msg;
  }
  // The steps before the explosion were logged with finite losses; the skipped ones not at all.
  const auto steps = read_records(RunPaths{run}.metrics(), "step");
  ASSERT_FALSE(steps.empty());
  for (const auto& s : steps) EXPECT_TRUE(std::isfinite(s["loss"].get<double>())) << s.dump();
  EXPECT_LT(steps.size(), 4u);
}

TEST_F(TrainLoop, MismatchedNumClassesIsAConfigError) {
  const std::string run = fresh_dir("classes");
  std::string yaml = tiny_config(data_root());
  yaml.replace(yaml.find("model:\n"), 7, "model:\n  num_classes: 5\n");
  try {
    train(yaml, run);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("3 classes"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace te
