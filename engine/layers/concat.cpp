#include "engine/layers/concat.h"

#include "kernels/concat.h"

namespace te {

Concat::Concat(LayerArgs& args) : axis_(static_cast<int>(args.get_int("axis", 1))) {}

int Concat::resolve_axis(size_t rank) const {
  const int r = static_cast<int>(rank);
  const int a = axis_ < 0 ? axis_ + r : axis_;
  if (a < 1 || a >= r)
    throw ShapeError(describe() + ": axis " + std::to_string(axis_) + " is not a non-batch axis of rank-" +
                     std::to_string(r) + " inputs (allowed: 1.." + std::to_string(r - 1) +
                     " or -" + std::to_string(r - 1) + "..-1)");
  return a;
}

Shape Concat::output_shape(const std::vector<Shape>& inputs) const {
  if (inputs.empty()) throw ShapeError(describe() + ": needs at least 1 input");
  const int a = resolve_axis(inputs[0].rank());
  Shape out = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) {
    bool fits = inputs[i].rank() == out.rank();
    for (size_t d = 0; fits && d < out.rank(); ++d)
      fits = static_cast<int>(d) == a || inputs[i][d] == out[d];
    if (!fits) {
      std::string shapes;
      for (const Shape& s : inputs) shapes += (shapes.empty() ? "" : ", ") + s.str();
      throw ShapeError(describe() + ": inputs must agree on every dimension except axis " +
                       std::to_string(a) + ", got " + shapes);
    }
    out[a] += inputs[i][a];
  }
  return out;
}

void Concat::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                     const RunContext& ctx) {
  std::vector<Shape> shapes;
  for (const Tensor* t : inputs) shapes.push_back(t->shape());
  const Tensor& x = *inputs.at(0);
  if (ctx.layout == Layout::NHWC && x.rank() == 4)
    throw Error(describe() + ": concatenating channels-last [N, C, H, W] activations is not "
                "implemented; set train.channels_last: false for this model");
  ensure_shape(output, output_shape(shapes), x.dtype(), x.device());
  ops::concat_forward(inputs, resolve_axis(x.rank()), output);
}

void Concat::backward(const BackwardArgs& args) {
  const int a = resolve_axis(args.grad_output->rank());
  std::vector<int64_t> sizes;
  std::vector<bool> accumulate;
  for (size_t i = 0; i < args.inputs.size(); ++i) {
    sizes.push_back(args.inputs[i]->shape()[a]);
    accumulate.push_back(args.modes.at(i) == GradMode::Accumulate);
  }
  ops::concat_backward(*args.grad_output, a, sizes, args.grad_inputs, accumulate);
}

}  // namespace te
