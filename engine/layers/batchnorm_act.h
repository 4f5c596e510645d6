#pragma once
// Registry type "batchnorm2d_act": batch norm fused with an optional residual add and an
// activation, y = act(BN(x) + r) on [N, C, H, W] inputs; what the graph's fusion pass puts in
// place of `batchnorm2d -> relu` and of `batchnorm2d -> add(bn, shortcut) -> relu`.
// Args: those of batchnorm2d - eps (1e-5), momentum (0.1), affine (true), num_features
// (optional; checked against C) - plus activation (relu | none; relu) and residual (false).
// Inputs: [x], or [x, r] with residual: true (r of x's shape).
// Parameters and buffers are batchnorm2d's exactly (weight, bias, running_mean, running_var,
// num_batches_tracked; same shapes, init and names), so a state dict is that of the unfused
// model. Training/eval as batchnorm2d. Neither BN(x) nor BN(x) + r is kept: backward reads x,
// the output y (the ReLU mask y > 0) and the per-channel batch mean and 1/std.
#include "engine/layers/layer.h"
#include "engine/layers/layer_args.h"
#include "kernels/batchnorm_act.h"

namespace te {

class BatchNormAct : public Layer {
 public:
  explicit BatchNormAct(LayerArgs& args);
  std::string type() const override { return "batchnorm2d_act"; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }
  bool affine() const { return affine_; }
  ops::BatchNormActivation activation() const { return activation_; }
  bool residual() const { return residual_; }

  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void build(const std::vector<Shape>& inputs) override;
  void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
               const RunContext& ctx) override;
  void backward(const BackwardArgs& args) override;
  // x always (r never); the output only for ReLU (its mask).
  BackwardReads backward_reads() const override {
    return {true, activation_ == ops::BatchNormActivation::ReLU, /*first_inputs=*/1};
  }
  // Scale, shift and statistics stay f32 under bf16/f16 activations, as batchnorm2d's.
  DType param_dtype(DType compute) const override {
    return compute == DType::BF16 || compute == DType::F16 ? DType::F32 : compute;
  }
  // The batch mean and 1/sqrt(var + eps) per channel, kept from forward for backward.
  int64_t saved_bytes(const std::vector<Shape>& inputs) const override;

 private:
  Param& buffer(size_t i);  // 0 running_mean, 1 running_var, 2 num_batches_tracked
  const Tensor* weight() const { return affine_ ? &params_[0].value : nullptr; }
  const Tensor* bias() const { return affine_ ? &params_[1].value : nullptr; }

  double eps_ = 1e-5;
  double momentum_ = 0.1;
  bool affine_ = true;
  int64_t num_features_ = 0;  // 0: take C from the input
  ops::BatchNormActivation activation_ = ops::BatchNormActivation::ReLU;
  bool residual_ = false;
  Tensor save_mean_, save_invstd_;
  bool have_batch_stats_ = false;  // the last forward was in training mode
};

}  // namespace te
