#include "engine/layers/conv2d.h"

#include <optional>
#include <tuple>

namespace te {
namespace {

using Pair = std::pair<int64_t, int64_t>;

// A positive (or, with min 0, non-negative) int or [h, w]; required when there is no fallback.
Pair read_pair(LayerArgs& args, const std::string& key, std::optional<Pair> fallback, int64_t min) {
  const auto v = fallback ? args.get_pair(key, *fallback) : args.get_pair(key);
  if (v.first < min || v.second < min)
    throw ConfigError(args.location(key) + ": must be >= " + std::to_string(min) + ", got [" +
                      std::to_string(v.first) + ", " + std::to_string(v.second) + "]");
  return v;
}

}  // namespace

Conv2d::Conv2d(LayerArgs& args) {
  out_channels_ = args.get_int("out_channels");
  if (out_channels_ <= 0)
    throw ConfigError(args.location("out_channels") + ": must be positive, got " +
                      std::to_string(out_channels_));
  std::tie(conv_.kernel_h, conv_.kernel_w) = read_pair(args, "kernel", std::nullopt, 1);
  std::tie(conv_.stride_h, conv_.stride_w) = read_pair(args, "stride", Pair{1, 1}, 1);
  std::tie(conv_.pad_h, conv_.pad_w) = read_pair(args, "padding", Pair{0, 0}, 0);
  std::tie(conv_.dilation_h, conv_.dilation_w) = read_pair(args, "dilation", Pair{1, 1}, 1);
  conv_.groups = args.get_int("groups", 1);
  if (conv_.groups <= 0 || out_channels_ % conv_.groups != 0)
    throw ConfigError(args.location("groups") + ": must be positive and divide out_channels (" +
                      std::to_string(out_channels_) + "), got " + std::to_string(conv_.groups));
  bias_ = args.get_bool("bias", true);
}

Shape Conv2d::output_shape(const std::vector<Shape>& inputs) const {
  if (inputs.size() != 1 || inputs[0].rank() != 4)
    throw ShapeError(describe() + ": takes one [N, C, H, W] input, got " +
                     (inputs.empty() ? std::string("none") : inputs[0].str()) +
                     (inputs.size() > 1 ? " and more" : ""));
  const Shape& x = inputs[0];
  if (x[1] % conv_.groups != 0)
    throw ShapeError(describe() + ": input " + x.str() + " has " + std::to_string(x[1]) +
                     " channels, not divisible by groups = " + std::to_string(conv_.groups));
  if (in_channels_ && x[1] != in_channels_)
    throw ShapeError(describe() + ": built for " + std::to_string(in_channels_) +
                     " input channels, got input " + x.str());
  const int64_t oh =
      ops::conv_output_size(x[2], conv_.kernel_h, conv_.stride_h, conv_.pad_h, conv_.dilation_h);
  const int64_t ow =
      ops::conv_output_size(x[3], conv_.kernel_w, conv_.stride_w, conv_.pad_w, conv_.dilation_w);
  if (oh <= 0 || ow <= 0)
    throw ShapeError(describe() + ": input " + x.str() + " is too small for kernel " +
                     std::to_string(conv_.kernel_h) + "x" + std::to_string(conv_.kernel_w) +
                     " with padding " + std::to_string(conv_.pad_h) + "x" +
                     std::to_string(conv_.pad_w) + " and dilation " +
                     std::to_string(conv_.dilation_h) + "x" + std::to_string(conv_.dilation_w) +
                     " (output would be " + std::to_string(oh) + "x" + std::to_string(ow) + ")");
  return Shape{x[0], out_channels_, oh, ow};
}

void Conv2d::build(const std::vector<Shape>& inputs) {
  output_shape(inputs);
  if (!params_.empty()) return;  // built before; output_shape checked the channels
  in_channels_ = inputs[0][1];
  const int64_t taps = conv_.kernel_h * conv_.kernel_w;
  const int64_t fan_in = in_channels_ / conv_.groups * taps;
  declare_param("weight",
                Shape{out_channels_, in_channels_ / conv_.groups, conv_.kernel_h, conv_.kernel_w},
                Init::KaimingNormalFanOut, fan_in, out_channels_ * taps);
  if (bias_)
    declare_param("bias", Shape{out_channels_}, Init::UniformFanIn, fan_in, out_channels_ * taps);
}

Param& Conv2d::weight() {
  if (params_.empty() || !params_[0].value.defined())
    throw Error(describe() + ": used before build() and parameter allocation");
  return params_[0];
}

void Conv2d::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                     const RunContext& ctx) {
  const Tensor& x = *inputs.at(0);
  const Shape out = output_shape({x.shape()});
  ensure_shape(output, out, x.dtype(), x.device());
  const Tensor& w = weight().value;
  ops::conv2d_forward(x, w, bias_ ? &params_[1].value : nullptr, output, conv_, workspace_,
                      ctx.layout);
}

void Conv2d::backward(const BackwardArgs& args) {
  const Tensor& x = *args.inputs.at(0);
  const Tensor& dy = *args.grad_output;
  Param& w = weight();
  if (Tensor* dx = args.grad_inputs.at(0))
    ops::conv2d_backward_input(dy, w.value, *dx, args.modes.at(0) == GradMode::Accumulate, conv_,
                               workspace_, args.ctx.layout);
  // A weight without a bound gradient buffer is frozen: no parameter gradients then.
  if (!w.grad.defined()) return;
  Tensor* db = bias_ && params_[1].grad.defined() ? &params_[1].grad : nullptr;
  ops::conv2d_backward_params(x, dy, w.grad, db, conv_, workspace_, args.ctx.layout);
}

}  // namespace te
