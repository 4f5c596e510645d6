// The `trainer` binary end to end: train, eval and predict from a run directory; config errors
// and their exit code; --device; SIGTERM/SIGINT write a checkpoint and exit 143/130.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "engine/core/device.h"
#include "engine/train/run_dir.h"
#include "train_fixture.h"

namespace te {
namespace {
namespace fs = std::filesystem;
using namespace te::testing;

const std::string& data_root() {
  static const std::string root = [] {
    const std::string dir = fresh_dir("cli_data");
    make_color_dataset(dir, 32, 16, 16, 21);
    return dir;
  }();
  return root;
}

std::string write_config(const std::string& dir, const std::string& extra) {
  const std::string path = dir + "/tiny.yaml";
  write_text(path, tiny_config(data_root(), extra));
  return path;
}

int count_lines_with(const std::string& path, const std::string& needle) {
  std::istringstream in(read_text(path));
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

// Waits until `path` holds at least `n` lines containing `needle` (false after 60 s).
bool wait_for_lines(const std::string& path, const std::string& needle, int n) {
  for (int i = 0; i < 600; ++i) {
    if (count_lines_with(path, needle) >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST(TrainerCli, TrainThenEvalAndPredictFromTheRunDirectory) {
  const std::string dir = fresh_dir("cli_train");
  const std::string cfg = write_config(dir, "optim: {lr: 0.05}\ntrain: {epochs: 3}\n");
  const std::string run = dir + "/run";
  const CommandResult t = run_command({trainer_binary(), "--config", cfg, "--out", run, "--device", "cpu"});
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_NE(read_text(run + "/train.log").find("epoch 3/3"), std::string::npos);

  // The best epoch's validation accuracy, as the run recorded it.
  double best_acc = -1;
  std::istringstream metrics(read_text(run + "/metrics.jsonl"));
  for (std::string line; std::getline(metrics, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j["type"] == "epoch" && j["best"].get<bool>()) best_acc = j["val_accuracy"].get<double>();
  }
  ASSERT_GT(best_acc, 0.8);

  const CommandResult e = run_command({trainer_binary(), "eval", "--checkpoint", run, "--data",
                                       data_root() + "/val", "--json", "--device", "cpu"});
  ASSERT_EQ(e.exit_code, 0) << e.output;
  const auto j = nlohmann::json::parse(e.output);
  EXPECT_EQ(j["images"].get<int>(), 48);
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), best_acc);
  EXPECT_GT(j["loss"].get<double>(), 0);
  ASSERT_EQ(j["per_class"].size(), 3u);
  EXPECT_EQ(j["per_class"]["red"]["images"].get<int>(), 16);

  const CommandResult text = run_command({trainer_binary(), "eval", "--checkpoint", run, "--data",
                                          data_root() + "/val", "--device", "cpu"});
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("accuracy"), std::string::npos);
  EXPECT_NE(text.output.find("green"), std::string::npos);

  // New images the model never saw, one per class.
  const std::vector<std::string> classes = {"blue", "green", "red"};
  std::vector<std::string> argv = {trainer_binary(), "predict", "--checkpoint", run, "--json", "--device", "cpu"};
  for (int c = 0; c < 3; ++c) {
    argv.push_back(dir + "/new_" + classes[c] + ".jpg");
    write_color_image(argv.back(), c, 16, 999, c);
  }
  const CommandResult p = run_command(argv);
  ASSERT_EQ(p.exit_code, 0) << p.output;
  const auto preds = nlohmann::json::parse(p.output);
  ASSERT_EQ(preds.size(), 3u);
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(preds[c]["class"], classes[c]) << preds[c].dump();
    EXPECT_GT(preds[c]["probability"].get<double>(), 1.0 / 3);
  }
  // A file that is not an image: reported, the others still classified, exit status 1.
  write_text(dir + "/notes.jpg", "not an image");
  const CommandResult bad = run_command({trainer_binary(), "predict", "--checkpoint", run,
                                         "--device", "cpu", dir + "/notes.jpg", argv[7]});
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("notes.jpg: error"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("new_blue.jpg: blue"), std::string::npos) << bad.output;
}

TEST(TrainerCli, ThreeLineConfigTrainsWithDefaults) {
  const std::string dir = fresh_dir("cli_three");
  const std::string cfg = dir + "/three.yaml";
  write_text(cfg, "data:\n  train: " + data_root() + "/train\n  val: " + data_root() + "/val\n");
  // Defaults everywhere except what keeps the test fast.
  const CommandResult r = run_command({trainer_binary(), "--config", cfg, "--out", dir + "/run",
                                       "--set", "model.preset=simple_cnn", "--set", "data.image_size=16",
                                       "--set", "train.epochs=2", "--set", "data.batch_size=32"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string resolved = read_text(dir + "/run/config.resolved.yaml");
  EXPECT_NE(resolved.find("preset: simple_cnn"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("epochs: 2"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("weight_decay: 5e-4"), std::string::npos) << resolved;
  // Without --device the config's default, auto, picks the GPU only when one works.
  if (!built_with_cuda())
    EXPECT_NE(r.output.find("device: cpu (auto"), std::string::npos) << r.output;
}

TEST(TrainerCli, ConfigErrorsExitWithCode2AndNameTheLine) {
  const std::string dir = fresh_dir("cli_errors");
  const std::string cfg = dir + "/bad.yaml";
  write_text(cfg, "data:\n  train: x\noptim:\n  learning_rat: 0.1\n");
  const CommandResult r = run_command({trainer_binary(), "--config", cfg, "--out", dir + "/run"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(cfg + ":4: key 'optim.learning_rat'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("did you mean 'lr'"), std::string::npos) << r.output;

  const std::string good = write_config(dir, "");
  const CommandResult s = run_command({trainer_binary(), "--config", good, "--out", dir + "/run2",
                                       "--set", "train.epochs=-3"});
  EXPECT_EQ(s.exit_code, 2) << s.output;
  EXPECT_NE(s.output.find("--set train.epochs=-3: key 'train.epochs': expected an integer"),
            std::string::npos) << s.output;

  const CommandResult missing = run_command({trainer_binary(), "--config", dir + "/absent.yaml"});
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("absent.yaml: cannot open"), std::string::npos) << missing.output;
}

// Issue 14's known defect: a wrong model key ended as yaml-cpp's "bad conversion" (exit 1) after
// the data set had been opened. The data path here does not exist, so a message about the key
// (and not about the data) shows the check runs before any data is read.
TEST(TrainerCli, BadModelKeyExitsWithCode2BeforeTheDataIsRead) {
  const std::string dir = fresh_dir("cli_model_key");
  const std::string cfg = dir + "/bad_model.yaml";
  write_text(cfg, "data:\n  train: " + dir + "/no-such-data\nmodel:\n  preset: resnet18\n"
                  "  num_classes: two\n");
  const CommandResult r = run_command({trainer_binary(), "--config", cfg, "--out", dir + "/run"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(cfg + ":5: key 'model.num_classes': expected a positive integer, got 'two'"),
            std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("no-such-data"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("internal error"), std::string::npos) << r.output;

  const CommandResult s = run_command({trainer_binary(), "--config", cfg, "--out", dir + "/run2",
                                       "--set", "model.num_classes=2", "--set",
                                       "model.layers=[{name: fc, type: linear, out_features: x}]"});
  EXPECT_EQ(s.exit_code, 2) << s.output;
  EXPECT_NE(s.output.find("not both"), std::string::npos) << s.output;
}

TEST(TrainerCli, MixedPrecisionOnTheCpuIsAClearConfigError) {
  const std::string dir = fresh_dir("cli_precision");
  const std::string cfg = write_config(dir, "train: {epochs: 1, precision: bf16}\n");
  const CommandResult r = run_command({trainer_binary(), "--config", cfg, "--out", dir + "/run",
                                       "--device", "cpu"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("key 'train.precision': bf16 needs a CUDA device"), std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/run/checkpoints/last.safetensors"));
}

TEST(TrainerCli, ChannelsLastOnTheCpuIsAClearConfigError) {
  const std::string dir = fresh_dir("cli_channels_last");
  const std::string cfg = write_config(dir, "train: {epochs: 1, channels_last: true}\n");
  const CommandResult r = run_command({trainer_binary(), "--config", cfg, "--out", dir + "/run",
                                       "--device", "cpu"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("key 'train.channels_last': channels-last activations need a CUDA device"),
            std::string::npos) << r.output;
}

TEST(TrainerCli, CudaFailsClearlyWhenNoGpuWorks) {
  const std::string dir = fresh_dir("cli_cuda");
  const std::string cfg = write_config(dir, "train: {epochs: 1}\n");
  const CommandResult r = run_command({trainer_binary(), "--config", cfg, "--out", dir + "/run",
                                       "--device", "cuda"});
  if (r.exit_code == 0) GTEST_SKIP() << "a GPU is usable here; nothing to check";
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--device cuda: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("use --device cpu or auto"), std::string::npos) << r.output;
  if (!built_with_cuda())
    EXPECT_NE(r.output.find("built without the CUDA backend"), std::string::npos) << r.output;
}

TEST(TrainerCli, SigtermAndSigintCheckpointAndResume) {
  const std::string dir = fresh_dir("cli_signal");
  // Long enough that the signal arrives mid-run.
  const std::string cfg = write_config(dir, "train: {epochs: 500}\nlogging: {every_steps: 1}\n"
                                            "checkpoint: {every_epochs: 0}\n");
  const std::string run = dir + "/run";
  const RunPaths paths{run};
  pid_t pid = spawn_command({trainer_binary(), "--config", cfg, "--out", run, "--device", "cpu"},
                            dir + "/first.log");
  ASSERT_TRUE(wait_for_lines(paths.metrics(), "\"type\":\"step\"", 3)) << read_text(dir + "/first.log");
  kill(pid, SIGTERM);
  EXPECT_EQ(wait_exit_code(pid), 143) << read_text(dir + "/first.log");
  const auto first = latest_checkpoint(paths);
  ASSERT_TRUE(first.has_value()) << read_text(dir + "/first.log");
  EXPECT_GE(first->step, 3);
  EXPECT_NE(read_text(dir + "/first.log").find("--resume " + run), std::string::npos);

  // The checkpoint is usable on its own...
  const CommandResult e = run_command({trainer_binary(), "eval", "--checkpoint", first->weights,
                                       "--data", data_root() + "/val", "--json", "--device", "cpu"});
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_EQ(nlohmann::json::parse(e.output)["images"].get<int>(), 48);

  // ...and the run continues from it; SIGINT stops it the same way with 130.
  const int records = count_lines_with(paths.metrics(), "\"type\":\"step\"");
  pid = spawn_command({trainer_binary(), "--resume", run, "--device", "cpu"}, dir + "/second.log");
  ASSERT_TRUE(wait_for_lines(paths.metrics(), "\"type\":\"step\"", records + 3)) << read_text(dir + "/second.log");
  kill(pid, SIGINT);
  EXPECT_EQ(wait_exit_code(pid), 130) << read_text(dir + "/second.log");
  const auto second = latest_checkpoint(paths);
  ASSERT_TRUE(second.has_value());
  EXPECT_GT(second->step, first->step);
  EXPECT_NE(read_text(run + "/train.log").find("resumed from"), std::string::npos);
}

}  // namespace
}  // namespace te
