#pragma once
// Element-wise activations: ReLU, GELU (exact erf form, PyTorch's default, or the tanh
// approximation) and SiLU (x * sigmoid(x)). Forward y = f(x); backward dx = dy * f'(x).
// The CPU implementation is templated over float and double (double for gradient checks); the
// CUDA one takes f32, bf16 or f16 (x, y, dy, dx of one call in one dtype; float math inside).
#include "engine/core/tensor.h"
#include "kernels/dispatch.h"

namespace te::ops {

enum class ActivationKind { ReLU, GELU, GELUTanh, SiLU };

namespace cpu {
void activation_forward(ActivationKind kind, const Tensor& x, Tensor& y);
// ReLU reads only `y` (its gradient at exactly 0 is 0, like PyTorch); the others read `x`.
// accumulate: dx += dy * f'(x) instead of dx = dy * f'(x).
void activation_backward(ActivationKind kind, const Tensor& x, const Tensor& y, const Tensor& dy,
                         Tensor& dx, bool accumulate);
}  // namespace cpu

#ifdef TE_WITH_CUDA
namespace cuda {
void activation_forward(ActivationKind kind, const Tensor& x, Tensor& y);
void activation_backward(ActivationKind kind, const Tensor& x, const Tensor& y, const Tensor& dy,
                         Tensor& dx, bool accumulate);
}  // namespace cuda
#endif

inline void activation_forward(ActivationKind kind, const Tensor& x, Tensor& y) {
  TE_DISPATCH(x.device(), activation_forward, kind, x, y);
}
inline void activation_backward(ActivationKind kind, const Tensor& x, const Tensor& y,
                                const Tensor& dy, Tensor& dx, bool accumulate) {
  TE_DISPATCH(dy.device(), activation_backward, kind, x, y, dy, dx, accumulate);
}

}  // namespace te::ops
