#include "engine/layers/max_pool2d.h"

#include <tuple>

namespace te {

ops::Pool2dParams read_pool2d_args(LayerArgs& args, bool with_dilation) {
  auto read = [&](const std::string& key, std::pair<int64_t, int64_t> v, int64_t min) {
    if (v.first < min || v.second < min)
      throw ConfigError(args.location(key) + ": must be >= " + std::to_string(min) + ", got [" +
                        std::to_string(v.first) + ", " + std::to_string(v.second) + "]");
    return v;
  };
  ops::Pool2dParams p;
  std::tie(p.kernel_h, p.kernel_w) = read("kernel", args.get_pair("kernel"), 1);
  std::tie(p.stride_h, p.stride_w) =
      read("stride", args.get_pair("stride", {p.kernel_h, p.kernel_w}), 1);
  std::tie(p.pad_h, p.pad_w) = read("padding", args.get_pair("padding", {0, 0}), 0);
  if (with_dilation)
    std::tie(p.dilation_h, p.dilation_w) = read("dilation", args.get_pair("dilation", {1, 1}), 1);
  const int64_t half_h = ((p.kernel_h - 1) * p.dilation_h + 1) / 2;
  const int64_t half_w = ((p.kernel_w - 1) * p.dilation_w + 1) / 2;
  if (p.pad_h > half_h || p.pad_w > half_w)
    throw ConfigError(args.location("padding") + ": must be at most half the kernel (" +
                      std::to_string(half_h) + ", " + std::to_string(half_w) + "), got [" +
                      std::to_string(p.pad_h) + ", " + std::to_string(p.pad_w) + "]");
  return p;
}

Shape pool2d_output_shape(const std::string& who, const std::vector<Shape>& inputs,
                          const ops::Pool2dParams& p) {
  if (inputs.size() != 1 || inputs[0].rank() != 4)
    throw ShapeError(who + ": takes one [N, C, H, W] input, got " +
                     (inputs.empty() ? std::string("none") : inputs[0].str()) +
                     (inputs.size() > 1 ? " and more" : ""));
  const Shape& x = inputs[0];
  const int64_t oh =
      ops::pool_output_size(x[2], p.kernel_h, p.stride_h, p.pad_h, p.dilation_h, p.ceil_mode);
  const int64_t ow =
      ops::pool_output_size(x[3], p.kernel_w, p.stride_w, p.pad_w, p.dilation_w, p.ceil_mode);
  if (oh <= 0 || ow <= 0)
    throw ShapeError(who + ": input " + x.str() + " is too small for kernel " +
                     std::to_string(p.kernel_h) + "x" + std::to_string(p.kernel_w) +
                     " with padding " + std::to_string(p.pad_h) + "x" + std::to_string(p.pad_w) +
                     " (output would be " + std::to_string(oh) + "x" + std::to_string(ow) + ")");
  return Shape{x[0], x[1], oh, ow};
}

MaxPool2d::MaxPool2d(LayerArgs& args) {
  pool_ = read_pool2d_args(args, /*with_dilation=*/true);
  pool_.ceil_mode = args.get_bool("ceil_mode", false);
}

Shape MaxPool2d::output_shape(const std::vector<Shape>& inputs) const {
  return pool2d_output_shape(describe(), inputs, pool_);
}

void MaxPool2d::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                        const RunContext& ctx) {
  const Tensor& x = *inputs.at(0);
  const Shape out = output_shape({x.shape()});
  ensure_shape(output, out, x.dtype(), x.device());
  ensure_view(argmax_buffer_, argmax_, out, DType::I32, x.device());
  ops::max_pool2d_forward(x, output, argmax_, pool_, ctx.layout);
}

void MaxPool2d::backward(const BackwardArgs& args) {
  Tensor* dx = args.grad_inputs.at(0);
  if (!dx) return;
  if (!argmax_.defined()) throw Error(describe() + ": backward called before forward");
  ops::max_pool2d_backward(*args.grad_output, argmax_, *dx,
                           args.modes.at(0) == GradMode::Accumulate, args.ctx.layout);
}

int64_t MaxPool2d::saved_bytes(const std::vector<Shape>& inputs) const {
  return output_shape(inputs).numel() * static_cast<int64_t>(dtype_size(DType::I32));
}

}  // namespace te
