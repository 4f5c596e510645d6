#pragma once
// One layer of our graph as ONNX nodes. Internal to engine/export (it exposes ONNX's types).
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "engine/core/shape.h"
#include "engine/export/onnx_builder.h"
#include "engine/export/onnx_layers_list.h"
#include "engine/layers/batchnorm_base.h"
#include "engine/layers/layer.h"

namespace te {

struct LayerToEmit {
  const Layer& layer;
  const YAML::Node& args;           // the layer's mapping as written (concat's axis)
  std::vector<std::string> inputs;  // ONNX value names
  std::vector<Shape> input_shapes;  // at batch 1
  Shape output_shape;               // at batch 1
  std::string output;               // the value name to produce
  // conv2d: the batch norm that follows it, folded into its weights.
  const BatchNormBase* fold_bn = nullptr;
  // batchnorm2d / batchnorm2d_act: already folded into the convolution before it.
  bool folded_away = false;
};

// Adds the layer's nodes; returns the value that holds its output (`output`, or the input for
// a batch norm folded away). ExportError naming the layer when it cannot be expressed.
std::string emit_layer(OnnxBuilder& b, const LayerToEmit& l);

}  // namespace te
