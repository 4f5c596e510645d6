#include "engine/optim/adamw.h"

#include <cmath>

#include "kernels/optim.h"

namespace te {

AdamW::AdamW(const OptimizerConfig& config, int64_t numel, Device device, Tensor decay_mask)
    : Optimizer(numel, device, std::move(decay_mask)),
      config_(config),
      exp_avg_(Tensor::zeros({numel}, DType::F32, device)),
      exp_avg_sq_(Tensor::zeros({numel}, DType::F32, device)) {}

void AdamW::step(Tensor& params, const Tensor& grads, double lr) {
  check_step_args(params, grads, lr);
  const double t = static_cast<double>(step_count_ + 1);
  ops::AdamwHyper h;
  // Scalars in double on the host, as torch computes them in Python floats.
  h.decay_factor = static_cast<float>(1.0 - lr * config_.weight_decay);
  h.one_minus_beta1 = static_cast<float>(1.0 - config_.beta1);
  h.beta2 = static_cast<float>(config_.beta2);
  h.one_minus_beta2 = static_cast<float>(1.0 - config_.beta2);
  h.eps = static_cast<float>(config_.eps);
  h.step_size = static_cast<float>(lr / (1.0 - std::pow(config_.beta1, t)));
  h.bias_correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(config_.beta2, t)));
  ops::adamw_step(params, grads, exp_avg_, exp_avg_sq_, decay_mask_, h);
  ++step_count_;
}

std::vector<std::pair<std::string, Tensor*>> AdamW::state_tensors() {
  return {{"exp_avg", &exp_avg_}, {"exp_avg_sq", &exp_avg_sq_}};
}

}  // namespace te
