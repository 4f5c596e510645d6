#include "engine/layers/dropout.h"

#include "kernels/dropout.h"
#include "kernels/elementwise.h"

namespace te {

Dropout::Dropout(LayerArgs& args) : p_(args.get_float("p", 0.5)) {
  if (!(p_ >= 0.0 && p_ < 1.0))
    throw ConfigError(args.location("p") + ": drop probability must be in [0, 1), got " +
                      std::to_string(p_));
}

uint64_t Dropout::mask_key(uint64_t seed) const {
  uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across runs and platforms
  for (unsigned char c : name()) h = (h ^ c) * 1099511628211ull;
  return seed ^ (h * 0xBF58476D1CE4E5B9ull);
}

Shape Dropout::output_shape(const std::vector<Shape>& inputs) const {
  if (inputs.size() != 1)
    throw ShapeError(describe() + ": takes 1 input, got " + std::to_string(inputs.size()));
  return inputs[0];
}

void Dropout::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                      const RunContext& ctx) {
  const Tensor& x = *inputs.at(0);
  ensure_shape(output, x.shape(), x.dtype(), x.device());
  if (ctx.training && p_ > 0.0)
    ops::dropout_forward(x, output, p_, mask_key(ctx.seed), ctx.step);
  else
    ops::copy_or_add(x, output, false);
}

void Dropout::backward(const BackwardArgs& args) {
  Tensor* dx = args.grad_inputs.at(0);
  if (!dx) return;
  const bool accumulate = args.modes.at(0) == GradMode::Accumulate;
  if (args.ctx.training && p_ > 0.0)
    ops::dropout_backward(*args.grad_output, *dx, p_, mask_key(args.ctx.seed), args.ctx.step,
                          accumulate);
  else
    ops::copy_or_add(*args.grad_output, *dx, accumulate);
}

}  // namespace te
