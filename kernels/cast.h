#pragma once
// dst = src * scale, converting between floating dtypes: how mixed precision moves parameters
// from the f32 master copy to the compute copy (scale 1) and gradients back (scale 1 / loss
// scale). Same numel; the product is formed in float (double for f64) and rounded once to
// dst's dtype (round to nearest even). CPU: any pair of f32, f64, bf16, f16. CUDA: f32, bf16,
// f16. src and dst must not overlap unless they are the same tensor with the same dtype.
#include <cstdint>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"
#include "kernels/dispatch.h"

namespace te::ops {

// The same restricted to ranges of two flat tensors of equal size: dst[i] = src[i] * scale for
// every i in the ranges, one pass (one launch on a GPU) however many ranges. `table` comes from
// make_range_table, moved to dst's device once.
namespace cpu {
void cast_scale(const Tensor& src, Tensor& dst, double scale);
void cast_scale_ranges(const Tensor& src, Tensor& dst, const Tensor& table, double scale);
}  // namespace cpu

// (offset, count) ranges of a flat tensor of `numel` elements, in increasing offset order,
// laid out for cast_scale_ranges: an i64 CPU tensor of the R offsets, then the R + 1 prefix
// sums of the counts. Throws for ranges outside [0, numel).
Tensor make_range_table(const std::vector<std::pair<int64_t, int64_t>>& ranges, int64_t numel);

#ifdef TE_WITH_CUDA
namespace cuda {
void cast_scale(const Tensor& src, Tensor& dst, double scale);
void cast_scale_ranges(const Tensor& src, Tensor& dst, const Tensor& table, double scale);
}  // namespace cuda
#endif

inline void cast_scale(const Tensor& src, Tensor& dst, double scale = 1.0) {
  TE_DISPATCH(dst.device(), cast_scale, src, dst, scale);
}
inline void cast_scale_ranges(const Tensor& src, Tensor& dst, const Tensor& table,
                              double scale = 1.0) {
  TE_DISPATCH(dst.device(), cast_scale_ranges, src, dst, table, scale);
}

}  // namespace te::ops
