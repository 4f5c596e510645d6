#pragma once
// What it takes to rebuild a trained model and feed it images: the model description, the input
// shape, the class names and the preprocessing. Stored as string metadata in every weights
// file ("te.*" keys), so a checkpoint file is enough for eval and predict.
#include <yaml-cpp/yaml.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/shape.h"
#include "engine/graph/graph.h"

namespace te {

struct ModelInfo {
  YAML::Node model;       // the model section with num_classes and in_channels filled in
  Shape input_chw;        // [C, H, W]
  std::vector<std::string> class_names;
  std::vector<float> mean, std;
  double resize_ratio = 0.875;  // eval preprocessing (TransformConfig::resize_ratio)

  std::map<std::string, std::string> to_metadata() const;
  // IoError naming `source` when keys are missing or malformed.
  static ModelInfo from_metadata(const std::map<std::string, std::string>& metadata,
                                 const std::string& source);
};

// mean/std for `channels` when the config leaves them unset: ImageNet's for RGB, 0.5 for gray.
std::vector<float> default_mean(int64_t channels);
std::vector<float> default_std(int64_t channels);

// A model loaded from a weights file: the graph (eval-ready, on `device`) and its info.
struct LoadedModel {
  ModelInfo info;
  std::unique_ptr<Graph> graph;
};
LoadedModel load_model(const std::string& weights_path, Device device);

}  // namespace te
