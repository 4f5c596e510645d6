#pragma once
// What a deployment needs besides the graph, as the ONNX model's metadata_props (string
// values; lists and numbers as JSON):
//   input_mean, input_std   per-channel, in [0, 1] units: x = (pixel / 255 - mean[c]) / std[c]
//   image_size              [H, W] of the input; channels: C
//   resize_ratio            eval preprocessing: resize the shorter side to size / ratio, centre crop
//   class_names             the output index -> name
//   input_layout            "NCHW"; preprocessing: the same in words
#include <map>
#include <string>

#include "engine/train/model_info.h"

namespace te {

std::map<std::string, std::string> onnx_metadata(const ModelInfo& info);

}  // namespace te
