#pragma once
// Concatenation along one axis of row-major tensors that agree on every other dimension.
// Viewing each tensor as [outer, dim(axis) * inner], the output row o is the inputs' rows o
// placed side by side; backward slices grad_output the same way.
// All tensors share one dtype (CPU f32 or f64; CUDA f32, bf16 or f16).
#include <vector>

#include "engine/core/tensor.h"
#include "kernels/dispatch.h"

namespace te::ops {

namespace cpu {
void concat_forward(const std::vector<const Tensor*>& xs, int axis, Tensor& y);
// sizes[i] = input i's extent along `axis` (so inputs without a gradient keep their place);
// dxs[i] == nullptr skips input i; accumulate[i] adds into dxs[i] instead of overwriting.
void concat_backward(const Tensor& dy, int axis, const std::vector<int64_t>& sizes,
                     const std::vector<Tensor*>& dxs, const std::vector<bool>& accumulate);
}  // namespace cpu

#ifdef TE_WITH_CUDA
namespace cuda {
void concat_forward(const std::vector<const Tensor*>& xs, int axis, Tensor& y);
void concat_backward(const Tensor& dy, int axis, const std::vector<int64_t>& sizes,
                     const std::vector<Tensor*>& dxs, const std::vector<bool>& accumulate);
}  // namespace cuda
#endif

inline void concat_forward(const std::vector<const Tensor*>& xs, int axis, Tensor& y) {
  TE_DISPATCH(y.device(), concat_forward, xs, axis, y);
}
inline void concat_backward(const Tensor& dy, int axis, const std::vector<int64_t>& sizes,
                            const std::vector<Tensor*>& dxs, const std::vector<bool>& accumulate) {
  TE_DISPATCH(dy.device(), concat_backward, dy, axis, sizes, dxs, accumulate);
}

}  // namespace te::ops
