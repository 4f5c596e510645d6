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
#include "engine/layers/batchnorm_base.h"
#include "kernels/batchnorm_act.h"

namespace te {

class BatchNormAct : public BatchNormBase {
 public:
  explicit BatchNormAct(LayerArgs& args);
  std::string type() const override { return "batchnorm2d_act"; }
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

 private:
  ops::BatchNormActivation activation_ = ops::BatchNormActivation::ReLU;
  bool residual_ = false;
};

}  // namespace te
