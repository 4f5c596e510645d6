// CPU SGD and AdamW updates: one pass over the flat buffers, blocks of elements in parallel.
// Arithmetic is f32 in the order torch.optim uses, so results match it to rounding.
#include <algorithm>
#include <cmath>

#include "engine/core/parallel.h"
#include "kernels/cpu/optim_check.h"
#include "kernels/optim.h"

namespace te::ops::cpu {
using optim_detail::kBlock;
using optim_detail::num_blocks;

void sgd_step(Tensor& params, const Tensor& grads, Tensor& momentum_buf, const Tensor& decay_mask,
              const SgdHyper& h) {
  const char* op = "sgd_step";
  optim_detail::require_f32_like(op, "params", params, params);
  optim_detail::require_f32_like(op, "grads", grads, params);
  if (h.momentum != 0) optim_detail::require_f32_like(op, "momentum buffer", momentum_buf, params);
  optim_detail::require_mask(op, decay_mask, params);

  float* p = params.data<float>();
  const float* g = grads.data<float>();
  float* buf = h.momentum != 0 ? momentum_buf.data<float>() : nullptr;
  const uint8_t* mask = decay_mask.defined() ? decay_mask.data<uint8_t>() : nullptr;
  const int64_t n = params.numel();
  parallel_for(num_blocks(n), [&](int64_t b0, int64_t b1) {
    const int64_t end = std::min(n, b1 * kBlock);
    for (int64_t i = b0 * kBlock; i < end; ++i) {
      const float wd = (mask && !mask[i]) ? 0.0f : h.weight_decay;
      float d = g[i];
      if (wd != 0) d += wd * p[i];
      if (buf) {
        buf[i] = h.first_step ? d : h.momentum * buf[i] + d;
        d = h.nesterov ? d + h.momentum * buf[i] : buf[i];
      }
      p[i] -= h.lr * d;
    }
  });
}

void adamw_step(Tensor& params, const Tensor& grads, Tensor& exp_avg, Tensor& exp_avg_sq,
                const Tensor& decay_mask, const AdamwHyper& h) {
  const char* op = "adamw_step";
  optim_detail::require_f32_like(op, "params", params, params);
  optim_detail::require_f32_like(op, "grads", grads, params);
  optim_detail::require_f32_like(op, "exp_avg", exp_avg, params);
  optim_detail::require_f32_like(op, "exp_avg_sq", exp_avg_sq, params);
  optim_detail::require_mask(op, decay_mask, params);

  float* p = params.data<float>();
  const float* g = grads.data<float>();
  float* m = exp_avg.data<float>();
  float* v = exp_avg_sq.data<float>();
  const uint8_t* mask = decay_mask.defined() ? decay_mask.data<uint8_t>() : nullptr;
  const int64_t n = params.numel();
  parallel_for(num_blocks(n), [&](int64_t b0, int64_t b1) {
    const int64_t end = std::min(n, b1 * kBlock);
    for (int64_t i = b0 * kBlock; i < end; ++i) {
      if (!(mask && !mask[i])) p[i] *= h.decay_factor;
      m[i] += h.one_minus_beta1 * (g[i] - m[i]);  // torch: exp_avg.lerp_(grad, 1 - beta1)
      v[i] = h.beta2 * v[i] + h.one_minus_beta2 * g[i] * g[i];
      const float denom = std::sqrt(v[i]) / h.bias_correction2_sqrt + h.eps;
      p[i] -= h.step_size * m[i] / denom;
    }
  });
}

}  // namespace te::ops::cpu
