#pragma once
// What batchnorm2d and batchnorm2d_act share: the arguments (eps, momentum, affine,
// num_features), the channel check, the parameters and buffers with torchvision's names, the
// per-channel statistics kept for backward, and their dtypes under mixed precision.
#include "engine/layers/layer.h"
#include "engine/layers/layer_args.h"

namespace te {

class BatchNormBase : public Layer {
 public:
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }
  bool affine() const { return affine_; }

  // Scale, shift and statistics stay f32 under bf16/f16 activations (as cuDNN requires).
  DType param_dtype(DType compute) const override {
    return compute == DType::BF16 || compute == DType::F16 ? DType::F32 : compute;
  }
  // The batch mean and 1/sqrt(var + eps) per channel, kept from forward for backward.
  int64_t saved_bytes(const std::vector<Shape>& inputs) const override;

 protected:
  explicit BatchNormBase(LayerArgs& args);
  // Throws a ShapeError unless x is [N, C, H, W] with C == num_features (when given).
  void check_input(const Shape& x) const;
  // Declares weight/bias (affine) and running_mean/running_var/num_batches_tracked for x's
  // channels; a second call checks that the channels did not change.
  void declare_state(const Shape& x);
  Param& buffer(size_t i);  // 0 running_mean, 1 running_var, 2 num_batches_tracked
  const Tensor* weight() const { return affine_ ? &params_[0].value : nullptr; }
  const Tensor* bias() const { return affine_ ? &params_[1].value : nullptr; }
  // Parameter gradients, skipped only where no buffer was bound (frozen parameters).
  Tensor* weight_grad() { return affine_ && params_[0].grad.defined() ? &params_[0].grad : nullptr; }
  Tensor* bias_grad() { return affine_ && params_[1].grad.defined() ? &params_[1].grad : nullptr; }
  // Shapes save_mean_/save_invstd_ for x, in the running statistics' dtype (f32 under mixed
  // precision, where x is 16-bit).
  void prepare_saved_stats(const Tensor& x);

  double eps_ = 1e-5;
  double momentum_ = 0.1;
  bool affine_ = true;
  int64_t num_features_ = 0;  // 0: take C from the input
  Tensor save_mean_, save_invstd_;
  bool have_batch_stats_ = false;  // the last forward was in training mode
};

}  // namespace te
