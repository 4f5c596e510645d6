// ONNX Runtime runs what `trainer export` writes and computes our eval-mode logits: the presets
// (simple_cnn, resnet9, resnet18) and a model with every layer type, on 16 Fashion-MNIST test
// images, in batches of 1 and 7 (dynamic batch), within 1e-4; ONNX's checker accepts each
// file; the metadata round-trips. Needs TE_PYTHON with scripts/requirements-test.txt (CI sets
// it); skipped with a message only where it is unset.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "engine/export/onnx_export.h"
#include "engine/io/safetensors.h"
#include "export_fixture.h"

namespace te {
namespace {
using namespace te::testing;

constexpr int64_t kImages = 16;

// A checkpoint with its input, our logits and the metadata the ONNX file must carry.
struct Prepared {
  std::string dir, weights, input, logits, metadata, shape;
};

std::string python_or_empty() {
  const char* p = std::getenv("TE_PYTHON");
  return p && *p ? p : "";
}

// Fails (not skips) where CI would: TE_PYTHON is set but the exporter was not built.
#define REQUIRE_ONNX_TOOLS(python)                                                              \
  const std::string python = python_or_empty();                                                 \
  if (python.empty()) GTEST_SKIP() << "TE_PYTHON is unset: set it to a Python with "            \
                                      "scripts/requirements-test.txt (scripts/test.sh does)";   \
  ASSERT_TRUE(onnx_export_available())                                                          \
      << "TE_PYTHON is set but this trainer has no ONNX export: install libonnx-dev and "       \
         "libprotobuf-dev (scripts/install_deps.sh) and re-run cmake"

Prepared prepare(const std::string& name, const YAML::Node& model, uint64_t seed) {
  spdlog::set_level(spdlog::level::warn);
  Prepared p;
  p.dir = fresh_dir(name);
  p.weights = make_checkpoint(p.dir, model, seed);
  std::map<std::string, std::string> meta;
  load_safetensors(p.weights, &meta);
  const ModelInfo info = ModelInfo::from_metadata(meta, p.weights);
  const int64_t c = info.input_chw[0];
  const Tensor input = normalized_input(info, fashion_images(0, kImages, c));
  p.input = p.dir + "/input.f32";
  p.logits = p.dir + "/logits.f32";
  write_floats(p.input, input);
  write_floats(p.logits, our_logits(p.weights, input));
  p.shape = std::to_string(kImages) + "," + std::to_string(c) + ",28,28";
  p.metadata = p.dir + "/metadata.json";
  // The values make_checkpoint's config gave, as a reader of the metadata should see them.
  write_text(p.metadata, nlohmann::json{{"input_mean", std::vector<double>(static_cast<size_t>(c), 0.286)},
                                        {"input_std", std::vector<double>(static_cast<size_t>(c), 0.353)},
                                        {"image_size", {28, 28}},
                                        {"channels", c},
                                        {"resize_ratio", 1.0},
                                        {"class_names", info.class_names},
                                        {"input_layout", "NCHW"}}
                             .dump());
  return p;
}

// Exports `checkpoint` with `flags`, then runs check_onnx.py with `check_flags`.
void export_and_check(const std::string& python, const Prepared& p, const std::string& checkpoint,
                      const std::string& tag, const std::string& flags, const std::string& check_flags) {
  const std::string out = p.dir + "/" + tag + ".onnx";
  const CommandResult e = run_shell(quote(trainer_binary()) + " export --checkpoint " + quote(checkpoint) +
                                    " --format onnx --out " + quote(out) + " " + flags);
  ASSERT_EQ(e.exit_code, 0) << e.output;
  const CommandResult c = run_shell(
      quote(python) + " " + quote(std::string(TE_SOURCE_DIR) + "/tests/export/check_onnx.py") + " " + quote(out) +
      " --input " + quote(p.input) + " --shape " + p.shape + " --expected " + quote(p.logits) + " --metadata " +
      quote(p.metadata) + " " + check_flags);
  EXPECT_EQ(c.exit_code, 0) << tag << ": " << c.output;
  std::cout << tag << ": " << c.output;  // the measured differences, in the test log
}

YAML::Node preset(const std::string& name, double width, int64_t channels) {
  YAML::Node m;
  m["preset"] = name;
  if (width != 1.0) m["width"] = width;
  m["in_channels"] = channels;
  m["num_classes"] = 10;
  return m;
}

TEST(OnnxRuntime, SimpleCnnFromRunDirWithSoftmax) {
  REQUIRE_ONNX_TOOLS(python);
  const Prepared p = prepare("simple_cnn", preset("simple_cnn", 0.5, 1), 11);
  export_and_check(python, p, p.dir, "dynamic_softmax", "--dynamic-batch --softmax", "--batches 1,7 --softmax");
}

TEST(OnnxRuntime, SimpleCnnFixedBatchRefusesOtherSizes) {
  REQUIRE_ONNX_TOOLS(python);
  const Prepared p = prepare("simple_cnn_fixed", preset("simple_cnn", 0.5, 1), 12);
  export_and_check(python, p, p.weights, "fixed", "", "--batches 1 --static");
}

TEST(OnnxRuntime, Resnet9WithAndWithoutFoldedBatchNorm) {
  REQUIRE_ONNX_TOOLS(python);
  const Prepared p = prepare("resnet9", preset("resnet9", 0.5, 1), 13);
  export_and_check(python, p, p.weights, "bn", "--dynamic-batch", "--batches 1,7");
  export_and_check(python, p, p.weights, "folded", "--dynamic-batch --fold-bn", "--batches 1,7 --folded");
}

TEST(OnnxRuntime, Resnet18ThreeChannelsWithAndWithoutFoldedBatchNorm) {
  REQUIRE_ONNX_TOOLS(python);
  const Prepared p = prepare("resnet18", preset("resnet18", 1.0, 3), 14);
  export_and_check(python, p, p.weights, "bn", "--dynamic-batch --opset 13", "--batches 1,7");
  export_and_check(python, p, p.weights, "folded", "--dynamic-batch --fold-bn", "--batches 1,7 --folded");
}

// Every registered layer type, with the options that change the ONNX form: conv bias,
// groups and dilation; batch norm affine or not, fused with a residual or without activation;
// max pooling with dilation and ceil_mode; average pooling with ceil_mode (count_include_pad
// false) and count_include_pad; three-way add (Sum); concat of maps and of vectors; both
// GELUs; dropout; linear without bias.
TEST(OnnxRuntime, EveryLayerType) {
  REQUIRE_ONNX_TOOLS(python);
  const YAML::Node model = YAML::Load(R"(
in_channels: 1
num_classes: 10
layers:
  - {name: stem, type: conv2d, out_channels: 8, kernel: 3, padding: 1}
  - {name: stem_bn, type: batchnorm2d}
  - {name: stem_act, type: relu}
  - {name: grouped, type: conv2d, out_channels: 8, kernel: 3, padding: 2, dilation: 2, groups: 2, bias: false}
  - {name: fused, type: batchnorm2d_act, residual: true, inputs: [grouped, stem_act]}
  - {name: mp, type: maxpool2d, kernel: 3, stride: 2, padding: 1, dilation: 2, ceil_mode: true}
  - {name: g1, type: gelu}
  - {name: bn_plain, type: batchnorm2d, affine: false, inputs: mp}
  - {name: g2, type: gelu, approximate: tanh}
  - {name: s1, type: silu, inputs: mp}
  - {name: sum3, type: add, inputs: [g1, g2, s1]}
  - {name: cat, type: concat, inputs: [sum3, mp]}
  - {name: c2, type: conv2d, out_channels: 12, kernel: 1, bias: false}
  - {name: bnact2, type: batchnorm2d_act, activation: none}
  - {name: ap, type: avgpool2d, kernel: 3, stride: 2, padding: 1, count_include_pad: false, ceil_mode: true}
  - {name: ap2, type: avgpool2d, kernel: 2}
  - {name: drop, type: dropout, p: 0.3}
  - {name: gap, type: global_avg_pool, inputs: drop}
  - {name: flat, type: flatten, inputs: drop}
  - {name: fc1, type: linear, out_features: 16, bias: false}
  - {name: both, type: concat, axis: -1, inputs: [fc1, gap]}
  - {name: fc, type: linear, out_features: 10}
)");
  const Prepared p = prepare("every_layer", model, 15);
  export_and_check(python, p, p.weights, "plain", "--dynamic-batch", "--batches 1,7");
  export_and_check(python, p, p.weights, "folded", "--dynamic-batch --fold-bn --softmax", "--batches 1,7 --softmax");
}

}  // namespace
}  // namespace te
