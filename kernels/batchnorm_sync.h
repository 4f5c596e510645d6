#pragma once
// Synchronised batch norm (train.sync_batchnorm): the batch statistics of every replica of a
// data-parallel job together, computed in the pieces between which the caller sums
// per-channel values over the replicas (PyTorch's batch_norm_stats / backward_reduce /
// backward_elemt split). x, y, dy, dx are [N, C, ...]; the sums travel as host vectors of
// doubles on every backend (layouts and checks: kernels/batchnorm_sync_sums.h), so the
// caller's all-reduce (engine/layers/batch_stats_sync.h) does not care where the tensors live.
//   CPU:  NCHW only (NHWC throws DeviceError); f32 or f64; per-channel tensors have x's dtype.
//   CUDA: NCHW or NHWC (kernels/layout.h); x, y, dy, dx f32, bf16 or f16, one dtype per call;
//         the per-channel tensors (weight, bias, running and saved statistics, dweight, dbias)
//         are f32, as for kernels/batchnorm.h. The sums are taken on the device in double and
//         copied to the host (kernels/cuda/batchnorm_sync_ops.cpp).
// Sums are in double, without a shift: E[x^2] - E[x]^2 in double keeps ~1e-9 relative for
// activations whose mean is within 1e3 of their spread, far below f32 rounding.
//
// The four steps (each backend implements all four):
//   batchnorm_sync_stats: this replica's [sum x (C values), sum x^2 (C values), count M].
//   batchnorm_sync_forward: from the sums over all replicas (`global`, the layout above):
//     save_mean, save_invstd (1/sqrt(biased var + eps)), the running update (unbiased var,
//     PyTorch's), num_batches_tracked += 1 (nullptr: none), and y = (x - mean) * invstd * w + b.
//   batchnorm_sync_backward_sums: this replica's [sum dy (C values), sum dy * xhat (C values)].
//   batchnorm_sync_backward: dx = w * invstd * (dy - (sum dy + xhat * sum dy xhat) / M) with
//     the sums and M over all replicas (`global`, `count`); dweight += local sum dy xhat,
//     dbias += local sum dy (the gradient average over replicas then makes them the global
//     ones, as for every parameter). dx (written, or added to when `accumulate`), weight,
//     dweight and dbias may be nullptr.
#include <vector>

#include "engine/core/tensor.h"
#include "kernels/dispatch.h"
#include "kernels/layout.h"

namespace te::ops {

namespace cpu {
std::vector<double> batchnorm_sync_stats(const Tensor& x, Layout layout = Layout::NCHW);
void batchnorm_sync_forward(const Tensor& x, const Tensor* weight, const Tensor* bias,
                            const std::vector<double>& global, Tensor& running_mean,
                            Tensor& running_var, Tensor* num_batches_tracked, Tensor& save_mean,
                            Tensor& save_invstd, double eps, double momentum, Tensor& y,
                            Layout layout = Layout::NCHW);
std::vector<double> batchnorm_sync_backward_sums(const Tensor& x, const Tensor& dy,
                                                 const Tensor& save_mean, const Tensor& save_invstd,
                                                 Layout layout = Layout::NCHW);
void batchnorm_sync_backward(const Tensor& x, const Tensor& dy, const Tensor* weight,
                             const Tensor& save_mean, const Tensor& save_invstd,
                             const std::vector<double>& local, const std::vector<double>& global,
                             double count, Tensor* dx, bool accumulate, Tensor* dweight,
                             Tensor* dbias, Layout layout = Layout::NCHW);
}  // namespace cpu

#ifdef TE_WITH_CUDA
namespace cuda {
std::vector<double> batchnorm_sync_stats(const Tensor& x, Layout layout = Layout::NCHW);
void batchnorm_sync_forward(const Tensor& x, const Tensor* weight, const Tensor* bias,
                            const std::vector<double>& global, Tensor& running_mean,
                            Tensor& running_var, Tensor* num_batches_tracked, Tensor& save_mean,
                            Tensor& save_invstd, double eps, double momentum, Tensor& y,
                            Layout layout = Layout::NCHW);
std::vector<double> batchnorm_sync_backward_sums(const Tensor& x, const Tensor& dy,
                                                 const Tensor& save_mean, const Tensor& save_invstd,
                                                 Layout layout = Layout::NCHW);
void batchnorm_sync_backward(const Tensor& x, const Tensor& dy, const Tensor* weight,
                             const Tensor& save_mean, const Tensor& save_invstd,
                             const std::vector<double>& local, const std::vector<double>& global,
                             double count, Tensor* dx, bool accumulate, Tensor* dweight,
                             Tensor* dbias, Layout layout = Layout::NCHW);
}  // namespace cuda
#endif

inline std::vector<double> batchnorm_sync_stats(const Tensor& x, Layout layout = Layout::NCHW) {
  TE_DISPATCH(x.device(), batchnorm_sync_stats, x, layout);
}
inline void batchnorm_sync_forward(const Tensor& x, const Tensor* weight, const Tensor* bias,
                                   const std::vector<double>& global, Tensor& running_mean,
                                   Tensor& running_var, Tensor* num_batches_tracked,
                                   Tensor& save_mean, Tensor& save_invstd, double eps,
                                   double momentum, Tensor& y, Layout layout = Layout::NCHW) {
  TE_DISPATCH(x.device(), batchnorm_sync_forward, x, weight, bias, global, running_mean,
              running_var, num_batches_tracked, save_mean, save_invstd, eps, momentum, y, layout);
}
inline std::vector<double> batchnorm_sync_backward_sums(const Tensor& x, const Tensor& dy,
                                                        const Tensor& save_mean,
                                                        const Tensor& save_invstd,
                                                        Layout layout = Layout::NCHW) {
  TE_DISPATCH(dy.device(), batchnorm_sync_backward_sums, x, dy, save_mean, save_invstd, layout);
}
inline void batchnorm_sync_backward(const Tensor& x, const Tensor& dy, const Tensor* weight,
                                    const Tensor& save_mean, const Tensor& save_invstd,
                                    const std::vector<double>& local,
                                    const std::vector<double>& global, double count, Tensor* dx,
                                    bool accumulate, Tensor* dweight, Tensor* dbias,
                                    Layout layout = Layout::NCHW) {
  TE_DISPATCH(dy.device(), batchnorm_sync_backward, x, dy, weight, save_mean, save_invstd, local,
              global, count, dx, accumulate, dweight, dbias, layout);
}

}  // namespace te::ops
