#pragma once
// Element-wise sums and copies: the forward of Add (y = x0 + x1 + ...) and the gradient
// plumbing of layers whose backward passes grad_output through unchanged (dst = src or
// dst += src, for GradMode::Overwrite / Accumulate). All tensors have the same numel and one
// float dtype (CPU: f32 or f64; CUDA add_n and copy_or_add: f32, bf16 or f16).
#include <vector>

#include "engine/core/tensor.h"
#include "kernels/dispatch.h"

namespace te::ops {

namespace cpu {
void add_n(const std::vector<const Tensor*>& xs, Tensor& y);
void copy_or_add(const Tensor& src, Tensor& dst, bool accumulate);
}  // namespace cpu

#ifdef TE_WITH_CUDA
namespace cuda {
void add_n(const std::vector<const Tensor*>& xs, Tensor& y);
void copy_or_add(const Tensor& src, Tensor& dst, bool accumulate);
}  // namespace cuda
#endif

inline void add_n(const std::vector<const Tensor*>& xs, Tensor& y) {
  TE_DISPATCH(y.device(), add_n, xs, y);
}
inline void copy_or_add(const Tensor& src, Tensor& dst, bool accumulate) {
  TE_DISPATCH(dst.device(), copy_or_add, src, dst, accumulate);
}

}  // namespace te::ops
