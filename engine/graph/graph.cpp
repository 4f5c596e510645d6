// Graph execution: forward in listing order, backward in reverse, over buffers that persist
// across steps.
#include "engine/graph/graph.h"

#include "engine/core/error.h"

namespace te {

std::vector<Shape> Graph::input_shapes(const std::vector<Shape>& outputs, const Shape& input,
                                       const Node& node) const {
  std::vector<Shape> in;
  for (int s : node.inputs) in.push_back(s < 0 ? input : outputs[s]);
  return in;
}

Shape Graph::batched_input(int64_t batch) const {
  std::vector<int64_t> d = {batch};
  for (int64_t x : input_chw_.dims()) d.push_back(x);
  return Shape(d);
}

std::vector<Shape> Graph::shapes_at(int64_t batch) const {
  const Shape input = batched_input(batch);
  std::vector<Shape> outputs;
  outputs.reserve(nodes_.size());
  for (const Node& n : nodes_) outputs.push_back(n.layer->output_shape(input_shapes(outputs, input, n)));
  return outputs;
}

void Graph::plan_backward() {
  // A node needs its output gradient when it or something upstream has parameters.
  for (Node& n : nodes_) {
    n.needs_grad = !n.layer->params().empty();
    for (int s : n.inputs)
      if (s >= 0 && nodes_[s].needs_grad) n.needs_grad = true;
  }
  // In reverse order, the first consumer to reach a node's gradient overwrites it and the
  // others accumulate. Every consumer of a node that needs a gradient needs one too, so every
  // such gradient is overwritten exactly once before it is read.
  std::vector<bool> written(nodes_.size(), false);
  for (size_t k = nodes_.size(); k-- > 0;) {
    Node& n = nodes_[k];
    n.grad_modes.assign(n.inputs.size(), GradMode::Overwrite);
    if (!n.needs_grad) continue;
    for (size_t j = 0; j < n.inputs.size(); ++j) {
      const int s = n.inputs[j];
      if (s < 0 || !nodes_[s].needs_grad) continue;
      n.grad_modes[j] = written[s] ? GradMode::Accumulate : GradMode::Overwrite;
      written[s] = true;
    }
  }
}

void Graph::check_input(const Tensor& input) const {
  bool ok = input.rank() == input_chw_.rank() + 1 && input.dim(0) > 0;
  for (size_t i = 0; ok && i < input_chw_.rank(); ++i) ok = input.shape()[i + 1] == input_chw_[i];
  if (!ok)
    throw ShapeError("graph input: expected [N, " + input_chw_.str().substr(1) + " with N > 0, got " +
                     input.shape().str());
  if (input.dtype() != compute_dtype_ || input.device() != device_)
    throw Error(std::string("graph input: expected ") + dtype_name(compute_dtype_) + " on " +
                device_.str() + ", got " + dtype_name(input.dtype()) + " on " +
                input.device().str());
}

const Tensor& Graph::forward(const Tensor& input, const RunContext& run) {
  RunContext ctx = run;
  ctx.layout = layout_;
  check_input(input);
  prepare(input.dim(0));
  input_ = input;
  std::vector<const Tensor*> in;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    in.clear();
    for (int s : n.inputs) in.push_back(s < 0 ? &input_ : &nodes_[s].output);
    n.layer->forward(in, n.output, ctx);
    if (poison_dead_memory_) poison_after(static_cast<int>(i));
  }
  return nodes_.back().output;
}

void Graph::backward(const Tensor& grad_output, const RunContext& ctx) {
  if (inference_only_)
    throw Error("Graph::backward: this graph was built for inference only (GraphOptions::inference_only)");
  if (!input_.defined()) throw Error("Graph::backward called before forward");
  const Tensor& out = nodes_.back().output;
  if (grad_output.shape() != out.shape() || grad_output.dtype() != compute_dtype_ ||
      grad_output.device() != device_)
    throw ShapeError("Graph::backward: grad_output is " + grad_output.shape().str() + " " +
                     dtype_name(grad_output.dtype()) + " on " + grad_output.device().str() +
                     ", but the output of the last forward is " + out.shape().str() + " " +
                     dtype_name(compute_dtype_) + " on " + device_.str());
  // One BackwardArgs for all nodes: its vectors keep their capacity across nodes.
  BackwardArgs a;
  a.ctx = ctx;
  a.ctx.layout = layout_;
  for (size_t k = nodes_.size(); k-- > 0;) {
    Node& n = nodes_[k];
    if (!n.needs_grad) continue;
    a.output = &n.output;
    a.grad_output = (k + 1 == nodes_.size()) ? &grad_output : &n.grad;
    a.inputs.clear();
    a.grad_inputs.clear();
    for (int s : n.inputs) {
      a.inputs.push_back(s < 0 ? &input_ : &nodes_[s].output);
      a.grad_inputs.push_back(s >= 0 && nodes_[s].needs_grad ? &nodes_[s].grad : nullptr);
    }
    a.modes.assign(n.grad_modes.begin(), n.grad_modes.end());
    n.layer->backward(a);
    if (per_layer_scale_ && n.param_count > 0) finish_layer_gradients(n, *per_layer_scale_);
    if (gradients_ready_ && n.param_count > 0) gradients_ready_(n.param_offset, n.param_count);
    if (poison_dead_memory_) poison_after(static_cast<int>(2 * nodes_.size() - 1 - k));
  }
  finished_per_layer_ = per_layer_scale_;
  per_layer_scale_.reset();
}

}  // namespace te
