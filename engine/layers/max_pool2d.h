#pragma once
// Registry type "maxpool2d": PyTorch's nn.MaxPool2d over [N, C, H, W] inputs.
// Args: kernel (int or [h, w], required), stride (default: kernel), padding (0), dilation (1),
// ceil_mode (false). Padding never wins a window (it counts as -inf). The gradient of a
// window goes to its first maximum in scan order, as in PyTorch's CPU kernel; forward saves
// those positions (i32, one per output element) for backward.
#include "engine/layers/layer.h"
#include "engine/layers/layer_args.h"
#include "kernels/pool.h"

namespace te {

// Shared with AvgPool2d: reads kernel, stride (default kernel), padding and, when asked,
// dilation; rejects padding over half the (dilated) kernel as PyTorch does.
ops::Pool2dParams read_pool2d_args(LayerArgs& args, bool with_dilation);
// [N, C, OH, OW] for one [N, C, H, W] input, or a ShapeError naming `who`.
Shape pool2d_output_shape(const std::string& who, const std::vector<Shape>& inputs,
                          const ops::Pool2dParams& p);

class MaxPool2d : public Layer {
 public:
  explicit MaxPool2d(LayerArgs& args);
  std::string type() const override { return "maxpool2d"; }
  const ops::Pool2dParams& pool_params() const { return pool_; }

  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
               const RunContext& ctx) override;
  void backward(const BackwardArgs& args) override;
  BackwardReads backward_reads() const override { return {false, false}; }  // argmax is saved
  int64_t saved_bytes(const std::vector<Shape>& inputs) const override;

 private:
  ops::Pool2dParams pool_;
  Tensor argmax_;         // from the last forward: a view of argmax_buffer_
  Tensor argmax_buffer_;  // grows only (ensure_view)
};

}  // namespace te
