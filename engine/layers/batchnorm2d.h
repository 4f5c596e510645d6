#pragma once
// Registry type "batchnorm2d": PyTorch's nn.BatchNorm2d over [N, C, H, W] inputs.
// Args: eps (1e-5), momentum (0.1), affine (true), num_features (optional; checked against C).
// Parameters weight [C] (ones), bias [C] (zeros) when affine; buffers running_mean [C] (zeros),
// running_var [C] (ones), num_batches_tracked [] i64 — torchvision's state-dict names.
// Training normalises with the batch statistics and updates the running ones (unbiased
// variance), eval uses the running statistics; backward follows whichever forward ran.
#include "engine/layers/layer.h"
#include "engine/layers/layer_args.h"

namespace te {

class BatchNorm2d : public Layer {
 public:
  explicit BatchNorm2d(LayerArgs& args);
  std::string type() const override { return "batchnorm2d"; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }
  bool affine() const { return affine_; }

  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void build(const std::vector<Shape>& inputs) override;
  void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
               const RunContext& ctx) override;
  void backward(const BackwardArgs& args) override;
  BackwardReads backward_reads() const override { return {true, false}; }
  // Scale, shift and statistics stay f32 under bf16/f16 activations (as cuDNN requires).
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
  Tensor save_mean_, save_invstd_;
  bool have_batch_stats_ = false;  // the last forward was in training mode
};

}  // namespace te
