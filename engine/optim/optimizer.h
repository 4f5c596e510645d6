#pragma once
// Optimizers over flat buffers: every parameter of the model lives in one contiguous tensor and
// every gradient in another of the same size (DESIGN.md), so a step is one fused kernel.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"

namespace te {

struct OptimizerConfig {
  std::string type = "sgd";  // "sgd" | "adamw"
  double momentum = 0.9;     // sgd
  bool nesterov = false;     // sgd
  double weight_decay = 5e-4;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adamw
};

// The optimizer types make_optimizer knows, sorted.
std::vector<std::string> optimizer_types();

class Optimizer {
 public:
  virtual ~Optimizer();
  // One update of `params` from `grads` (both f32, numel() elements, on device()) with rate `lr`.
  virtual void step(Tensor& params, const Tensor& grads, double lr) = 0;
  // Named state buffers, for checkpoints (e.g. {"momentum", &buf}); load by copy_from into them.
  virtual std::vector<std::pair<std::string, Tensor*>> state_tensors() = 0;

  // Steps taken so far (restored from a checkpoint together with the state tensors).
  int64_t step_count() const { return step_count_; }
  void set_step_count(int64_t n);

  int64_t numel() const { return numel_; }
  Device device() const { return device_; }

 protected:
  Optimizer(int64_t numel, Device device, Tensor decay_mask);
  // Throws te::Error naming what is wrong when the buffers or lr do not fit this optimizer.
  void check_step_args(const Tensor& params, const Tensor& grads, double lr) const;

  int64_t numel_;
  Device device_;
  Tensor decay_mask_;  // u8 per element, 0 = no weight decay; undefined when all decay
  int64_t step_count_ = 0;
};

// `no_decay_ranges`: (offset, count) ranges of the flat buffer that get no weight decay (the
// runner passes BN parameters and biases). Throws ConfigError for an unknown type or a value
// out of range, te::Error for a range outside [0, numel).
std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config, int64_t numel,
                                          Device device,
                                          std::vector<std::pair<int64_t, int64_t>> no_decay_ranges = {});

}  // namespace te
