// Tensor-level optimizer steps (kernels/optim.h): one launch over the flat buffers.
#include "kernels/cpu/optim_check.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/tensor_args.h"

namespace te::ops::cuda {
using namespace te::cuda;
namespace checks = te::ops::cpu::optim_detail;  // the same argument rules as the CPU backend

void sgd_step(Tensor& params, const Tensor& grads, Tensor& momentum_buf, const Tensor& decay_mask,
              const SgdHyper& h) {
  const char* op = "sgd_step";
  checks::require_f32_like(op, "params", params, params);
  checks::require_f32_like(op, "grads", grads, params);
  if (h.momentum != 0) checks::require_f32_like(op, "momentum buffer", momentum_buf, params);
  checks::require_mask(op, decay_mask, params);
  float* p = f32_ptr(params, op, "params");
  const float* g = f32_ptr(grads, op, "grads");
  float* buf = h.momentum != 0 ? f32_ptr(momentum_buf, op, "momentum buffer") : nullptr;
  const uint8_t* mask =
      decay_mask.defined() ? typed_ptr<uint8_t>(decay_mask, DType::U8, op, "decay mask") : nullptr;
  launch::sgd_step(p, g, buf, mask, params.numel(), h.lr, h.momentum, h.weight_decay, h.nesterov,
                   h.first_step, compute_stream());
}

void adamw_step(Tensor& params, const Tensor& grads, Tensor& exp_avg, Tensor& exp_avg_sq,
                const Tensor& decay_mask, const AdamwHyper& h) {
  const char* op = "adamw_step";
  checks::require_f32_like(op, "params", params, params);
  checks::require_f32_like(op, "grads", grads, params);
  checks::require_f32_like(op, "exp_avg", exp_avg, params);
  checks::require_f32_like(op, "exp_avg_sq", exp_avg_sq, params);
  checks::require_mask(op, decay_mask, params);
  const uint8_t* mask =
      decay_mask.defined() ? typed_ptr<uint8_t>(decay_mask, DType::U8, op, "decay mask") : nullptr;
  launch::adamw_step(f32_ptr(params, op, "params"), f32_ptr(grads, op, "grads"),
                     f32_ptr(exp_avg, op, "exp_avg"), f32_ptr(exp_avg_sq, op, "exp_avg_sq"), mask,
                     params.numel(), h.decay_factor, h.one_minus_beta1, h.beta2, h.one_minus_beta2,
                     h.eps, h.step_size, h.bias_correction2_sqrt, compute_stream());
}

}  // namespace te::ops::cuda
