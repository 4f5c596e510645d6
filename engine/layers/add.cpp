#include "engine/layers/add.h"

#include "kernels/elementwise.h"

namespace te {

Shape Add::output_shape(const std::vector<Shape>& inputs) const {
  bool same = inputs.size() >= 2;
  for (const Shape& s : inputs) same = same && s == inputs[0];
  if (!same) {
    std::string shapes;
    for (const Shape& s : inputs) shapes += (shapes.empty() ? "" : ", ") + s.str();
    throw ShapeError(describe() + ": needs 2 or more inputs of identical shape, got " +
                     std::to_string(inputs.size()) + " input(s): " + shapes);
  }
  return inputs[0];
}

void Add::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                  const RunContext& ctx) {
  const Tensor& x = *inputs.at(0);
  ensure_shape(output, x.shape(), x.dtype(), x.device());
  ops::add_n(inputs, output);
}

void Add::backward(const BackwardArgs& args) {
  for (size_t i = 0; i < args.grad_inputs.size(); ++i)
    if (args.grad_inputs[i])
      ops::copy_or_add(*args.grad_output, *args.grad_inputs[i],
                       args.modes.at(i) == GradMode::Accumulate);
}

}  // namespace te
