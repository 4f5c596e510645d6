// What other tools read: TensorBoard reads our event files, and torchvision's resnet18 takes a
// saved checkpoint with strict=True and computes the same outputs. Both skip (with a message)
// where the Python packages are missing.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/config/run_config.h"
#include "engine/core/philox.h"
#include "engine/graph/graph.h"
#include "engine/io/safetensors.h"
#include "engine/train/checkpoint.h"
#include "engine/train/run_dir.h"
#include "engine/train/trainer.h"
#include "train_fixture.h"

namespace te {
namespace {
using namespace te::testing;

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(Export, TensorBoardReadsTheEventFiles) {
  const std::string python = python_with("tensorboard");
  if (python.empty()) GTEST_SKIP() << "no Python with the `tensorboard` package (set TE_PYTHON)";
  spdlog::set_level(spdlog::level::warn);
  const std::string dir = fresh_dir("tb");
  make_color_dataset(dir + "/data", 16, 8, 16, 5);
  TrainerOptions o;
  o.run_dir = dir + "/run";
  Trainer(parse_run_config(tiny_config(dir + "/data", "train: {epochs: 3}\nlogging: {every_steps: 1}\n"),
                           "tb.yaml"),
          o)
      .run();
  const std::string script = dir + "/read_tb.py";
  write_text(script,
             "import json, sys\n"
             "from tensorboard.backend.event_processing import event_accumulator as ea\n"
             "acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0})\n"
             "acc.Reload()\n"
             "print(json.dumps({t: [[e.step, e.value] for e in acc.Scalars(t)] for t in acc.Tags()['scalars']}))\n");
  const std::string out = capture(python + " " + script + " " + o.run_dir + "/tensorboard 2>/dev/null");
  nlohmann::json tb;
  ASSERT_NO_THROW(tb = nlohmann::json::parse(out)) << out;

  std::vector<nlohmann::json> epochs, steps;
  std::istringstream in(read_text(RunPaths{o.run_dir}.metrics()));
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    (j["type"] == "epoch" ? epochs : steps).push_back(j);
  }
  ASSERT_EQ(epochs.size(), 3u);
  for (const char* key : {"train_loss", "val_loss", "val_accuracy", "lr", "images_per_s"}) {
    const auto& series = tb.at(std::string("epoch/") + key);
    ASSERT_EQ(series.size(), 3u) << key;
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(series[i][0].get<int64_t>(), static_cast<int64_t>(i + 1));
      const double want = epochs[i][key].get<double>();
      EXPECT_NEAR(series[i][1].get<double>(), want, 1e-6 * std::max(1.0, std::fabs(want))) << key;
    }
  }
  ASSERT_EQ(tb.at("step/loss").size(), steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(tb["step/loss"][i][0].get<int64_t>(), steps[i]["step"].get<int64_t>());
    EXPECT_NEAR(tb["step/loss"][i][1].get<double>(), steps[i]["loss"].get<double>(), 1e-5);
  }
}

TEST(Export, Resnet18CheckpointLoadsIntoTorchvisionStrictly) {
  const std::string python = python_with("torchvision");
  if (python.empty()) GTEST_SKIP() << "no Python with torch and torchvision (e.g. Debian's python3-torchvision; set TE_PYTHON)";
  const std::string dir = fresh_dir("torchvision");
  YAML::Node model = YAML::Load("{preset: resnet18, num_classes: 2, in_channels: 3}");
  GraphOptions go;
  go.init_seed = 17;
  auto graph = Graph::build(model, "test", Shape{3, 32, 32}, go);
  // Random input; one training-mode forward moves the batch-norm running statistics away from
  // their initial values, so the eval-mode comparison exercises them.
  CounterRng rng(5, 0, 0);
  std::vector<float> x(2 * 3 * 32 * 32);
  for (auto& v : x) v = rng.normal();
  const Tensor input = Tensor::from_vector(Shape{2, 3, 32, 32}, x);
  RunContext train_ctx;
  graph->forward(input, train_ctx);
  RunContext eval_ctx;
  eval_ctx.training = false;
  const Tensor output = graph->forward(input, eval_ctx).clone();

  ModelInfo info;
  info.model = model;
  info.input_chw = Shape{3, 32, 32};
  info.class_names = {"cat", "dog"};
  info.mean = default_mean(3);
  info.std = default_std(3);
  const std::string weights = dir + "/resnet18.safetensors";
  save_weights(weights, *graph, info);
  save_safetensors(dir + "/io.safetensors", {{"input", input}, {"output", output}});

  const std::string script = dir + "/load.py";
  write_text(script,
             "import json, struct, sys, torch, torchvision\n"
             "def load(path):\n"
             "    data = open(path, 'rb').read()\n"
             "    n = struct.unpack('<Q', data[:8])[0]\n"
             "    header = json.loads(data[8:8 + n])\n"
             "    types = {'F32': torch.float32, 'F64': torch.float64, 'I64': torch.int64, 'I32': torch.int32}\n"
             "    out = {}\n"
             "    for name, v in header.items():\n"
             "        if name == '__metadata__': continue\n"
             "        b, e = v['data_offsets']\n"
             "        raw = bytearray(data[8 + n + b:8 + n + e])\n"
             "        out[name] = torch.frombuffer(raw, dtype=types[v['dtype']]).reshape(v['shape']).clone()\n"
             "    return out\n"
             "m = torchvision.models.resnet18(num_classes=2)\n"
             "m.load_state_dict(load(sys.argv[1]), strict=True)\n"
             "m.eval()\n"
             "io = load(sys.argv[2])\n"
             "with torch.no_grad():\n"
             "    y = m(io['input'])\n"
             "print('maxdiff', float((y - io['output']).abs().max()), float(io['output'].abs().max()))\n");
  const std::string out = capture(python + " " + script + " " + weights + " " + dir + "/io.safetensors 2>&1");
  double diff = -1, scale = -1;
  ASSERT_EQ(std::sscanf(out.c_str() + std::min(out.find("maxdiff"), out.size()), "maxdiff %lf %lf", &diff, &scale), 2)
      << out;
  EXPECT_LT(diff, 1e-3 * std::max(1.0, scale)) << "torchvision computes other outputs from our weights";
  EXPECT_GT(scale, 0);
}

}  // namespace
}  // namespace te
