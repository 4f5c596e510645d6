#pragma once
// Registry type "conv2d": PyTorch's nn.Conv2d over [N, C, H, W] inputs.
// Args: out_channels (required), kernel (int or [h, w], required), stride (1), padding (0),
// dilation (1), groups (1), bias (true). in_channels is taken from the input at build.
// Parameters: weight [out, in/groups, kh, kw] (Kaiming normal, fan_out = out*kh*kw, as
// torchvision's ResNet), bias [out] (U(+-1/sqrt(fan_in)), fan_in = in/groups*kh*kw).
#include "engine/layers/layer.h"
#include "engine/layers/layer_args.h"
#include "kernels/conv2d.h"

namespace te {

class Conv2d : public Layer {
 public:
  explicit Conv2d(LayerArgs& args);
  std::string type() const override { return "conv2d"; }
  int64_t out_channels() const { return out_channels_; }
  const ops::Conv2dParams& conv_params() const { return conv_; }
  bool has_bias() const { return bias_; }

  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void build(const std::vector<Shape>& inputs) override;
  void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
               const RunContext& ctx) override;
  void backward(const BackwardArgs& args) override;
  BackwardReads backward_reads() const override { return {true, false}; }

 private:
  Param& weight();
  int64_t out_channels_ = 0;
  int64_t in_channels_ = 0;  // 0 until build
  ops::Conv2dParams conv_;
  bool bias_ = true;
  ops::Conv2dWorkspace workspace_;  // im2col scratch, reused across calls
};

}  // namespace te
