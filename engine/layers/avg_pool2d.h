#pragma once
// Registry type "avgpool2d": PyTorch's nn.AvgPool2d over [N, C, H, W] inputs.
// Args: kernel (int or [h, w], required), stride (default: kernel), padding (0),
// count_include_pad (true), ceil_mode (false). Divisors follow PyTorch: with
// count_include_pad the window clipped to the padded input, else its pixels inside the input.
#include "engine/layers/layer.h"
#include "engine/layers/layer_args.h"
#include "kernels/pool.h"

namespace te {

class AvgPool2d : public Layer {
 public:
  explicit AvgPool2d(LayerArgs& args);
  std::string type() const override { return "avgpool2d"; }
  const ops::Pool2dParams& pool_params() const { return pool_; }

  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
               const RunContext& ctx) override;
  void backward(const BackwardArgs& args) override;
  BackwardReads backward_reads() const override { return {false, false}; }

 private:
  ops::Pool2dParams pool_;
};

}  // namespace te
