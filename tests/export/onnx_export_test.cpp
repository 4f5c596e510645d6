// The exporter's own rules, without ONNX Runtime: every registered layer type has an ONNX
// form; an unsupported layer, opset or pooling option is an ExportError naming it; batch-norm
// folding on hand-checkable numbers; the wiring re-read from the model description; the
// metadata; the command line's errors.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/export/bn_folding.h"
#include "engine/export/model_topology.h"
#include "engine/export/onnx_export.h"
#include "engine/export/onnx_metadata.h"
#include "engine/layers/registry.h"
#include "export_fixture.h"

#ifdef TE_WITH_ONNX
#include "engine/export/onnx_layers_list.h"
#endif

namespace te {
namespace {
using namespace te::testing;

// A layer type no exporter knows: the identity.
class Mystery : public Layer {
 public:
  std::string type() const override { return "mystery"; }
  Shape output_shape(const std::vector<Shape>& in) const override { return in[0]; }
  void forward(const std::vector<const Tensor*>& in, Tensor& out, const RunContext&) override {
    out.copy_from(*in[0]);
  }
  void backward(const BackwardArgs&) override {}
};

std::unique_ptr<Layer> factory(const std::string& type, LayerArgs& args) {
  if (type != "mystery") return create_layer(type, args);
  args.mark_used("type");
  args.finish(type);
  return std::make_unique<Mystery>();
}

// An unfused export source for a hand-written model on 1 x 14 x 14 inputs.
ExportSource source(const std::string& yaml) {
  ExportSource s;
  s.info.model = YAML::Load(yaml);
  s.info.input_chw = Shape{1, 14, 14};
  s.info.class_names = {"a", "b"};
  s.info.mean = {0.5f};
  s.info.std = {0.25f};
  GraphOptions o;
  o.fuse = false;
  o.factory = factory;
  s.graph = Graph::build(s.info.model, "test.yaml", s.info.input_chw, o);
  s.inputs = layer_inputs(s.info.model, "test.yaml", *s.graph);
  return s;
}

std::string export_error(const ExportSource& s, const OnnxExportOptions& o = {}) {
  try {
    export_onnx(s, o);
  } catch (const ExportError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(OnnxExport, EveryRegisteredLayerTypeHasAnOnnxForm) {
  if (!onnx_export_available()) GTEST_SKIP() << "built without ONNX export (libonnx-dev)";
#ifdef TE_WITH_ONNX
  std::vector<std::string> exported = onnx_exported_types();
  std::vector<std::string> registered = layer_types();
  std::sort(exported.begin(), exported.end());
  std::sort(registered.begin(), registered.end());
  EXPECT_EQ(exported, registered) << "a new layer type needs its ONNX form in engine/export/onnx_layers.cpp";
#endif
}

TEST(OnnxExport, UnsupportedLayerIsNamed) {
  if (!onnx_export_available()) GTEST_SKIP() << "built without ONNX export (libonnx-dev)";
  const ExportSource s = source(R"(
layers:
  - {name: c, type: conv2d, out_channels: 2, kernel: 3}
  - {name: odd, type: mystery}
  - {name: pool, type: global_avg_pool}
)");
  const std::string msg = export_error(s);
  EXPECT_NE(msg.find("layer 'odd' (mystery)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no ONNX export"), std::string::npos) << msg;
}

TEST(OnnxExport, OpsetOutsideTheSupportedRangeIsRefused) {
  if (!onnx_export_available()) GTEST_SKIP() << "built without ONNX export (libonnx-dev)";
  const ExportSource s = source("layers:\n  - {name: pool, type: global_avg_pool}\n");
  for (int64_t opset : {int64_t{12}, onnx_max_opset() + 1}) {
    OnnxExportOptions o;
    o.opset = opset;
    const std::string msg = export_error(s, o);
    EXPECT_NE(msg.find("--opset " + std::to_string(opset) + " is not supported"), std::string::npos) << msg;
    EXPECT_NE(msg.find("opsets 13 to " + std::to_string(onnx_max_opset())), std::string::npos) << msg;
  }
  OnnxExportOptions ok;
  ok.opset = 13;
  EXPECT_FALSE(export_onnx(s, ok).empty());
}

// PyTorch divides a last window that hangs past the padding by its clipped size; ONNX's
// AveragePool with count_include_pad cannot, so the exporter refuses instead of differing.
TEST(OnnxExport, AvgPoolCeilModeCountingPaddingPastTheEndIsRefused) {
  if (!onnx_export_available()) GTEST_SKIP() << "built without ONNX export (libonnx-dev)";
  const std::string msg = export_error(source(
      "layers:\n  - {name: ap, type: avgpool2d, kernel: 3, stride: 2, padding: 1, ceil_mode: true}\n"
      "  - {name: pool, type: global_avg_pool}\n"));
  EXPECT_NE(msg.find("layer 'ap' (avgpool2d)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("count_include_pad"), std::string::npos) << msg;
  // Without the overhang (14 -> 7 with ceil_mode == floor) the same options export.
  EXPECT_EQ(export_error(source("layers:\n  - {name: ap, type: avgpool2d, kernel: 2, ceil_mode: true}\n"
                                "  - {name: pool, type: global_avg_pool}\n")),
            "(no error)");
}

TEST(OnnxExport, WithoutOnnxTheErrorSaysHowToEnableIt) {
  if (onnx_export_available()) GTEST_SKIP() << "this build has the ONNX exporter";
  try {
    export_onnx_file("x.safetensors", "x.onnx", {});
    FAIL() << "export_onnx_file did not throw";
  } catch (const ExportError& e) {
    EXPECT_NE(std::string(e.what()).find("libonnx-dev"), std::string::npos) << e.what();
  }
}

TEST(BatchNormFolding, HandCheckedValues) {
  // s = gamma / sqrt(var + eps) = [2 / 2, 1 / 2]; W' = s W; b' = s (b - mean) + beta.
  const FoldedConv f = fold_batchnorm({1, 2, 3, 4}, {0.5f, -1}, {2, 1}, {0.1f, 0.2f}, {1, 0}, {3, 3}, 1.0);
  EXPECT_EQ(f.weight, (std::vector<float>{1, 2, 1.5f, 2}));
  ASSERT_EQ(f.bias.size(), 2u);
  EXPECT_FLOAT_EQ(f.bias[0], -0.4f);
  EXPECT_FLOAT_EQ(f.bias[1], -0.3f);
  // No conv bias, no affine: s = 1 / 2, b' = -mean / 2.
  const FoldedConv g = fold_batchnorm({1, 2, 3, 4}, {}, {}, {}, {1, -3}, {3, 3}, 1.0);
  EXPECT_EQ(g.weight, (std::vector<float>{0.5f, 1, 1.5f, 2}));
  EXPECT_EQ(g.bias, (std::vector<float>{-0.5f, 1.5f}));
}

TEST(BatchNormFolding, MismatchedSizesAreRefused) {
  EXPECT_THROW(fold_batchnorm({1, 2, 3}, {}, {}, {}, {0, 0}, {1, 1}, 1e-5), ExportError);
  EXPECT_THROW(fold_batchnorm({1, 2}, {}, {1}, {}, {0, 0}, {1, 1}, 1e-5), ExportError);
}

TEST(ModelTopology, DefaultScalarAndListInputs) {
  const char* yaml = R"(
layers:
  - {name: a, type: conv2d, out_channels: 2, kernel: 1}
  - {name: b, type: relu}
  - {name: c, type: conv2d, out_channels: 2, kernel: 1, inputs: input}
  - {name: d, type: add, inputs: [b, c, a]}
)";
  const ExportSource s = source(yaml);
  EXPECT_EQ(s.inputs, (std::vector<std::vector<int>>{{-1}, {0}, {-1}, {1, 2, 0}}));
  // A fused graph has fewer nodes than the list: refused rather than mis-wired.
  const YAML::Node model = YAML::Load(R"(
layers:
  - {name: a, type: conv2d, out_channels: 2, kernel: 1}
  - {name: bn, type: batchnorm2d}
  - {name: r, type: relu}
)");
  const std::unique_ptr<Graph> fused = Graph::build(model, "f.yaml", Shape{1, 4, 4});
  EXPECT_THROW(layer_inputs(model, "f.yaml", *fused), ExportError);
}

TEST(OnnxMetadata, NormalizationImageSizeAndClassNames) {
  ModelInfo info;
  info.input_chw = Shape{3, 32, 48};
  info.class_names = {"cat", "dog"};
  info.mean = {0.485f, 0.25f, 0.125f};
  info.std = {0.5f, 0.5f, 0.25f};
  info.resize_ratio = 0.875;
  const auto m = onnx_metadata(info);
  EXPECT_EQ(m.at("input_mean"), "[0.485,0.25,0.125]");  // not 0.48500001430511475
  EXPECT_EQ(m.at("input_std"), "[0.5,0.5,0.25]");
  EXPECT_EQ(m.at("image_size"), "[32,48]");
  EXPECT_EQ(m.at("channels"), "3");
  EXPECT_EQ(m.at("resize_ratio"), "0.875");
  EXPECT_EQ(m.at("class_names"), "[\"cat\",\"dog\"]");
  EXPECT_EQ(m.at("input_layout"), "NCHW");
}

TEST(ExportCli, BadFormatAndOpsetAreClearErrors) {
  spdlog::set_level(spdlog::level::warn);
  const std::string dir = fresh_dir("cli");
  const YAML::Node model = YAML::Load("{preset: simple_cnn, width: 0.25, in_channels: 1, num_classes: 10}");
  const std::string weights = make_checkpoint(dir, model, 3);
  const std::string base = quote(trainer_binary()) + " export --checkpoint " + quote(weights) + " --out " +
                           quote(dir + "/m.onnx");
  const CommandResult format = run_shell(base + " --format tflite");
  EXPECT_NE(format.exit_code, 0);
  EXPECT_NE(format.output.find("tflite"), std::string::npos) << format.output;
  const CommandResult opset = run_shell(base + " --opset 12");
  EXPECT_EQ(opset.exit_code, 1) << opset.output;
  EXPECT_NE(opset.output.find(onnx_export_available() ? "--opset 12 is not supported" : "libonnx-dev"),
            std::string::npos)
      << opset.output;
  const CommandResult missing = run_shell(quote(trainer_binary()) + " export --checkpoint " +
                                          quote(dir + "/nothing") + " --out " + quote(dir + "/m.onnx"));
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
}

}  // namespace
}  // namespace te
