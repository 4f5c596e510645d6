#include "engine/layers/batchnorm2d.h"

#include "kernels/batchnorm.h"

namespace te {

BatchNorm2d::BatchNorm2d(LayerArgs& args)
    : eps_(args.get_float("eps", 1e-5)),
      momentum_(args.get_float("momentum", 0.1)),
      affine_(args.get_bool("affine", true)),
      num_features_(args.get_int("num_features", 0)) {
  if (!(eps_ > 0.0)) throw ConfigError(args.location("eps") + ": must be > 0, got " + std::to_string(eps_));
  if (!(momentum_ >= 0.0 && momentum_ <= 1.0))
    throw ConfigError(args.location("momentum") + ": must be in [0, 1], got " + std::to_string(momentum_));
  if (num_features_ < 0)
    throw ConfigError(args.location("num_features") + ": must be positive, got " + std::to_string(num_features_));
}

Shape BatchNorm2d::output_shape(const std::vector<Shape>& inputs) const {
  if (inputs.size() != 1 || inputs[0].rank() != 4)
    throw ShapeError(describe() + ": takes one [N, C, H, W] input, got " +
                     (inputs.empty() ? std::string("none") : inputs[0].str()) +
                     (inputs.size() > 1 ? " and more" : ""));
  if (num_features_ && inputs[0][1] != num_features_)
    throw ShapeError(describe() + ": input " + inputs[0].str() + " has " +
                     std::to_string(inputs[0][1]) + " channels, num_features is " +
                     std::to_string(num_features_));
  return inputs[0];
}

void BatchNorm2d::build(const std::vector<Shape>& inputs) {
  output_shape(inputs);
  const Shape c{inputs[0][1]};
  if (!buffers_.empty()) {  // built before: the channels must not change
    if (buffers_[0].shape != c)
      throw ShapeError(describe() + ": built for " + buffers_[0].shape.str() + " channels, now " + c.str());
    return;
  }
  if (affine_) {
    declare_param("weight", c, Init::Ones);
    declare_param("bias", c, Init::Zeros);
  }
  declare_buffer("running_mean", c, Init::Zeros);
  declare_buffer("running_var", c, Init::Ones);
  declare_buffer("num_batches_tracked", Shape{}, Init::Zeros, DType::I64);
}

Param& BatchNorm2d::buffer(size_t i) {
  if (buffers_.size() != 3 || !buffers_[i].value.defined())
    throw Error(describe() + ": used before build() and parameter allocation");
  return buffers_[i];
}

void BatchNorm2d::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                          const RunContext& ctx) {
  const Tensor& x = *inputs.at(0);
  output_shape({x.shape()});
  ensure_shape(output, x.shape(), x.dtype(), x.device());
  Tensor& rmean = buffer(0).value;
  Tensor& rvar = buffer(1).value;
  if (!ctx.training) {
    ops::batchnorm_forward_eval(x, weight(), bias(), rmean, rvar, eps_, output);
    have_batch_stats_ = false;
    return;
  }
  const Shape c{x.dim(1)};
  ensure_shape(save_mean_, c, x.dtype(), x.device());
  ensure_shape(save_invstd_, c, x.dtype(), x.device());
  ops::batchnorm_forward_train(x, weight(), bias(), rmean, rvar, &buffer(2).value, save_mean_,
                               save_invstd_, eps_, momentum_, output);
  have_batch_stats_ = true;
}

void BatchNorm2d::backward(const BackwardArgs& args) {
  Tensor* dx = args.grad_inputs.at(0);
  const bool accumulate = dx && args.modes.at(0) == GradMode::Accumulate;
  // Parameter gradients are skipped only where no buffer was bound (frozen parameters).
  Tensor* dw = affine_ && params_[0].grad.defined() ? &params_[0].grad : nullptr;
  Tensor* db = affine_ && params_[1].grad.defined() ? &params_[1].grad : nullptr;
  const Tensor& x = *args.inputs.at(0);
  if (args.ctx.training) {
    if (!have_batch_stats_)
      throw Error(describe() + ": training-mode backward without a training-mode forward");
    ops::batchnorm_backward_train(x, *args.grad_output, weight(), save_mean_, save_invstd_, dx,
                                  accumulate, dw, db);
  } else {
    ops::batchnorm_backward_eval(x, *args.grad_output, weight(), buffer(0).value,
                                 buffer(1).value, eps_, dx, accumulate, dw, db);
  }
}

int64_t BatchNorm2d::saved_bytes(const std::vector<Shape>& inputs) const {
  return inputs.empty() || inputs[0].rank() < 2 ? 0 : 2 * inputs[0][1] * static_cast<int64_t>(sizeof(float));
}

}  // namespace te
