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

BatchNormAct::BatchNormAct(LayerArgs& args)
    : BatchNormBase(args), activation_(activation_arg(args)), residual_(args.get_bool("residual", false)) {}

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
  check_input(inputs[0]);
  return inputs[0];
}

void BatchNormAct::build(const std::vector<Shape>& inputs) {
  output_shape(inputs);
  declare_state(inputs[0]);
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
    ops::batchnorm_act_forward_eval(x, r, weight(), bias(), rmean, rvar, eps_, activation_, output,
                                    ctx.layout);
    have_batch_stats_ = false;
    return;
  }
  if (ctx.batch_stats_sync)
    throw Error(describe() + ": synchronised batch norm is not implemented in the fused layer; "
                "build the graph unfused (GraphOptions::fuse = false, as the trainer does with "
                "train.sync_batchnorm)");
  prepare_saved_stats(x);
  ops::batchnorm_act_forward_train(x, r, weight(), bias(), rmean, rvar, &buffer(2).value,
                                   save_mean_, save_invstd_, eps_, momentum_, activation_, output,
                                   ctx.layout);
  have_batch_stats_ = true;
}

void BatchNormAct::backward(const BackwardArgs& args) {
  // Each input has its own mode; the residual's gradient is the one at the add.
  Tensor* dx = args.grad_inputs.at(0);
  const bool accumulate_dx = dx && args.modes.at(0) == GradMode::Accumulate;
  Tensor* dr = residual_ ? args.grad_inputs.at(1) : nullptr;
  const bool accumulate_dr = dr && args.modes.at(1) == GradMode::Accumulate;
  Tensor* dw = weight_grad();
  Tensor* db = bias_grad();
  const Tensor& x = *args.inputs.at(0);
  const Tensor& y = *args.output;
  if (args.ctx.training) {
    if (!have_batch_stats_)
      throw Error(describe() + ": training-mode backward without a training-mode forward");
    ops::batchnorm_act_backward_train(x, y, *args.grad_output, weight(), save_mean_, save_invstd_,
                                      activation_, dx, accumulate_dx, dr, accumulate_dr, dw, db,
                                      args.ctx.layout);
  } else {
    ops::batchnorm_act_backward_eval(x, y, *args.grad_output, weight(), buffer(0).value,
                                     buffer(1).value, eps_, activation_, dx, accumulate_dx, dr,
                                     accumulate_dr, dw, db, args.ctx.layout);
  }
}

}  // namespace te
