#pragma once
// Inverted dropout: y = x * keep / (1 - p). The mask is a pure function of (key, stream, element
// index), so backward regenerates it instead of storing it, and CPU and CUDA masks agree:
//   element i uses the (i % 4)-th 32-bit draw u of CounterRng(key, stream, i / 4)
//   (engine/core/philox.h); it is kept iff float((u >> 8) * 2^-24) >= float(p).
// Layers pass key = f(seed, layer name) and stream = training step.
// Dtypes: input and output share one (CPU f32 or f64; CUDA f32, bf16 or f16, the mask being
// the same for every dtype).
#include <cstdint>

#include "engine/core/tensor.h"
#include "kernels/dispatch.h"

namespace te::ops {

namespace cpu {
void dropout_forward(const Tensor& x, Tensor& y, double p, uint64_t key, uint64_t stream);
// dx = dy * keep / (1 - p) (accumulate: dx += ...), with the mask of the same (key, stream).
void dropout_backward(const Tensor& dy, Tensor& dx, double p, uint64_t key, uint64_t stream,
                      bool accumulate);
}  // namespace cpu

#ifdef TE_WITH_CUDA
namespace cuda {
void dropout_forward(const Tensor& x, Tensor& y, double p, uint64_t key, uint64_t stream);
void dropout_backward(const Tensor& dy, Tensor& dx, double p, uint64_t key, uint64_t stream,
                      bool accumulate);
}  // namespace cuda
#endif

inline void dropout_forward(const Tensor& x, Tensor& y, double p, uint64_t key, uint64_t stream) {
  TE_DISPATCH(x.device(), dropout_forward, x, y, p, key, stream);
}
inline void dropout_backward(const Tensor& dy, Tensor& dx, double p, uint64_t key,
                             uint64_t stream, bool accumulate) {
  TE_DISPATCH(dy.device(), dropout_backward, dy, dx, p, key, stream, accumulate);
}

}  // namespace te::ops
