#pragma once
// dst = src * scale, converting between floating dtypes: how mixed precision moves parameters
// from the f32 master copy to the compute copy (scale 1) and gradients back (scale 1 / loss
// scale). Same numel; the product is formed in float (double for f64) and rounded once to
// dst's dtype (round to nearest even). CPU: any pair of f32, f64, bf16, f16. CUDA: f32, bf16,
// f16. src and dst must not overlap unless they are the same tensor with the same dtype.
#include "engine/core/tensor.h"
#include "kernels/dispatch.h"

namespace te::ops {

namespace cpu {
void cast_scale(const Tensor& src, Tensor& dst, double scale);
}  // namespace cpu

#ifdef TE_WITH_CUDA
namespace cuda {
void cast_scale(const Tensor& src, Tensor& dst, double scale);
}  // namespace cuda
#endif

inline void cast_scale(const Tensor& src, Tensor& dst, double scale = 1.0) {
  TE_DISPATCH(dst.device(), cast_scale, src, dst, scale);
}

}  // namespace te::ops
