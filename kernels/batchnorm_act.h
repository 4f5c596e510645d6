#pragma once
// Batch normalisation fused with an optional residual add and an activation (ResNet's
// `bn -> relu` and `bn -> add(bn, shortcut) -> relu`), on x [N, C, ...]:
//   y = act(BN(x) + residual),  act = ReLU (max(z, 0)) or None (identity); residual optional.
// BN is exactly kernels/batchnorm.h's (same statistics, running update, num_batches_tracked,
// eps/momentum, weight/bias nullptr for affine=false); only the output map differs. Neither
// BN(x) nor BN(x) + residual is stored: backward reads x, y and the per-channel statistics, and
// recomputes the gradient at the add on the fly, dz = dy * (y > 0) (ReLU; gradient 0 at the
// kink, like PyTorch) or dz = dy (None). Then
//   dresidual = dz,  dx = BN backward of dz,  dweight += sum(dz * xhat),  dbias += sum(dz).
// dx, dresidual, dweight, dbias may each be nullptr (not wanted); dx and dresidual are
// overwritten or, with their accumulate flag, added to. residual and dresidual have x's
// shape. Every float tensor has x's dtype (the CPU takes f32 or f64, CUDA f32), except that
// CUDA also takes bf16 or f16 x, residual, y, dy, dx, dresidual (one dtype per call) with the
// per-channel tensors (weight, bias, statistics, dweight, dbias) in f32.
// layout (kernels/layout.h) is the memory order of the activations (x, y, dy, dx and, fused,
// residual, dresidual); NHWC (channels-last) runs on CUDA only, the CPU throws DeviceError.
#include "engine/core/tensor.h"
#include "kernels/dispatch.h"
#include "kernels/layout.h"

namespace te::ops {

enum class BatchNormActivation { None, ReLU };

namespace cpu {
void batchnorm_act_forward_train(const Tensor& x, const Tensor* residual, const Tensor* weight,
                                 const Tensor* bias, Tensor& running_mean, Tensor& running_var,
                                 Tensor* num_batches_tracked, Tensor& save_mean,
                                 Tensor& save_invstd, double eps, double momentum,
                                 BatchNormActivation act, Tensor& y,
                                 Layout layout = Layout::NCHW);
void batchnorm_act_forward_eval(const Tensor& x, const Tensor* residual, const Tensor* weight,
                                const Tensor* bias, const Tensor& running_mean,
                                const Tensor& running_var, double eps, BatchNormActivation act,
                                Tensor& y,
                                Layout layout = Layout::NCHW);
// y is read only for ReLU (for None it may be an undefined tensor).
void batchnorm_act_backward_train(const Tensor& x, const Tensor& y, const Tensor& dy,
                                  const Tensor* weight, const Tensor& save_mean,
                                  const Tensor& save_invstd, BatchNormActivation act, Tensor* dx,
                                  bool accumulate_dx, Tensor* dresidual,
                                  bool accumulate_dresidual, Tensor* dweight, Tensor* dbias,
                                  Layout layout = Layout::NCHW);
void batchnorm_act_backward_eval(const Tensor& x, const Tensor& y, const Tensor& dy,
                                 const Tensor* weight, const Tensor& running_mean,
                                 const Tensor& running_var, double eps, BatchNormActivation act,
                                 Tensor* dx, bool accumulate_dx, Tensor* dresidual,
                                 bool accumulate_dresidual, Tensor* dweight, Tensor* dbias,
                                 Layout layout = Layout::NCHW);
}  // namespace cpu

#ifdef TE_WITH_CUDA
namespace cuda {
void batchnorm_act_forward_train(const Tensor& x, const Tensor* residual, const Tensor* weight,
                                 const Tensor* bias, Tensor& running_mean, Tensor& running_var,
                                 Tensor* num_batches_tracked, Tensor& save_mean,
                                 Tensor& save_invstd, double eps, double momentum,
                                 BatchNormActivation act, Tensor& y,
                                 Layout layout = Layout::NCHW);
void batchnorm_act_forward_eval(const Tensor& x, const Tensor* residual, const Tensor* weight,
                                const Tensor* bias, const Tensor& running_mean,
                                const Tensor& running_var, double eps, BatchNormActivation act,
                                Tensor& y,
                                Layout layout = Layout::NCHW);
void batchnorm_act_backward_train(const Tensor& x, const Tensor& y, const Tensor& dy,
                                  const Tensor* weight, const Tensor& save_mean,
                                  const Tensor& save_invstd, BatchNormActivation act, Tensor* dx,
                                  bool accumulate_dx, Tensor* dresidual,
                                  bool accumulate_dresidual, Tensor* dweight, Tensor* dbias,
                                  Layout layout = Layout::NCHW);
void batchnorm_act_backward_eval(const Tensor& x, const Tensor& y, const Tensor& dy,
                                 const Tensor* weight, const Tensor& running_mean,
                                 const Tensor& running_var, double eps, BatchNormActivation act,
                                 Tensor* dx, bool accumulate_dx, Tensor* dresidual,
                                 bool accumulate_dresidual, Tensor* dweight, Tensor* dbias,
                                 Layout layout = Layout::NCHW);
}  // namespace cuda
#endif

inline void batchnorm_act_forward_train(const Tensor& x, const Tensor* residual,
                                        const Tensor* weight, const Tensor* bias,
                                        Tensor& running_mean, Tensor& running_var,
                                        Tensor* num_batches_tracked, Tensor& save_mean,
                                        Tensor& save_invstd, double eps, double momentum,
                                        BatchNormActivation act, Tensor& y,
                                        Layout layout = Layout::NCHW) {
  TE_DISPATCH(x.device(), batchnorm_act_forward_train, x, residual, weight, bias, running_mean,
              running_var, num_batches_tracked, save_mean, save_invstd, eps, momentum, act, y,
              layout);
}
inline void batchnorm_act_forward_eval(const Tensor& x, const Tensor* residual,
                                       const Tensor* weight, const Tensor* bias,
                                       const Tensor& running_mean, const Tensor& running_var,
                                       double eps, BatchNormActivation act, Tensor& y,
                                       Layout layout = Layout::NCHW) {
  TE_DISPATCH(x.device(), batchnorm_act_forward_eval, x, residual, weight, bias, running_mean,
              running_var, eps, act, y, layout);
}
inline void batchnorm_act_backward_train(const Tensor& x, const Tensor& y, const Tensor& dy,
                                         const Tensor* weight, const Tensor& save_mean,
                                         const Tensor& save_invstd, BatchNormActivation act,
                                         Tensor* dx, bool accumulate_dx, Tensor* dresidual,
                                         bool accumulate_dresidual, Tensor* dweight,
                                         Tensor* dbias,
                                         Layout layout = Layout::NCHW) {
  TE_DISPATCH(dy.device(), batchnorm_act_backward_train, x, y, dy, weight, save_mean, save_invstd,
              act, dx, accumulate_dx, dresidual, accumulate_dresidual, dweight, dbias, layout);
}
inline void batchnorm_act_backward_eval(const Tensor& x, const Tensor& y, const Tensor& dy,
                                        const Tensor* weight, const Tensor& running_mean,
                                        const Tensor& running_var, double eps,
                                        BatchNormActivation act, Tensor* dx, bool accumulate_dx,
                                        Tensor* dresidual, bool accumulate_dresidual,
                                        Tensor* dweight, Tensor* dbias,
                                        Layout layout = Layout::NCHW) {
  TE_DISPATCH(dy.device(), batchnorm_act_backward_eval, x, y, dy, weight, running_mean,
              running_var, eps, act, dx, accumulate_dx, dresidual, accumulate_dresidual, dweight,
              dbias, layout);
}

}  // namespace te::ops
