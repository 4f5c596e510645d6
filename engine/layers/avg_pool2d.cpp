#include "engine/layers/avg_pool2d.h"

#include "engine/layers/max_pool2d.h"

namespace te {

AvgPool2d::AvgPool2d(LayerArgs& args) {
  pool_ = read_pool2d_args(args, /*with_dilation=*/false);
  pool_.ceil_mode = args.get_bool("ceil_mode", false);
  pool_.count_include_pad = args.get_bool("count_include_pad", true);
}

Shape AvgPool2d::output_shape(const std::vector<Shape>& inputs) const {
  return pool2d_output_shape(describe(), inputs, pool_);
}

void AvgPool2d::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                        const RunContext& ctx) {
  const Tensor& x = *inputs.at(0);
  ensure_shape(output, output_shape({x.shape()}), x.dtype(), x.device());
  ops::avg_pool2d_forward(x, output, pool_, ctx.layout);
}

void AvgPool2d::backward(const BackwardArgs& args) {
  Tensor* dx = args.grad_inputs.at(0);
  if (!dx) return;
  ops::avg_pool2d_backward(*args.grad_output, *dx, args.modes.at(0) == GradMode::Accumulate, pool_,
                           args.ctx.layout);
}

}  // namespace te
