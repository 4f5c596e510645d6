#include "engine/optim/optimizer.h"

#include <algorithm>
#include <cmath>

#include "engine/core/suggest.h"
#include "engine/optim/adamw.h"
#include "engine/optim/sgd.h"

namespace te {
namespace {

void require(bool ok, const std::string& key, const std::string& expected, double value) {
  if (!ok)
    throw ConfigError("optimizer." + key + " must be " + expected + " (got " +
                      std::to_string(value) + ")");
}

void validate(const OptimizerConfig& c) {
  require(std::isfinite(c.weight_decay) && c.weight_decay >= 0, "weight_decay", ">= 0",
          c.weight_decay);
  if (c.type == "sgd") {
    require(std::isfinite(c.momentum) && c.momentum >= 0, "momentum", ">= 0", c.momentum);
    if (c.nesterov && c.momentum <= 0)
      throw ConfigError("optimizer.nesterov: Nesterov momentum needs optimizer.momentum > 0");
  } else if (c.type == "adamw") {
    require(c.beta1 >= 0 && c.beta1 < 1, "beta1", "in [0, 1)", c.beta1);
    require(c.beta2 >= 0 && c.beta2 < 1, "beta2", "in [0, 1)", c.beta2);
    require(std::isfinite(c.eps) && c.eps > 0, "eps", "> 0", c.eps);
  }
}

// u8 per element, 0 inside a no-decay range; built on the host, then moved to the device.
Tensor make_decay_mask(int64_t numel, Device device,
                       const std::vector<std::pair<int64_t, int64_t>>& ranges) {
  if (ranges.empty()) return Tensor();
  Tensor mask = Tensor::empty({numel}, DType::U8);
  mask.fill(1);
  uint8_t* m = mask.data<uint8_t>();
  for (const auto& [offset, count] : ranges) {
    if (offset < 0 || count < 0 || offset + count > numel)
      throw Error("make_optimizer: no-decay range (offset " + std::to_string(offset) + ", count " +
                  std::to_string(count) + ") is outside the parameter buffer of " +
                  std::to_string(numel) + " elements");
    std::fill(m + offset, m + offset + count, uint8_t{0});
  }
  return mask.to(device);
}

}  // namespace

std::vector<std::string> optimizer_types() { return {"adamw", "sgd"}; }

Optimizer::~Optimizer() = default;

Optimizer::Optimizer(int64_t numel, Device device, Tensor decay_mask)
    : numel_(numel), device_(device), decay_mask_(std::move(decay_mask)) {}

void Optimizer::set_step_count(int64_t n) {
  if (n < 0) throw Error("Optimizer::set_step_count: negative step count " + std::to_string(n));
  step_count_ = n;
}

void Optimizer::check_step_args(const Tensor& params, const Tensor& grads, double lr) const {
  auto describe = [](const Tensor& t) {
    return std::string(dtype_name(t.dtype())) + " " + t.shape().str() + " on " + t.device().str();
  };
  for (const Tensor* t : {&params, &grads})
    if (t->numel() != numel_ || t->dtype() != DType::F32 || t->device() != device_)
      throw Error(std::string("optimizer step: ") + (t == &params ? "parameters" : "gradients") +
                  " must be f32 with " + std::to_string(numel_) + " elements on " +
                  device_.str() + " (got " + describe(*t) + ")");
  if (!std::isfinite(lr) || lr < 0)
    throw Error("optimizer step: learning rate must be finite and >= 0 (got " +
                std::to_string(lr) + ")");
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config, int64_t numel,
                                          Device device,
                                          std::vector<std::pair<int64_t, int64_t>> no_decay_ranges) {
  const auto types = optimizer_types();
  if (std::find(types.begin(), types.end(), config.type) == types.end()) {
    const std::string guess = closest_match(config.type, types);
    throw ConfigError("optimizer.type: unknown optimizer '" + config.type + "'" +
                      (guess.empty() ? "" : "; did you mean '" + guess + "'?") +
                      " (known types: " + join(types) + ")");
  }
  validate(config);
  if (numel <= 0)
    throw Error("make_optimizer: the parameter buffer is empty (" + std::to_string(numel) +
                " elements)");
  Tensor mask = make_decay_mask(numel, device, no_decay_ranges);
  if (config.type == "sgd") return std::make_unique<Sgd>(config, numel, device, std::move(mask));
  return std::make_unique<AdamW>(config, numel, device, std::move(mask));
}

}  // namespace te
