#include "engine/layers/linear.h"

#include "kernels/linear.h"

namespace te {

Linear::Linear(LayerArgs& args) {
  out_features_ = args.get_int("out_features");
  if (out_features_ <= 0)
    throw ConfigError(args.location("out_features") + ": must be positive, got " +
                      std::to_string(out_features_));
  bias_ = args.get_bool("bias", true);
}

Shape Linear::output_shape(const std::vector<Shape>& inputs) const {
  if (inputs.size() != 1 || inputs[0].rank() != 2)
    throw ShapeError(
        describe() + ": takes one [N, features] input, got " +
        (inputs.empty() ? std::string("none") : inputs[0].str()) +
        (inputs.size() > 1 ? " and more" : "") +
        (inputs.size() == 1 && inputs[0].rank() > 2 ? " (add a flatten layer before it)" : ""));
  if (in_features_ && inputs[0][1] != in_features_)
    throw ShapeError(describe() + ": built for " + std::to_string(in_features_) +
                     " input features, got input " + inputs[0].str());
  if (inputs[0][1] <= 0)
    throw ShapeError(describe() + ": input " + inputs[0].str() + " has no features");
  return Shape{inputs[0][0], out_features_};
}

void Linear::build(const std::vector<Shape>& inputs) {
  output_shape(inputs);
  if (!params_.empty()) return;  // built before; output_shape checked the features
  in_features_ = inputs[0][1];
  declare_param("weight", Shape{out_features_, in_features_}, Init::UniformFanIn, in_features_,
                out_features_);
  if (bias_)
    declare_param("bias", Shape{out_features_}, Init::UniformFanIn, in_features_, out_features_);
}

Param& Linear::weight() {
  if (params_.empty() || !params_[0].value.defined())
    throw Error(describe() + ": used before build() and parameter allocation");
  return params_[0];
}

void Linear::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                     const RunContext& ctx) {
  const Tensor& x = *inputs.at(0);
  ensure_shape(output, output_shape({x.shape()}), x.dtype(), x.device());
  const Tensor& w = weight().value;
  ops::linear_forward(x, w, bias_ ? &params_[1].value : nullptr, output);
}

void Linear::backward(const BackwardArgs& args) {
  const Tensor& x = *args.inputs.at(0);
  const Tensor& dy = *args.grad_output;
  Param& w = weight();
  if (Tensor* dx = args.grad_inputs.at(0))
    ops::linear_backward_input(dy, w.value, *dx, args.modes.at(0) == GradMode::Accumulate);
  // A weight without a bound gradient buffer is frozen: no parameter gradients then.
  if (!w.grad.defined()) return;
  Tensor* db = bias_ && params_[1].grad.defined() ? &params_[1].grad : nullptr;
  ops::linear_backward_params(x, dy, w.grad, db);
}

}  // namespace te
