#pragma once
// Optimizer update loops and gradient reductions over flat parameter/gradient buffers.
// One fused pass per step: each element's gradient, state and parameter are read and written
// once (llm.c's fused AdamW idea). Buffers are F32 for the updates; the reductions also take F64.
#include "engine/core/tensor.h"
#include "kernels/dispatch.h"

namespace te::ops {

// torch.optim.SGD (dampening 0): d = g + wd*p; buf = first ? d : momentum*buf + d;
// d = nesterov ? d + momentum*buf : buf (when momentum != 0); p -= lr*d.
struct SgdHyper {
  float lr = 0;
  float momentum = 0;      // 0: no buffer is read or written
  float weight_decay = 0;
  bool nesterov = false;
  bool first_step = false;  // momentum buffer is initialised to d (torch's clone on step 1)
};

// torch.optim.AdamW: p *= 1 - lr*wd; m = m + (1-b1)(g-m); v = b2*v + (1-b2)g^2;
// p -= step_size * m / (sqrt(v)/bias_correction2_sqrt + eps), step_size = lr / (1 - b1^t),
// bias_correction2_sqrt = sqrt(1 - b2^t). The host computes every scalar in double and rounds
// it to float once, as torch does with its Python-float arguments (1 - 0.999 rounded in float
// arithmetic would be off by 1e-5 relative).
struct AdamwHyper {
  float decay_factor = 1;     // 1 - lr * weight_decay (for elements that decay)
  float one_minus_beta1 = 0.1f;
  float beta2 = 0.999f;
  float one_minus_beta2 = 0.001f;
  float eps = 1e-8f;
  float step_size = 0;
  float bias_correction2_sqrt = 1;
};

namespace cpu {
void sgd_step(Tensor& params, const Tensor& grads, Tensor& momentum_buf, const Tensor& decay_mask,
              const SgdHyper& h);
void adamw_step(Tensor& params, const Tensor& grads, Tensor& exp_avg, Tensor& exp_avg_sq,
                const Tensor& decay_mask, const AdamwHyper& h);
double sum_of_squares(const Tensor& x);
void scale_inplace(Tensor& x, double factor);
bool all_finite(const Tensor& x);
}  // namespace cpu

#ifdef TE_WITH_CUDA
namespace cuda {
void sgd_step(Tensor& params, const Tensor& grads, Tensor& momentum_buf, const Tensor& decay_mask,
              const SgdHyper& h);
void adamw_step(Tensor& params, const Tensor& grads, Tensor& exp_avg, Tensor& exp_avg_sq,
                const Tensor& decay_mask, const AdamwHyper& h);
double sum_of_squares(const Tensor& x);
void scale_inplace(Tensor& x, double factor);
bool all_finite(const Tensor& x);
}  // namespace cuda
#endif

// `decay_mask`: undefined (every element decays) or a U8 tensor of params' numel where 0 marks
// elements without weight decay (BN weights, biases). `momentum_buf` may be undefined when
// h.momentum == 0.
inline void sgd_step(Tensor& params, const Tensor& grads, Tensor& momentum_buf,
                     const Tensor& decay_mask, const SgdHyper& h) {
  TE_DISPATCH(params.device(), sgd_step, params, grads, momentum_buf, decay_mask, h);
}
inline void adamw_step(Tensor& params, const Tensor& grads, Tensor& exp_avg, Tensor& exp_avg_sq,
                       const Tensor& decay_mask, const AdamwHyper& h) {
  TE_DISPATCH(params.device(), adamw_step, params, grads, exp_avg, exp_avg_sq, decay_mask, h);
}
// Sum of x^2 accumulated in double; the result does not depend on the thread count.
inline double sum_of_squares(const Tensor& x) { TE_DISPATCH(x.device(), sum_of_squares, x); }
// x *= factor
inline void scale_inplace(Tensor& x, double factor) {
  TE_DISPATCH(x.device(), scale_inplace, x, factor);
}
// False when any element is NaN or +-Inf.
inline bool all_finite(const Tensor& x) { TE_DISPATCH(x.device(), all_finite, x); }

}  // namespace te::ops
