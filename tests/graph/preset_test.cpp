// Presets against torchvision: parameter counts, state-dict names, shapes and order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "engine/graph/graph.h"
#include "engine/graph/presets.h"
#include "tests/graph/test_layers.h"

namespace te::testing {
namespace {

std::unique_ptr<Graph> preset(const std::string& name, int64_t classes, int64_t channels,
                              int64_t size, bool init = false, const std::string& extra = "") {
  GraphOptions o;
  o.initialize = init;
  const std::string model = "{preset: " + name + ", num_classes: " + std::to_string(classes) +
                            ", in_channels: " + std::to_string(channels) + extra + "}";
  return Graph::build(yaml(model), "p.yaml", {channels, size, size}, o);
}

std::map<std::string, Shape> shapes_by_name(const Graph& g) {
  std::map<std::string, Shape> out;
  for (const auto& t : g.state_dict()) out[t.name] = t.tensor.shape();
  return out;
}

// Figures from torchvision.models.resnet{18,34,50}(num_classes=1000).
TEST(Presets, ResNetParameterCountsEqualTorchvision) {
  EXPECT_EQ(preset("resnet18", 1000, 3, 224)->num_parameters(), 11689512);
  EXPECT_EQ(preset("resnet34", 1000, 3, 224)->num_parameters(), 21797672);
  EXPECT_EQ(preset("resnet50", 1000, 3, 224)->num_parameters(), 25557032);
}

TEST(Presets, ResNet18StateDictMatchesTorchvisionNames) {
  auto g = preset("resnet18", 1000, 3, 224);
  const auto sd = g->state_dict();
  ASSERT_EQ(sd.size(), 122u);  // len(resnet18().state_dict()), num_batches_tracked included
  EXPECT_EQ(sd.front().name, "conv1.weight");
  EXPECT_EQ(sd[1].name, "bn1.weight");
  EXPECT_EQ(sd[5].name, "bn1.num_batches_tracked");
  EXPECT_EQ(sd[6].name, "layer1.0.conv1.weight");
  EXPECT_EQ(sd.back().name, "fc.bias");
  EXPECT_EQ(g->named_parameters().size(), 62u);
  EXPECT_EQ(g->named_buffers().size(), 60u);
  const auto s = shapes_by_name(*g);
  EXPECT_EQ(s.at("conv1.weight"), Shape({64, 3, 7, 7}));
  EXPECT_EQ(s.at("layer1.0.bn1.running_mean"), Shape({64}));
  EXPECT_EQ(s.at("layer2.0.downsample.0.weight"), Shape({128, 64, 1, 1}));
  EXPECT_EQ(s.at("layer2.0.downsample.1.running_var"), Shape({128}));
  EXPECT_EQ(s.at("layer4.1.conv2.weight"), Shape({512, 512, 3, 3}));
  EXPECT_EQ(s.at("fc.weight"), Shape({1000, 512}));
  EXPECT_EQ(s.at("fc.bias"), Shape({1000}));
  EXPECT_EQ(s.count("layer1.0.downsample.0.weight"), 0u);  // no downsample where shapes agree
  EXPECT_EQ(s.at("bn1.num_batches_tracked"), Shape({}));
  EXPECT_EQ(g->output_shape(2), Shape({2, 1000}));
}

TEST(Presets, ResNet50IsBottleneckV15) {
  auto g = preset("resnet50", 1000, 3, 224);
  const auto s = shapes_by_name(*g);
  EXPECT_EQ(g->state_dict().size(), 320u);  // len(resnet50().state_dict())
  EXPECT_EQ(s.at("layer1.0.downsample.0.weight"), Shape({256, 64, 1, 1}));
  EXPECT_EQ(s.at("layer2.0.conv2.weight"), Shape({128, 128, 3, 3}));
  EXPECT_EQ(s.at("layer4.2.conv3.weight"), Shape({2048, 512, 1, 1}));
  EXPECT_EQ(s.at("fc.weight"), Shape({1000, 2048}));
  // v1.5: the stride sits on the 3x3 conv, so the 1x1 conv1 keeps the input resolution.
  const std::string table = g->summary(1);
  const size_t c1 = table.find("layer2.0.conv1 "), c2 = table.find("layer2.0.conv2 ");
  ASSERT_NE(c1, std::string::npos);
  ASSERT_NE(c2, std::string::npos);
  EXPECT_NE(table.substr(c1, table.find('\n', c1) - c1).find("[1, 128, 56, 56]"), std::string::npos);
  EXPECT_NE(table.substr(c2, table.find('\n', c2) - c2).find("[1, 128, 28, 28]"), std::string::npos);
}

TEST(Presets, NumClassesAndInChannelsChangeTheStemAndHead) {
  auto g = preset("resnet18", 10, 1, 64);
  const auto s = shapes_by_name(*g);
  EXPECT_EQ(s.at("conv1.weight"), Shape({64, 1, 7, 7}));
  EXPECT_EQ(s.at("fc.weight"), Shape({10, 512}));
  EXPECT_EQ(g->num_parameters(), 11689512 - 64 * 2 * 49 - 990 * 513);
  EXPECT_EQ(g->output_shape(3), Shape({3, 10}));
}

TEST(Presets, TorchvisionInitialisation) {
  auto g = preset("resnet18", 1000, 3, 64, /*init=*/true);
  std::map<std::string, Tensor> t;
  for (const auto& x : g->state_dict()) t[x.name] = x.tensor;
  // conv: kaiming normal, fan_out, relu gain: std = sqrt(2 / (64 * 7 * 7))
  const std::vector<double> w = t.at("conv1.weight").to_f64_vector();
  double mean = 0, sq = 0;
  for (double v : w) mean += v / w.size();
  for (double v : w) sq += (v - mean) * (v - mean) / w.size();
  EXPECT_NEAR(std::sqrt(sq), std::sqrt(2.0 / (64 * 49)), 0.002);
  EXPECT_NEAR(mean, 0.0, 0.002);
  for (double v : t.at("layer1.0.bn1.weight").to_f64_vector()) EXPECT_EQ(v, 1.0);
  for (double v : t.at("layer1.0.bn1.bias").to_f64_vector()) EXPECT_EQ(v, 0.0);
  for (double v : t.at("layer1.0.bn1.running_var").to_f64_vector()) EXPECT_EQ(v, 1.0);
  double max_fc = 0;
  for (double v : t.at("fc.weight").to_f64_vector()) max_fc = std::max(max_fc, std::fabs(v));
  EXPECT_LE(max_fc, 1.0 / std::sqrt(512.0));
  EXPECT_GT(max_fc, 0.9 / std::sqrt(512.0));
}

TEST(Presets, SmallNetworksBuildForSmallImagesAndScaleWithWidth) {
  auto r9 = preset("resnet9", 10, 3, 32);
  EXPECT_EQ(r9->output_shape(4), Shape({4, 10}));
  auto r9_half = preset("resnet9", 10, 3, 32, false, ", width: 0.5");
  EXPECT_LT(r9_half->num_parameters(), r9->num_parameters() / 3);
  const auto s = shapes_by_name(*r9_half);
  EXPECT_EQ(s.at("layer3.res2.conv.weight"), Shape({256, 256, 3, 3}));
  auto r9_mnist = preset("resnet9", 10, 1, 28);
  EXPECT_EQ(r9_mnist->output_shape(2), Shape({2, 10}));
  auto cnn = preset("simple_cnn", 10, 1, 28);
  EXPECT_EQ(cnn->output_shape(2), Shape({2, 10}));
  EXPECT_EQ(shapes_by_name(*cnn).at("fc.weight"), Shape({10, 64 * 7 * 7}));
}

TEST(Presets, EveryPresetHasAUniqueNamePerLayer) {
  for (const auto& name : preset_names()) {
    const YAML::Node list = preset_layers(name, {10, 3, 1.0});
    std::map<std::string, int> seen;
    for (const auto& l : list) EXPECT_EQ(seen[l["name"].as<std::string>()]++, 0) << name;
    EXPECT_GT(list.size(), 5u) << name;
  }
}

TEST(Presets, UnknownLayerTypeSuggestsAClose) {
  try {
    Graph::build(yaml("{layers: [{name: c, type: conv2, out_channels: 4, kernel: 3}]}"), "m.yaml",
                 {3, 8, 8});
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown layer type 'conv2'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("did you mean 'conv2d'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("m.yaml:1"), std::string::npos) << msg;
  }
}


// The example model descriptions in configs/models build (the documentation stays true).
TEST(ExampleModels, EveryExampleInConfigsModelsBuilds) {
  int built = 0;
  for (const auto& entry : std::filesystem::directory_iterator(TE_SOURCE_DIR "/configs/models")) {
    if (entry.path().extension() != ".yaml") continue;
    const YAML::Node root = YAML::LoadFile(entry.path().string());
    const int64_t size = root["data"]["image_size"].as<int64_t>();
    const int64_t channels = root["model"]["in_channels"].as<int64_t>();
    GraphOptions o;
    o.initialize = false;
    auto g = Graph::build(root["model"], entry.path().string(), {channels, size, size}, o);
    EXPECT_EQ(g->output_shape(2), Shape({2, root["model"]["num_classes"].as<int64_t>()}))
        << entry.path();
    ++built;
  }
  EXPECT_GE(built, 3);
}

}  // namespace
}  // namespace te::testing
