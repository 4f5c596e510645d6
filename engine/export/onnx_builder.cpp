#include "engine/export/onnx_builder.h"

#include <fmt/format.h>

#include "engine/export/export_error.h"

namespace te {

std::string OnnxBuilder::initializer(const std::string& name, const std::vector<int64_t>& dims,
                                     const std::vector<float>& values) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  if (n != static_cast<int64_t>(values.size()))
    throw ExportError("initializer '" + name + "': " + std::to_string(values.size()) +
                      " values for " + std::to_string(n) + " elements");
  onnx::TensorProto* t = graph_.add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  // raw_data is little-endian float32, as on every host we build for.
  t->set_raw_data(values.data(), values.size() * sizeof(float));
  return name;
}

std::string OnnxBuilder::initializer(const std::string& name, const Tensor& t) {
  return initializer(name, t.shape().dims(), t.to_vector());
}

std::string OnnxBuilder::scalar(float value) {
  if (const auto it = scalars_.find(value); it != scalars_.end()) return it->second;
  const std::string name = fmt::format("const_{:.9g}", value);
  scalars_[value] = initializer(name, {}, {value});
  return name;
}

onnx::NodeProto& OnnxBuilder::node(const std::string& op, const std::vector<std::string>& inputs,
                                   const std::string& output) {
  onnx::NodeProto* n = graph_.add_node();
  n->set_op_type(op);
  n->set_name(output);
  for (const auto& in : inputs) n->add_input(in);
  n->add_output(output);
  return *n;
}

void OnnxBuilder::attr(onnx::NodeProto& n, const std::string& name, int64_t value) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void OnnxBuilder::attr(onnx::NodeProto& n, const std::string& name, float value) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

void OnnxBuilder::attr(onnx::NodeProto& n, const std::string& name,
                       const std::vector<int64_t>& values) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

}  // namespace te
