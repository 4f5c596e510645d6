#pragma once
// torch.optim.SGD over flat buffers (dampening 0): weight decay is added to the gradient, the
// momentum buffer starts as the first step's gradient, Nesterov uses g + momentum * buf.
#include "engine/optim/optimizer.h"

namespace te {

class Sgd : public Optimizer {
 public:
  // Prefer make_optimizer, which validates the config and builds the decay mask.
  Sgd(const OptimizerConfig& config, int64_t numel, Device device, Tensor decay_mask);
  void step(Tensor& params, const Tensor& grads, double lr) override;
  // {"momentum", &buf}, or nothing when momentum is 0 (torch keeps no buffer then).
  std::vector<std::pair<std::string, Tensor*>> state_tensors() override;

 private:
  OptimizerConfig config_;
  Tensor momentum_;  // f32, numel elements; undefined when momentum == 0
};

}  // namespace te
