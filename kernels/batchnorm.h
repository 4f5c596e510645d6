#pragma once
// Batch normalisation over every dimension except 1 (channels): x is [N, C, ...], the
// statistics of channel c are over N and all trailing (spatial) positions, M values in all.
//   training: mean, biased var of the batch; y = (x - mean) / sqrt(var + eps) * w + b;
//             running = (1 - momentum) * running + momentum * batch (var unbiased: * M/(M-1));
//             num_batches_tracked += 1.   (PyTorch's BatchNorm semantics exactly.)
//   eval:     the same with running_mean / running_var.
// weight/bias are [C] or nullptr (affine=false: w = 1, b = 0). Every float tensor has x's dtype
// (f32 or f64); per-channel sums are taken in double. Parameter gradients are always added.
// CUDA also takes bf16 or f16 x, y, dy, dx (one dtype per call); the per-channel tensors
// (weight, bias, running and saved statistics, dweight, dbias) stay f32 then.
// layout (kernels/layout.h) is the memory order of the activations (x, y, dy, dx and, fused,
// residual, dresidual); NHWC (channels-last) runs on CUDA only, the CPU throws DeviceError.
#include "engine/core/tensor.h"
#include "kernels/dispatch.h"
#include "kernels/layout.h"

namespace te::ops {

namespace cpu {
// Writes save_mean and save_invstd ([C], 1/sqrt(var + eps)) for the backward pass.
// num_batches_tracked ([] i64) may be nullptr. Throws ShapeError when M == 1.
void batchnorm_forward_train(const Tensor& x, const Tensor* weight, const Tensor* bias,
                             Tensor& running_mean, Tensor& running_var,
                             Tensor* num_batches_tracked, Tensor& save_mean, Tensor& save_invstd,
                             double eps, double momentum, Tensor& y,
                             Layout layout = Layout::NCHW);
void batchnorm_forward_eval(const Tensor& x, const Tensor* weight, const Tensor* bias,
                            const Tensor& running_mean, const Tensor& running_var, double eps,
                            Tensor& y,
                            Layout layout = Layout::NCHW);
// Gradient through the batch statistics (with save_* from forward_train). dx may be nullptr
// (then only parameter gradients), as may dweight/dbias.
void batchnorm_backward_train(const Tensor& x, const Tensor& dy, const Tensor* weight,
                              const Tensor& save_mean, const Tensor& save_invstd, Tensor* dx,
                              bool accumulate, Tensor* dweight, Tensor* dbias,
                              Layout layout = Layout::NCHW);
// Gradient when the statistics are the running ones (constants): a per-channel affine map.
void batchnorm_backward_eval(const Tensor& x, const Tensor& dy, const Tensor* weight,
                             const Tensor& running_mean, const Tensor& running_var, double eps,
                             Tensor* dx, bool accumulate, Tensor* dweight, Tensor* dbias,
                             Layout layout = Layout::NCHW);
}  // namespace cpu

#ifdef TE_WITH_CUDA
namespace cuda {
void batchnorm_forward_train(const Tensor& x, const Tensor* weight, const Tensor* bias,
                             Tensor& running_mean, Tensor& running_var,
                             Tensor* num_batches_tracked, Tensor& save_mean, Tensor& save_invstd,
                             double eps, double momentum, Tensor& y,
                             Layout layout = Layout::NCHW);
void batchnorm_forward_eval(const Tensor& x, const Tensor* weight, const Tensor* bias,
                            const Tensor& running_mean, const Tensor& running_var, double eps,
                            Tensor& y,
                            Layout layout = Layout::NCHW);
void batchnorm_backward_train(const Tensor& x, const Tensor& dy, const Tensor* weight,
                              const Tensor& save_mean, const Tensor& save_invstd, Tensor* dx,
                              bool accumulate, Tensor* dweight, Tensor* dbias,
                              Layout layout = Layout::NCHW);
void batchnorm_backward_eval(const Tensor& x, const Tensor& dy, const Tensor* weight,
                             const Tensor& running_mean, const Tensor& running_var, double eps,
                             Tensor* dx, bool accumulate, Tensor* dweight, Tensor* dbias,
                             Layout layout = Layout::NCHW);
}  // namespace cuda
#endif

inline void batchnorm_forward_train(const Tensor& x, const Tensor* weight, const Tensor* bias,
                                    Tensor& running_mean, Tensor& running_var,
                                    Tensor* num_batches_tracked, Tensor& save_mean,
                                    Tensor& save_invstd, double eps, double momentum, Tensor& y,
                                    Layout layout = Layout::NCHW) {
  TE_DISPATCH(x.device(), batchnorm_forward_train, x, weight, bias, running_mean, running_var,
              num_batches_tracked, save_mean, save_invstd, eps, momentum, y, layout);
}
inline void batchnorm_forward_eval(const Tensor& x, const Tensor* weight, const Tensor* bias,
                                   const Tensor& running_mean, const Tensor& running_var,
                                   double eps, Tensor& y,
                                   Layout layout = Layout::NCHW) {
  TE_DISPATCH(x.device(), batchnorm_forward_eval, x, weight, bias, running_mean, running_var, eps,
              y, layout);
}
inline void batchnorm_backward_train(const Tensor& x, const Tensor& dy, const Tensor* weight,
                                     const Tensor& save_mean, const Tensor& save_invstd,
                                     Tensor* dx, bool accumulate, Tensor* dweight,
                                     Tensor* dbias,
                                     Layout layout = Layout::NCHW) {
  TE_DISPATCH(dy.device(), batchnorm_backward_train, x, dy, weight, save_mean, save_invstd, dx,
              accumulate, dweight, dbias, layout);
}
inline void batchnorm_backward_eval(const Tensor& x, const Tensor& dy, const Tensor* weight,
                                    const Tensor& running_mean, const Tensor& running_var,
                                    double eps, Tensor* dx, bool accumulate, Tensor* dweight,
                                    Tensor* dbias,
                                    Layout layout = Layout::NCHW) {
  TE_DISPATCH(dy.device(), batchnorm_backward_eval, x, dy, weight, running_mean, running_var,
              eps, dx, accumulate, dweight, dbias, layout);
}

}  // namespace te::ops
