#include "engine/optim/sgd.h"

#include "kernels/optim.h"

namespace te {

Sgd::Sgd(const OptimizerConfig& config, int64_t numel, Device device, Tensor decay_mask)
    : Optimizer(numel, device, std::move(decay_mask)), config_(config) {
  if (config_.momentum != 0) momentum_ = Tensor::zeros({numel}, DType::F32, device);
}

void Sgd::step(Tensor& params, const Tensor& grads, double lr) {
  check_step_args(params, grads, lr);
  ops::SgdHyper h;
  h.lr = static_cast<float>(lr);
  h.momentum = static_cast<float>(config_.momentum);
  h.weight_decay = static_cast<float>(config_.weight_decay);
  h.nesterov = config_.nesterov;
  // A resumed run restores the buffer and the count, so only a fresh run initialises it.
  h.first_step = step_count_ == 0;
  ops::sgd_step(params, grads, momentum_, decay_mask_, h);
  ++step_count_;
}

std::vector<std::pair<std::string, Tensor*>> Sgd::state_tensors() {
  if (!momentum_.defined()) return {};
  return {{"momentum", &momentum_}};
}

}  // namespace te
