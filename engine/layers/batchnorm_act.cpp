#include "engine/layers/batchnorm_act.h"

namespace te {
namespace {
ops::BatchNormActivation activation_arg(LayerArgs& args) {
  const std::string name = args.get_string("activation", "relu");
  if (name == "relu") return ops::BatchNormActivation::ReLU;
  if (name == "none") return ops::BatchNormActivation::None;
  throw ConfigError(args.location("activation") + ": expected 'relu' or 'none', got '" + name + "'");
}
}  // namespace

// The batch-norm arguments are read and checked exactly as BatchNorm2d does.
BatchNormAct::BatchNormAct(LayerArgs& args)
    : eps_(args.get_float("eps", 1e-5)),
      momentum_(args.get_float("momentum", 0.1)),
      affine_(args.get_bool("affine", true)),
      num_features_(args.get_int("num_features", 0)),
      activation_(activation_arg(args)),
      residual_(args.get_bool("residual", false)) {
  if (!(eps_ > 0.0)) throw ConfigError(args.location("eps") + ": must be > 0, got " + std::to_string(eps_));
  if (!(momentum_ >= 0.0 && momentum_ <= 1.0))
    throw ConfigError(args.location("momentum") + ": must be in [0, 1], got " + std::to_string(momentum_));
  if (num_features_ < 0)
    throw ConfigError(args.location("num_features") + ": must be positive, got " + std::to_string(num_features_));
}

Shape BatchNormAct::output_shape(const std::vector<Shape>& inputs) const {
  const size_t want = residual_ ? 2 : 1;
  bool ok = inputs.size() == want && inputs[0].rank() == 4;
  if (ok && residual_) ok = inputs[1] == inputs[0];
  if (!ok) {
    std::string shapes;
    for (const Shape& s : inputs) shapes += (shapes.empty() ? "" : ", ") + s.str();
    throw ShapeError(describe() + ": takes " +
                     (residual_ ? std::string("two inputs [x, residual], both [N, C, H, W] of the same shape")
                                : std::string("one [N, C, H, W] input")) +
                     ", got " + (shapes.empty() ? std::string("none") : shapes));
  }
  if (num_features_ && inputs[0][1] != num_features_)
    throw ShapeError(describe() + ": input " + inputs[0].str() + " has " +
                     std::to_string(inputs[0][1]) + " channels, num_features is " +
                     std::to_string(num_features_));
  return inputs[0];
}

void BatchNormAct::build(const std::vector<Shape>& inputs) {
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

Param& BatchNormAct::buffer(size_t i) {
  if (buffers_.size() != 3 || !buffers_[i].value.defined())
    throw Error(describe() + ": used before build() and parameter allocation");
  return buffers_[i];
}

void BatchNormAct::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                           const RunContext& ctx) {
  const Tensor& x = *inputs.at(0);
  const Tensor* r = residual_ ? inputs.at(1) : nullptr;
  if (r) output_shape({x.shape(), r->shape()});
  else output_shape({x.shape()});
  ensure_shape(output, x.shape(), x.dtype(), x.device());
  Tensor& rmean = buffer(0).value;
  Tensor& rvar = buffer(1).value;
  if (!ctx.training) {
    ops::batchnorm_act_forward_eval(x, r, weight(), bias(), rmean, rvar, eps_, activation_, output);
    have_batch_stats_ = false;
    return;
  }
  const Shape c{x.dim(1)};
  ensure_shape(save_mean_, c, x.dtype(), x.device());
  ensure_shape(save_invstd_, c, x.dtype(), x.device());
  ops::batchnorm_act_forward_train(x, r, weight(), bias(), rmean, rvar, &buffer(2).value,
                                   save_mean_, save_invstd_, eps_, momentum_, activation_, output);
  have_batch_stats_ = true;
}

void BatchNormAct::backward(const BackwardArgs& args) {
  // Each input has its own mode; the residual's gradient is the one at the add.
  Tensor* dx = args.grad_inputs.at(0);
  const bool accumulate_dx = dx && args.modes.at(0) == GradMode::Accumulate;
  Tensor* dr = residual_ ? args.grad_inputs.at(1) : nullptr;
  const bool accumulate_dr = dr && args.modes.at(1) == GradMode::Accumulate;
  // Parameter gradients are skipped only where no buffer was bound (frozen parameters).
  Tensor* dw = affine_ && params_[0].grad.defined() ? &params_[0].grad : nullptr;
  Tensor* db = affine_ && params_[1].grad.defined() ? &params_[1].grad : nullptr;
  const Tensor& x = *args.inputs.at(0);
  const Tensor& y = *args.output;
  if (args.ctx.training) {
    if (!have_batch_stats_)
      throw Error(describe() + ": training-mode backward without a training-mode forward");
    ops::batchnorm_act_backward_train(x, y, *args.grad_output, weight(), save_mean_, save_invstd_,
                                      activation_, dx, accumulate_dx, dr, accumulate_dr, dw, db);
  } else {
    ops::batchnorm_act_backward_eval(x, y, *args.grad_output, weight(), buffer(0).value,
                                     buffer(1).value, eps_, activation_, dx, accumulate_dx, dr,
                                     accumulate_dr, dw, db);
  }
}

int64_t BatchNormAct::saved_bytes(const std::vector<Shape>& inputs) const {
  return inputs.empty() || inputs[0].rank() < 2 ? 0 : 2 * inputs[0][1] * static_cast<int64_t>(sizeof(float));
}

}  // namespace te
