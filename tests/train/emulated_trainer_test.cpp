// The product's GPU path without a GPU: `trainer_emu` is the trainer linked against the SIMT
// emulation of our CUDA kernels (kernels/cuda/emu; convolution and linear are the CPU
// reference there). `--device cuda` then runs device selection and its model probe, batch
// uploads, the training step on device memory, its capture and replay as CUDA graphs, mixed
// precision with loss scaling, channels-last, evaluation and checkpoints
// written from device memory: the code a GPU session would otherwise be the first to run.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "train_fixture.h"

namespace te::testing {
namespace {

struct Epoch {
  double train_loss, val_accuracy;
};

std::vector<Epoch> epochs_of(const std::string& run) {
  std::vector<Epoch> out;
  std::istringstream in(read_text(run + "/metrics.jsonl"));
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j["type"] == "epoch")
      out.push_back({j["train_loss"].get<double>(), j["val_accuracy"].get<double>()});
  }
  return out;
}

class EmulatedTrainer : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef TE_TRAINER_EMU
    GTEST_SKIP() << "no trainer_emu in this build (it needs the CUDA toolkit's headers for the "
                    "SIMT emulation, TE_CUDA_EMULATION)";
#else
    dir_ = fresh_dir("emulated_trainer");
    make_color_dataset(dir_ + "/data", 32, 16, 16, 5);
    // No dropout: its masks would be the only difference between the devices.
    write_text(dir_ + "/run.yaml",
               "model:\n"
               "  layers:\n"
               "    - {name: conv1, type: conv2d, out_channels: 8, kernel: 3, padding: 1}\n"
               "    - {name: bn1, type: batchnorm2d}\n"
               "    - {name: relu1, type: relu}\n"
               "    - {name: pool1, type: maxpool2d, kernel: 2, stride: 2}\n"
               "    - {name: conv2, type: conv2d, out_channels: 8, kernel: 3, padding: 1}\n"
               "    - {name: bn2, type: batchnorm2d}\n"
               "    - {name: relu2, type: relu}\n"
               "    - {name: gap, type: global_avg_pool}\n"
               "    - {name: flatten, type: flatten}\n"
               "    - {name: fc, type: linear, out_features: 3}\n"
               "data:\n"
               "  train: " + dir_ + "/data/train\n"
               "  val: " + dir_ + "/data/val\n"
               "  image_size: 16\n"
               "  batch_size: 16\n"
               "  workers: 2\n"
               "  resize_ratio: 1.0\n"
               "  augment: {random_resized_crop: false, hflip: true}\n"
               "optim: {lr: 0.05}\n"
               "train: {epochs: 3}\n"
               "logging: {progress: plain}\n");
#endif
  }

  CommandResult train(const std::string& binary, const std::string& device,
                      const std::string& run, const std::vector<std::string>& sets = {}) {
    std::vector<std::string> argv = {binary, "--config", dir_ + "/run.yaml", "--out", run,
                                     "--device", device};
    for (const auto& s : sets) argv.insert(argv.end(), {"--set", s});
    return run_command(argv);
  }

  // trainer_emu --config `config` --out dir_/`name` --device cuda, with `env` (NAME=value) in
  // its environment and `sets` as --set options; the run must succeed.
  CommandResult train_emu(const std::string& env, const std::string& config, const std::string& name,
                          const std::vector<std::string>& sets);

  // The checkpoint `last` (a path inside each run) holds the same bytes in both runs.
  void expect_same_weights(const std::string& want_run, const std::string& got_run,
                           const std::string& last, const std::string& why) {
    const std::string want = read_text(dir_ + "/" + want_run + last);
    ASSERT_FALSE(want.empty()) << want_run << last;
    EXPECT_TRUE(read_text(dir_ + "/" + got_run + last) == want) << why;
  }

  std::string dir_;
};

#ifdef TE_TRAINER_EMU
std::string emu_binary() { return TE_TRAINER_EMU; }
#else
std::string emu_binary() { return ""; }
#endif

CommandResult EmulatedTrainer::train_emu(const std::string& env, const std::string& config,
                                         const std::string& name, const std::vector<std::string>& sets) {
  std::vector<std::string> argv = {"/usr/bin/env", env, emu_binary(), "--config", config,
                                   "--out", dir_ + "/" + name, "--device", "cuda"};
  for (const auto& s : sets) argv.insert(argv.end(), {"--set", s});
  CommandResult r = run_command(argv);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r;
}

// fp32 on the emulated GPU against the CPU, epoch by epoch. Our kernels sum in other orders
// than the CPU's (batch-norm statistics in blocks, say), and the differences grow with each
// step: train loss within 1% relative, validation accuracy within 2 of 48 images.
TEST_F(EmulatedTrainer, Fp32RunMatchesTheCpuRun) {
  const CommandResult gpu = train(emu_binary(), "cuda", dir_ + "/gpu");
  ASSERT_EQ(gpu.exit_code, 0) << gpu.output;
  EXPECT_NE(gpu.output.find("device cuda:0"), std::string::npos) << gpu.output;
  // The micro-batch steps are captured as CUDA graphs (emulated: the recorded work is issued
  // again) and replayed: the epochs below then check the replays against the CPU.
  EXPECT_EQ(gpu.output.find("capture failed"), std::string::npos) << gpu.output;
  EXPECT_NE(gpu.output.find("micro-batch steps replayed from"), std::string::npos) << gpu.output;
  const CommandResult cpu = train(trainer_binary(), "cpu", dir_ + "/cpu");
  ASSERT_EQ(cpu.exit_code, 0) << cpu.output;
  const auto g = epochs_of(dir_ + "/gpu"), c = epochs_of(dir_ + "/cpu");
  ASSERT_EQ(g.size(), 3u);
  ASSERT_EQ(c.size(), 3u);
  for (size_t e = 0; e < g.size(); ++e) {
    EXPECT_NEAR(g[e].train_loss, c[e].train_loss, 0.01 * c[e].train_loss) << "epoch " << e + 1;
    EXPECT_NEAR(g[e].val_accuracy, c[e].val_accuracy, 2.0 / 48 + 1e-9) << "epoch " << e + 1;
  }
  EXPECT_LT(g.back().train_loss, g.front().train_loss);

  // The checkpoint written from device memory, evaluated by the CPU trainer.
  const CommandResult e = run_command({trainer_binary(), "eval", "--checkpoint", dir_ + "/gpu",
                                       "--data", dir_ + "/data/val", "--json", "--device", "cpu"});
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_NEAR(nlohmann::json::parse(e.output)["accuracy"].get<double>(), g.back().val_accuracy,
              1.0 / 48 + 1e-9);
}

// bf16 with channels-last activations: the mixed-precision step (f32 masters, loss scaling)
// and the NHWC kernels, end to end. Rounding makes epoch values differ from the CPU's more
// than fp32's, so this asks for a finite, falling loss and a model that learned the colours.
TEST_F(EmulatedTrainer, Bf16ChannelsLastRunLearns) {
  const CommandResult gpu = train(emu_binary(), "cuda", dir_ + "/bf16",
                                  {"train.precision=bf16", "train.channels_last=true"});
  ASSERT_EQ(gpu.exit_code, 0) << gpu.output;
  EXPECT_NE(gpu.output.find("precision: bf16"), std::string::npos) << gpu.output;
  const auto g = epochs_of(dir_ + "/bf16");
  ASSERT_EQ(g.size(), 3u);
  for (const Epoch& e : g) EXPECT_TRUE(std::isfinite(e.train_loss));
  EXPECT_LT(g.back().train_loss, g.front().train_loss);
  EXPECT_GT(g.back().val_accuracy, 0.6);
}

// Deferred streams (kernels/cuda/emu/stream_queue.h) run each stream's work as late as CUDA
// allows: a batch upload, a consumer of the copy stream or a reuse of device memory that is
// not ordered by an event then reads or overwrites the wrong bytes. The same run with
// immediate streams orders everything by construction, so the two must end with the same
// weights, byte for byte (bf16 channels-last: the most streams and casts).
TEST_F(EmulatedTrainer, DeferredStreamsEndWithTheWeightsOfImmediateStreams) {
  const std::vector<std::string> sets = {"train.precision=bf16", "train.channels_last=true",
                                         "train.epochs=2"};
  train_emu("TE_EMU_STREAMS=immediate", dir_ + "/run.yaml", "immediate", sets);
  train_emu("TE_EMU_STREAMS=deferred", dir_ + "/run.yaml", "deferred", sets);
  // 96 images in batches of 16: the final checkpoint is step 12's.
  expect_same_weights("immediate", "deferred", "/checkpoints/epoch-0002-step-0000012.safetensors",
                      "deferred streams changed the weights: some work is not ordered after what it reads");
}

// CUDA graphs against eager steps: replaying a captured micro-batch must do exactly what the
// eager step does, so a key that misses something the capture baked in (the upload slot, the
// micro-batch's loss slot, the loss scale that fp16 changes) shows as other weights. fp16 with
// three micro-batches per step, so that each micro-batch alternates between the two upload
// slots, and deferred streams (uploads ordered by events only). Each (slot, micro-batch) key
// comes 4 times in 4 epochs: twice eagerly (warm-up), captured, replayed.
TEST_F(EmulatedTrainer, CudaGraphReplaysEndWithTheWeightsOfEagerSteps) {
  const std::vector<std::string> sets = {"train.precision=fp16", "train.grad_accum=3", "train.epochs=4"};
  auto with = [&](const char* graphs) {
    std::vector<std::string> all = sets;
    all.push_back(std::string("train.cuda_graphs=") + graphs);
    return all;
  };
  const CommandResult graphs = train_emu("TE_EMU_STREAMS=deferred", dir_ + "/run.yaml", "graphs", with("true"));
  EXPECT_NE(graphs.output.find("micro-batch steps replayed from"), std::string::npos) << graphs.output;
  train_emu("TE_EMU_STREAMS=deferred", dir_ + "/run.yaml", "eager", with("false"));
  // 96 images in batches of 16, three per step: the final checkpoint is step 8's.
  expect_same_weights("eager", "graphs", "/checkpoints/epoch-0004-step-0000008.safetensors",
                      "replayed CUDA graphs changed the weights:\n" + graphs.output);
}

// The shipped configs/catdog.yaml (resnet18 preset, AdamW, one-cycle, label smoothing,
// augmentation) as a GPU session first runs it, bf16 channels-last, shrunk to 32 px and a
// generated data set: CUDA graphs with deferred streams against eager steps with immediate
// streams, byte-identical weights. (Found, before this test existed: the emulation's reference
// convolution kept a pointer to a layer's host workspace in queued work, which a probe graph
// had destroyed by the time the work ran.)
TEST_F(EmulatedTrainer, CatdogConfigWithGraphsAndDeferredStreamsEqualsEagerSteps) {
  make_color_dataset(dir_ + "/cd", 16, 8, 32, 11);
  const std::string config = std::string(TE_SOURCE_DIR) + "/configs/catdog.yaml";
  std::vector<std::string> sets = {"data.train=" + dir_ + "/cd/train", "data.val=" + dir_ + "/cd/val",
                                   "data.image_size=32", "data.eval_batch_size=16", "data.workers=1",
                                   "train.epochs=3", "train.precision=bf16", "train.channels_last=true",
                                   "logging.tensorboard=false", "logging.progress=plain"};
  sets.push_back("train.cuda_graphs=true");
  const CommandResult graphs = train_emu("TE_EMU_STREAMS=deferred", config, "graphs", sets);
  EXPECT_NE(graphs.output.find("micro-batch steps replayed from"), std::string::npos) << graphs.output;
  sets.back() = "train.cuda_graphs=false";
  train_emu("TE_EMU_STREAMS=immediate", config, "eager", sets);
  // 48 images in batches of 16: the final checkpoint is step 9's.
  expect_same_weights("eager", "graphs", "/checkpoints/epoch-0003-step-0000009.safetensors", graphs.output);
}

// SIGTERM during the run writes a checkpoint from device memory; --resume on the emulated GPU
// then ends with the same weights as the uninterrupted run on it.
TEST_F(EmulatedTrainer, SigtermThenResumeGivesTheUninterruptedWeights) {
  const CommandResult full = train(emu_binary(), "cuda", dir_ + "/full");
  ASSERT_EQ(full.exit_code, 0) << full.output;
  const std::string run = dir_ + "/part", log = dir_ + "/part.log";
  const pid_t pid = spawn_command({emu_binary(), "--config", dir_ + "/run.yaml", "--out", run,
                                   "--device", "cuda"}, log);
  // Once the first epoch's checkpoint is written, the run is inside epoch 2 of 3.
  bool saved = false;
  for (int i = 0; i < 6000 && !saved; ++i) {
    saved = read_text(log).find("checkpoint (epoch)") != std::string::npos;
    if (!saved) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(saved) << read_text(log);
  ::kill(pid, SIGTERM);
  ASSERT_EQ(wait_exit_code(pid), 143) << read_text(log);
  const CommandResult resumed = run_command({emu_binary(), "--resume", run, "--device", "cuda"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  // 96 images in batches of 16: the final checkpoint is step 18's.
  const std::string last = "/checkpoints/epoch-0003-step-0000018.safetensors";
  const std::string want = read_text(dir_ + "/full" + last);
  ASSERT_FALSE(want.empty());
  EXPECT_TRUE(read_text(run + last) == want)
      << "the resumed run's weights differ from the uninterrupted run's";
}

}  // namespace
}  // namespace te::testing
