#pragma once
// The layer types the ONNX exporter knows (onnx_layers.cpp); a test checks that this is
// every registered layer type, so a new layer cannot silently lack an export.
#include <string>
#include <vector>

namespace te {

std::vector<std::string> onnx_exported_types();

}  // namespace te
