#include "engine/layers/global_avg_pool.h"

#include "kernels/pool.h"

namespace te {

Shape GlobalAvgPool::output_shape(const std::vector<Shape>& inputs) const {
  if (inputs.size() != 1 || inputs[0].rank() != 4 || inputs[0][2] * inputs[0][3] <= 0)
    throw ShapeError(describe() + ": takes one [N, C, H, W] input with H, W > 0, got " +
                     (inputs.empty() ? std::string("none") : inputs[0].str()) +
                     (inputs.size() > 1 ? " and more" : ""));
  return Shape{inputs[0][0], inputs[0][1]};
}

void GlobalAvgPool::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                            const RunContext& ctx) {
  const Tensor& x = *inputs.at(0);
  ensure_shape(output, output_shape({x.shape()}), x.dtype(), x.device());
  ops::global_avg_pool_forward(x, output, ctx.layout);
}

void GlobalAvgPool::backward(const BackwardArgs& args) {
  Tensor* dx = args.grad_inputs.at(0);
  if (!dx) return;
  ops::global_avg_pool_backward(*args.grad_output, *dx, args.modes.at(0) == GradMode::Accumulate,
                                args.ctx.layout);
}

}  // namespace te
