#pragma once
// Fully connected layer (PyTorch's Linear): y[N, out] = x[N, in] * W[out, in]^T + bias[out].
#include "engine/core/tensor.h"
#include "kernels/dispatch.h"

namespace te::ops {

namespace cpu {
// y = x W^T + bias (bias may be null).
void linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y);
// dx = (or +=, when accumulate) dy W.
void linear_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate);
// dw += dy^T x; db += column sums of dy (db may be null).
void linear_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db);
}  // namespace cpu

#ifdef TE_WITH_CUDA
// CUDA: f32, or bf16/f16 storage with f32 accumulation (x, weight, y / dy, weight, dx / x, dy in
// one dtype; bias, dbias and dweight f32 or that dtype). kernels/cuda/linear_ops.cpp has the rules.
namespace cuda {
void linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y);
void linear_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate);
void linear_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db);
}  // namespace cuda
#endif

inline void linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) {
  TE_DISPATCH(x.device(), linear_forward, x, w, bias, y);
}
inline void linear_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate) {
  TE_DISPATCH(dy.device(), linear_backward_input, dy, w, dx, accumulate);
}
inline void linear_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db) {
  TE_DISPATCH(x.device(), linear_backward_params, x, dy, dw, db);
}

}  // namespace te::ops
