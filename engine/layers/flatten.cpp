#include "engine/layers/flatten.h"

#include "kernels/elementwise.h"

namespace te {

Shape Flatten::output_shape(const std::vector<Shape>& inputs) const {
  if (inputs.size() != 1 || inputs[0].rank() < 2)
    throw ShapeError(describe() + ": takes one input of rank >= 2 ([N, ...]), got " +
                     (inputs.empty() ? std::string("none") : inputs[0].str()) +
                     (inputs.size() > 1 ? " and more" : ""));
  const Shape& x = inputs[0];
  int64_t features = 1;
  for (size_t i = 1; i < x.rank(); ++i) features *= x[i];
  return Shape{x[0], features};
}

void Flatten::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                      const RunContext& ctx) {
  const Tensor& x = *inputs.at(0);
  if (ctx.layout == Layout::NHWC && x.rank() == 4 && x.dim(2) * x.dim(3) > 1)
    throw Error(describe() + ": flattening the channels-last activation " + x.shape().str() +
                " would order its features differently from NCHW (and from the checkpoint's "
                "linear weights); pool to [N, C] first (global_avg_pool), or set "
                "train.channels_last: false");
  ensure_shape(output, output_shape({x.shape()}), x.dtype(), x.device());
  output.copy_from(x);
}

void Flatten::backward(const BackwardArgs& args) {
  Tensor* dx = args.grad_inputs.at(0);
  if (!dx) return;
  Tensor flat = dx->reshape(args.grad_output->shape());  // shares dx's storage
  ops::copy_or_add(*args.grad_output, flat, args.modes.at(0) == GradMode::Accumulate);
}

}  // namespace te
