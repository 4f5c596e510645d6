#pragma once
// Built-in architectures, generated as the same layer list a hand-written model description
// holds (see model_spec.h), so presets and YAML models share one code path.
//   resnet18, resnet34 (BasicBlock), resnet50 (Bottleneck, stride on the 3x3 conv: torchvision
//   v1.5): torchvision's exact structure, layer names and parameter order, so their state dicts
//   open in PyTorch.
//   resnet9: the fast CIFAR-10 recipe's network (prep conv, three stages with pooling, two
//   residual blocks), for 28-128 px images; `width` scales its channels.
//   simple_cnn: two conv-conv-pool stages and a linear classifier, for 28x28 images
//   (Fashion-MNIST); `width` scales its channels.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace te {

struct PresetOptions {
  int64_t num_classes = 1000;
  int64_t in_channels = 3;
  double width = 1.0;  // only the small presets accept a value other than 1
};

std::vector<std::string> preset_names();
// Whether the preset scales its channels by `width`.
bool preset_accepts_width(const std::string& name);
// The layer list of the preset (a YAML sequence of layer mappings). Throws ConfigError for an
// unknown name (listing the known ones, suggesting the closest).
YAML::Node preset_layers(const std::string& name, const PresetOptions& options);

}  // namespace te
