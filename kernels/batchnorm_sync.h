#pragma once
// Synchronised batch norm (train.sync_batchnorm): the batch statistics of every replica of a
// data-parallel job together, computed in the pieces between which the caller sums
// per-channel values over the replicas (PyTorch's batch_norm_stats / backward_reduce /
// backward_elemt split). x, y, dy, dx are [N, C, ...] NCHW, f32 or f64, on the CPU (GPU
// replicas are not wired); per-channel tensors have x's dtype. Sums are in double, without a
// shift: E[x^2] - E[x]^2 in double keeps ~1e-9 relative for activations whose mean is within
// 1e3 of their spread, far below f32 rounding.
#include <vector>

#include "engine/core/tensor.h"

namespace te::ops {

// This replica's [sum x (C values), sum x^2 (C values), count M (1 value)].
std::vector<double> batchnorm_sync_stats(const Tensor& x);

// From the sums over all replicas (the layout above): save_mean, save_invstd (1/sqrt(biased
// var + eps)), the running update (unbiased var, PyTorch's), num_batches_tracked += 1
// (nullptr: none), and y = (x - mean) * invstd * w + b.
void batchnorm_sync_forward(const Tensor& x, const Tensor* weight, const Tensor* bias,
                            const std::vector<double>& global, Tensor& running_mean,
                            Tensor& running_var, Tensor* num_batches_tracked, Tensor& save_mean,
                            Tensor& save_invstd, double eps, double momentum, Tensor& y);

// This replica's [sum dy (C values), sum dy * xhat (C values)].
std::vector<double> batchnorm_sync_backward_sums(const Tensor& x, const Tensor& dy,
                                                 const Tensor& save_mean, const Tensor& save_invstd);

// dx = w * invstd * (dy - (sum dy + xhat * sum dy xhat) / M) with the sums and M over all
// replicas (`global`, `count`); dweight += local sum dy xhat, dbias += local sum dy (the
// gradient average over replicas then makes them the global ones, as for every parameter).
// dx, dweight, dbias may be nullptr.
void batchnorm_sync_backward(const Tensor& x, const Tensor& dy, const Tensor* weight,
                             const Tensor& save_mean, const Tensor& save_invstd,
                             const std::vector<double>& local, const std::vector<double>& global,
                             double count, Tensor* dx, bool accumulate, Tensor* dweight,
                             Tensor* dbias);

}  // namespace te::ops
