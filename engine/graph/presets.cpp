#include "engine/graph/presets.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"
#include "engine/core/suggest.h"

namespace te {
namespace {

// Appends layer mappings to a YAML list. `inputs` is written only where it differs from the
// default (the previous layer), so a dumped preset reads like a hand-written description.
class LayerList {
 public:
  YAML::Node list = YAML::Node(YAML::NodeType::Sequence);

  // Adds a layer and returns its name (to wire later inputs).
  std::string add(const std::string& name, const std::string& type,
                  const std::vector<std::string>& inputs = {}, YAML::Node args = {}) {
    YAML::Node n;
    n["name"] = name;
    n["type"] = type;
    const bool default_input = inputs.empty() || (inputs.size() == 1 && inputs[0] == last_);
    if (!default_input) {
      if (inputs.size() == 1) {
        n["inputs"] = inputs[0];
      } else {
        for (const auto& i : inputs) n["inputs"].push_back(i);
      }
    }
    if (args.IsMap())
      for (const auto& kv : args) n[kv.first.as<std::string>()] = kv.second;
    list.push_back(n);
    last_ = name;
    return name;
  }

  std::string conv(const std::string& name, int64_t out, int64_t kernel, int64_t stride,
                   int64_t padding, const std::string& input = "", bool bias = false) {
    YAML::Node a;
    a["out_channels"] = out;
    a["kernel"] = kernel;
    a["stride"] = stride;
    a["padding"] = padding;
    a["bias"] = bias;
    return add(name, "conv2d", input.empty() ? std::vector<std::string>{} : std::vector{input}, a);
  }
  std::string bn(const std::string& name) { return add(name, "batchnorm2d"); }
  std::string relu(const std::string& name) { return add(name, "relu"); }
  std::string maxpool(const std::string& name, int64_t kernel, int64_t stride, int64_t padding) {
    YAML::Node a;
    a["kernel"] = kernel;
    a["stride"] = stride;
    a["padding"] = padding;
    return add(name, "maxpool2d", {}, a);
  }
  std::string sum(const std::string& name, const std::string& a, const std::string& b) {
    return add(name, "add", {a, b});
  }
  // Global average pool ([N, C, H, W] -> [N, C]) and linear: the classifier head.
  void head(int64_t num_classes, const std::string& pool_name) {
    add(pool_name, "global_avg_pool");
    YAML::Node a;
    a["out_features"] = num_classes;
    add("fc", "linear", {}, a);
  }
  const std::string& last() const { return last_; }

 private:
  std::string last_ = "input";
};

// torchvision's BasicBlock: conv3x3(stride)-bn-relu-conv3x3-bn, plus the identity (or a 1x1
// strided conv + bn when the shape changes), then relu. Returns the block's output name.
std::string basic_block(LayerList& l, const std::string& p, const std::string& in, int64_t in_ch,
                        int64_t planes, int64_t stride) {
  l.conv(p + "conv1", planes, 3, stride, 1, in);
  l.bn(p + "bn1");
  l.relu(p + "relu1");
  l.conv(p + "conv2", planes, 3, 1, 1);
  const std::string main = l.bn(p + "bn2");
  std::string shortcut = in;
  if (stride != 1 || in_ch != planes) {
    l.conv(p + "downsample.0", planes, 1, stride, 0, in);
    shortcut = l.bn(p + "downsample.1");
  }
  l.sum(p + "add", main, shortcut);
  return l.relu(p + "relu");
}

// torchvision's Bottleneck (v1.5): conv1x1-bn-relu-conv3x3(stride)-bn-relu-conv1x1(x4)-bn.
std::string bottleneck(LayerList& l, const std::string& p, const std::string& in, int64_t in_ch,
                       int64_t planes, int64_t stride) {
  const int64_t out = planes * 4;
  l.conv(p + "conv1", planes, 1, 1, 0, in);
  l.bn(p + "bn1");
  l.relu(p + "relu1");
  l.conv(p + "conv2", planes, 3, stride, 1);
  l.bn(p + "bn2");
  l.relu(p + "relu2");
  l.conv(p + "conv3", out, 1, 1, 0);
  const std::string main = l.bn(p + "bn3");
  std::string shortcut = in;
  if (stride != 1 || in_ch != out) {
    l.conv(p + "downsample.0", out, 1, stride, 0, in);
    shortcut = l.bn(p + "downsample.1");
  }
  l.sum(p + "add", main, shortcut);
  return l.relu(p + "relu");
}

YAML::Node resnet(const std::vector<int>& blocks, bool use_bottleneck, const PresetOptions& o) {
  LayerList l;
  l.conv("conv1", 64, 7, 2, 3);
  l.bn("bn1");
  l.relu("relu");
  std::string x = l.maxpool("maxpool", 3, 2, 1);
  const int64_t expansion = use_bottleneck ? 4 : 1;
  int64_t channels = 64;
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t planes = int64_t{64} << stage;
    for (int b = 0; b < blocks[stage]; ++b) {
      const std::string p = "layer" + std::to_string(stage + 1) + "." + std::to_string(b) + ".";
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      x = use_bottleneck ? bottleneck(l, p, x, channels, planes, stride)
                         : basic_block(l, p, x, channels, planes, stride);
      channels = planes * expansion;
    }
  }
  l.head(o.num_classes, "avgpool");
  return l.list;
}

int64_t scaled(int64_t channels, double width) {
  return std::max<int64_t>(1, std::llround(static_cast<double>(channels) * width));
}

// conv3x3-bn-relu, the unit of the small networks.
std::string conv_bn_relu(LayerList& l, const std::string& p, int64_t out) {
  l.conv(p + "conv", out, 3, 1, 1);
  l.bn(p + "bn");
  return l.relu(p + "relu");
}

// ResNet-9 of the fast CIFAR-10 recipes (Page, "How to train your ResNet"): prep(64),
// layer1(128, pool, residual of two convs), layer2(256, pool), layer3(512, pool, residual),
// global pool, linear.
YAML::Node resnet9(const PresetOptions& o) {
  LayerList l;
  const int64_t c1 = scaled(64, o.width), c2 = scaled(128, o.width), c3 = scaled(256, o.width),
                c4 = scaled(512, o.width);
  conv_bn_relu(l, "prep.", c1);
  auto stage = [&](const std::string& p, int64_t out, bool residual) {
    conv_bn_relu(l, p, out);
    const std::string pooled = l.maxpool(p + "pool", 2, 2, 0);
    if (!residual) return;
    conv_bn_relu(l, p + "res1.", out);
    const std::string r = conv_bn_relu(l, p + "res2.", out);
    l.sum(p + "add", pooled, r);
  };
  stage("layer1.", c2, true);
  stage("layer2.", c3, false);
  stage("layer3.", c4, true);
  l.head(o.num_classes, "pool");
  return l.list;
}

// A plain CNN for 28x28 images: (conv-bn-relu x2, max-pool) x2, linear.
YAML::Node simple_cnn(const PresetOptions& o) {
  LayerList l;
  const int64_t c1 = scaled(32, o.width), c2 = scaled(64, o.width);
  conv_bn_relu(l, "block1.0.", c1);
  conv_bn_relu(l, "block1.1.", c1);
  l.maxpool("block1.pool", 2, 2, 0);
  conv_bn_relu(l, "block2.0.", c2);
  conv_bn_relu(l, "block2.1.", c2);
  l.maxpool("block2.pool", 2, 2, 0);
  l.add("flatten", "flatten");
  YAML::Node a;
  a["out_features"] = o.num_classes;
  l.add("fc", "linear", {}, a);
  return l.list;
}

}  // namespace

std::vector<std::string> preset_names() {
  return {"resnet18", "resnet34", "resnet50", "resnet9", "simple_cnn"};
}

bool preset_accepts_width(const std::string& name) {
  return name == "resnet9" || name == "simple_cnn";
}

YAML::Node preset_layers(const std::string& name, const PresetOptions& o) {
  if (name == "resnet18") return resnet({2, 2, 2, 2}, false, o);
  if (name == "resnet34") return resnet({3, 4, 6, 3}, false, o);
  if (name == "resnet50") return resnet({3, 4, 6, 3}, true, o);
  if (name == "resnet9") return resnet9(o);
  if (name == "simple_cnn") return simple_cnn(o);
  const std::string guess = closest_match(name, preset_names());
  throw ConfigError("unknown preset '" + name + "'" +
                    (guess.empty() ? "" : "; did you mean '" + guess + "'?") +
                    " (known presets: " + join(preset_names()) + ")");
}

}  // namespace te
