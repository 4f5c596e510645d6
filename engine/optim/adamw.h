#pragma once
// torch.optim.AdamW over flat buffers: decoupled weight decay (p -= lr * wd * p) and bias
// correction of both moments (amsgrad off).
#include "engine/optim/optimizer.h"

namespace te {

class AdamW : public Optimizer {
 public:
  // Prefer make_optimizer, which validates the config and builds the decay mask.
  AdamW(const OptimizerConfig& config, int64_t numel, Device device, Tensor decay_mask);
  void step(Tensor& params, const Tensor& grads, double lr) override;
  // {"exp_avg", &m}, {"exp_avg_sq", &v} (torch's state names).
  std::vector<std::pair<std::string, Tensor*>> state_tensors() override;

 private:
  OptimizerConfig config_;
  Tensor exp_avg_, exp_avg_sq_;  // f32, numel elements, zero before the first step
};

}  // namespace te
