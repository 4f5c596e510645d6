#include "engine/export/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <spdlog/spdlog.h>

#include "engine/export/model_topology.h"
#include "engine/export/onnx_builder.h"
#include "engine/export/onnx_layers.h"
#include "engine/export/onnx_metadata.h"
#include "engine/io/atomic_file.h"
#include "engine/layers/batchnorm_base.h"
#include "engine/layers/conv2d.h"
#include "engine/train/run_dir.h"

namespace te {
namespace {

// A float tensor value [batch, dims[1:]...], batch symbolic with dynamic_batch.
void set_value_info(onnx::ValueInfoProto* v, const std::string& name, const Shape& shape, bool dynamic_batch) {
  v->set_name(name);
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (size_t d = 0; d < shape.rank(); ++d) {
    onnx::TensorShapeProto_Dimension* dim = t->mutable_shape()->add_dim();
    if (d == 0 && dynamic_batch)
      dim->set_dim_param("batch");
    else
      dim->set_dim_value(d == 0 ? 1 : shape[d]);
  }
}

// For each convolution, the batch norm folded into it (-1: none): a batch norm whose x is a
// convolution that nothing else reads.
std::vector<int> fold_targets(const ExportSource& s) {
  const size_t n = s.graph->num_layers();
  std::vector<int> consumers(n, 0), fold(n, -1);
  for (const auto& ins : s.inputs)
    for (int j : ins)
      if (j >= 0) ++consumers[j];
  for (size_t i = 0; i < n; ++i) {
    if (!dynamic_cast<const BatchNormBase*>(&s.graph->layer(i))) continue;
    const int j = s.inputs[i][0];
    if (j >= 0 && consumers[j] == 1 && dynamic_cast<const Conv2d*>(&s.graph->layer(j))) fold[j] = static_cast<int>(i);
  }
  return fold;
}

void check(const onnx::ModelProto& m) {
  try {
    onnx::checker::check_model(m);
    // Strict shape inference on a copy: every node's shapes agree with the declared outputs.
    onnx::ModelProto copy = m;
    onnx::shape_inference::InferShapes(copy, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict=*/1));
  } catch (const std::exception& e) {
    throw ExportError(std::string("ONNX's checker rejects the exported model: ") + e.what());
  }
}

}  // namespace

bool onnx_export_available() { return true; }

int64_t onnx_max_opset() {
  return onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map().at(onnx::ONNX_DOMAIN).second;
}

std::string export_onnx(const ExportSource& s, const OnnxExportOptions& o) {
  if (o.opset < kOnnxMinOpset || o.opset > onnx_max_opset())
    throw ExportError("--opset " + std::to_string(o.opset) + " is not supported: this exporter writes opsets " +
                      std::to_string(kOnnxMinOpset) + " to " + std::to_string(onnx_max_opset()) +
                      " (the newest the linked ONNX library checks)");
  const Graph& g = *s.graph;
  const size_t n = g.num_layers();
  const std::vector<YAML::Node> args = layer_nodes(s.info.model, "the model");

  onnx::ModelProto m;
  m.set_ir_version(onnx::IR_VERSION);
  m.set_producer_name("trainer");
  m.set_producer_version(TE_VERSION);
  m.set_doc_string("image classifier exported by `trainer export`; input: normalised NCHW float32 "
                   "(see metadata input_mean, input_std), output: logits");
  m.add_opset_import()->set_version(o.opset);
  for (const auto& [k, v] : onnx_metadata(s.info)) {
    onnx::StringStringEntryProto* e = m.add_metadata_props();
    e->set_key(k);
    e->set_value(v);
  }
  onnx::GraphProto* graph = m.mutable_graph();
  graph->set_name("trainer_model");
  OnnxBuilder b(*graph);

  const Shape input_shape = Shape{1, s.info.input_chw[0], s.info.input_chw[1], s.info.input_chw[2]};
  set_value_info(graph->add_input(), "input", input_shape, o.dynamic_batch);

  const std::vector<int> fold = o.fold_bn ? fold_targets(s) : std::vector<int>(n, -1);
  std::vector<Shape> shapes(n);
  std::vector<std::string> values(n);
  std::vector<bool> folded_away(n, false);
  for (size_t i = 0; i < n; ++i) {
    std::vector<std::string> in_names;
    std::vector<Shape> in_shapes;
    for (int j : s.inputs[i]) {
      in_names.push_back(j < 0 ? "input" : values[j]);
      in_shapes.push_back(j < 0 ? input_shape : shapes[j]);
    }
    shapes[i] = g.layer(i).output_shape(in_shapes);
    LayerToEmit l{g.layer(i), args[i], in_names, in_shapes, shapes[i], g.layer_name(i)};
    if (fold[i] >= 0) {
      l.fold_bn = dynamic_cast<const BatchNormBase*>(&g.layer(fold[i]));
      folded_away[fold[i]] = true;
    }
    l.folded_away = folded_away[i];
    values[i] = emit_layer(b, l);
  }

  b.node("Identity", {values.back()}, "logits");
  set_value_info(graph->add_output(), "logits", shapes.back(), o.dynamic_batch);
  if (o.softmax) {
    onnx::NodeProto& sm = b.node("Softmax", {"logits"}, "probabilities");
    OnnxBuilder::attr(sm, "axis", int64_t{1});
    set_value_info(graph->add_output(), "probabilities", shapes.back(), o.dynamic_batch);
  }
  check(m);
  std::string bytes;
  if (!m.SerializeToString(&bytes)) throw ExportError("cannot serialise the ONNX model (over 2 GiB?)");
  return bytes;
}

void export_onnx_file(const std::string& checkpoint, const std::string& out_path,
                      const OnnxExportOptions& options) {
  const std::string weights = resolve_weights_path(checkpoint);
  const ExportSource source = load_export_source(weights);
  const std::string bytes = export_onnx(source, options);
  write_file_atomic(out_path, bytes);
  spdlog::info("exported {} ({} layers, opset {}, {} batch{}{}) to {} ({:.1f} MiB)", weights,
               source.graph->num_layers(), options.opset, options.dynamic_batch ? "dynamic" : "fixed 1",
               options.softmax ? ", softmax output" : "", options.fold_bn ? ", batch norm folded" : "", out_path,
               static_cast<double>(bytes.size()) / (1 << 20));
}

}  // namespace te
