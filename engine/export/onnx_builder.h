#pragma once
// A thin helper over ONNX's generated GraphProto: float initializers, shared scalar constants
// and nodes with attributes. Internal to engine/export (it exposes ONNX's types).
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace te {

class OnnxBuilder {
 public:
  explicit OnnxBuilder(onnx::GraphProto& graph) : graph_(graph) {}

  // Adds a float initializer; returns its name.
  std::string initializer(const std::string& name, const std::vector<int64_t>& dims,
                          const std::vector<float>& values);
  std::string initializer(const std::string& name, const Tensor& t);
  // A float scalar shared by every node that needs this value (e.g. GELU's 0.5).
  std::string scalar(float value);

  // Adds a node named after its single output.
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::string& output);

  static void attr(onnx::NodeProto& n, const std::string& name, int64_t value);
  static void attr(onnx::NodeProto& n, const std::string& name, float value);
  static void attr(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& values);

 private:
  onnx::GraphProto& graph_;
  std::map<float, std::string> scalars_;
};

}  // namespace te
