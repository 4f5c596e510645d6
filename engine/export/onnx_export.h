#pragma once
// Exporting a trained model to ONNX (`trainer export`). The exported graph takes the
// normalised float input [N, C, H, W] (pixels / 255, then (x - mean[c]) / std[c]; both in the
// metadata) and outputs `logits` [N, classes] as our eval mode computes them, plus
// `probabilities` (softmax over classes) when asked. Every layer type of the registry is
// exported; batch norm as BatchNormalization or folded into the convolution before it,
// dropout as Identity. The file passes ONNX's checker before it is written.
#include <cstdint>
#include <string>

#include "engine/export/export_error.h"
#include "engine/export/export_source.h"

namespace te {

struct OnnxExportOptions {
  int64_t opset = 17;          // ONNX operator set (kOnnxMinOpset .. onnx_max_opset())
  bool dynamic_batch = false;  // batch dimension "batch" instead of 1
  bool softmax = false;        // add the `probabilities` output
  bool fold_bn = false;        // fold batch norm into the convolution it follows, where possible
};

// Below 13 Softmax and the other operators we use had different semantics.
constexpr int64_t kOnnxMinOpset = 13;
// Whether this build has the ONNX exporter (libonnx-dev was found by cmake).
bool onnx_export_available();
// The newest operator set the linked ONNX library knows (its checker cannot check newer ones).
int64_t onnx_max_opset();

// The serialised ModelProto; ExportError for an unsupported layer, option or opset, and when
// ONNX's checker rejects the result.
std::string export_onnx(const ExportSource& source, const OnnxExportOptions& options);

// Loads the weights file (or a run directory's best/latest weights) and writes `out_path`.
void export_onnx_file(const std::string& checkpoint, const std::string& out_path,
                      const OnnxExportOptions& options);

}  // namespace te
