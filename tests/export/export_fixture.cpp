#include "export_fixture.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "engine/core/philox.h"
#include "engine/data/idx_format.h"
#include "engine/graph/graph.h"
#include "engine/layers/batchnorm_base.h"
#include "engine/train/checkpoint.h"
#include "kernels/normalize.h"

namespace fs = std::filesystem;

namespace te::testing {
namespace {

struct DirCleanup {
  std::vector<std::string> dirs;
  ~DirCleanup() {
    if (std::getenv("TE_KEEP_TEST_DIRS")) return;
    std::error_code ec;
    for (const auto& d : dirs) fs::remove_all(d, ec);
  }
};
DirCleanup& cleanup() {
  static DirCleanup c;
  return c;
}

constexpr int64_t kSize = 28;

}  // namespace

std::string fresh_dir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "te_export_" + name + "_" + std::to_string(getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  cleanup().dirs.push_back(dir);
  return dir;
}

Tensor fashion_images(int64_t first, int64_t count, int64_t channels) {
  const IdxArray idx = read_idx(idx_files_for(kFashionMnist, "test").images);
  const int64_t pixels = kSize * kSize;
  Tensor out = Tensor::empty(Shape{count, kSize, kSize, channels}, DType::U8);
  uint8_t* o = out.data<uint8_t>();
  for (int64_t i = 0; i < count; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      const uint8_t* img = idx.data.data() + (first + i * channels + c) * pixels;
      for (int64_t p = 0; p < pixels; ++p) o[(i * pixels + p) * channels + c] = img[p];
    }
  return out;
}

Tensor normalized_input(const ModelInfo& info, const Tensor& images_u8) {
  Tensor input = Tensor::empty(Shape{images_u8.dim(0), info.input_chw[0], kSize, kSize});
  ops::normalize_images(images_u8, input, info.mean, info.std);
  return input;
}

std::string make_checkpoint(const std::string& dir, const YAML::Node& model, uint64_t seed) {
  ModelInfo info;
  info.model = YAML::Clone(model);
  const int64_t channels = model["in_channels"].as<int64_t>();
  info.input_chw = Shape{channels, kSize, kSize};
  for (int64_t k = 0; k < model["num_classes"].as<int64_t>(); ++k) info.class_names.push_back("class " + std::to_string(k));
  info.mean = std::vector<float>(static_cast<size_t>(channels), 0.286f);
  info.std = std::vector<float>(static_cast<size_t>(channels), 0.353f);
  info.resize_ratio = 1.0;
  GraphOptions options;
  options.init_seed = seed;
  std::unique_ptr<Graph> g = Graph::build(info.model, "test model", info.input_chw, options);
  // Batch-norm scales in [0.5, 1.5) and shifts in [-0.2, 0.2): 1 and 0 would hide a swapped
  // or ignored parameter.
  uint64_t k = 0;
  for (size_t i = 0; i < g->num_layers(); ++i) {
    auto* bn = dynamic_cast<BatchNormBase*>(&g->layer(i));
    if (!bn || !bn->affine()) continue;
    for (size_t which = 0; which < 2; ++which) {  // 0 weight (scale), 1 bias (shift)
      Tensor& t = bn->params()[which].value;
      float* v = t.data<float>();
      for (int64_t e = 0; e < t.numel(); ++e) {
        const double u = CounterRng(seed, 7, k++).uniform();
        v[e] = static_cast<float>(which == 0 ? 0.5 + u : 0.4 * u - 0.2);
      }
    }
  }
  // Running statistics from real images (images 1000.. are never compared on).
  const Tensor calib = normalized_input(info, fashion_images(1000, 32, channels));
  RunContext train;
  train.training = true;
  for (int pass = 0; pass < 12; ++pass) {
    train.step = static_cast<uint64_t>(pass);
    g->forward(calib, train);
  }
  // Where the trainer puts a run's best weights, so `--checkpoint DIR` finds it.
  std::filesystem::create_directories(dir + "/checkpoints");
  const std::string path = dir + "/checkpoints/best.safetensors";
  save_weights(path, *g, info);
  return path;
}

Tensor our_logits(const std::string& weights, const Tensor& input) {
  LoadedModel m = load_model(weights, Device::cpu());
  RunContext eval;
  eval.training = false;
  return m.graph->forward(input, eval).clone();
}

void write_floats(const std::string& path, const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(v.data()),
                                              static_cast<std::streamsize>(v.size() * sizeof(float)));
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

CommandResult run_shell(const std::string& command) {
  CommandResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string trainer_binary() { return std::string(TE_BINARY_DIR) + "/engine/cli/trainer"; }

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace te::testing
