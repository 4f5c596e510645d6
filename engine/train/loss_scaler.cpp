#include "engine/train/loss_scaler.h"

#include <cmath>
#include <string>

#include "engine/core/error.h"

namespace te {

LossScaler::LossScaler(bool enabled, Options options) : enabled_(enabled), options_(options) {
  if (!(options_.initial_scale > 0) || !(options_.growth_factor > 1) ||
      !(options_.backoff_factor > 0 && options_.backoff_factor < 1) || options_.growth_interval < 1)
    throw Error("loss scaler: needs initial_scale > 0, growth_factor > 1, 0 < backoff_factor < 1 "
                "and growth_interval >= 1");
  scale_ = enabled_ ? options_.initial_scale : 1.0;
}

void LossScaler::update(bool finite) {
  if (!enabled_) return;
  if (!finite) {
    scale_ *= options_.backoff_factor;
    clean_steps_ = 0;
    return;
  }
  if (++clean_steps_ >= options_.growth_interval) {
    // Never past float's range: a scale that overflows the loss itself helps nobody.
    if (scale_ * options_.growth_factor < 1e30) scale_ *= options_.growth_factor;
    clean_steps_ = 0;
  }
}

void LossScaler::restore(double scale, int64_t clean_steps) {
  if (!enabled_) return;
  if (!(scale > 0) || !std::isfinite(scale) || clean_steps < 0)
    throw Error("loss scaler: cannot restore scale " + std::to_string(scale) + " after " +
                std::to_string(clean_steps) + " clean steps");
  scale_ = scale;
  clean_steps_ = clean_steps;
}

}  // namespace te
