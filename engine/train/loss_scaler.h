#pragma once
// Dynamic loss scaling for fp16 training. fp16's largest finite value is 65504 and gradients
// below ~6e-8 vanish, so the loss (and with it every gradient) is multiplied by `scale`
// before backward and the master gradients are divided by it again. A step whose gradients
// overflow (inf or NaN) is skipped and the scale halved; after `growth_interval` clean steps
// in a row the scale doubles. The same policy as PyTorch's GradScaler (initial 2^16, growth 2,
// backoff 0.5, interval 2000). bf16 and fp32 keep float's range and need no scaling: the
// disabled scaler has scale 1 and never changes.
#include <cstdint>

namespace te {

class LossScaler {
 public:
  struct Options {
    double initial_scale = 65536.0;
    double growth_factor = 2.0;
    double backoff_factor = 0.5;
    int64_t growth_interval = 2000;
  };

  explicit LossScaler(bool enabled) : LossScaler(enabled, Options()) {}
  LossScaler(bool enabled, Options options);

  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  int64_t clean_steps() const { return clean_steps_; }

  // After each step: `finite` says whether its gradients were finite.
  void update(bool finite);
  // For checkpoints (restored on resume so the scale does not re-learn from 2^16).
  void restore(double scale, int64_t clean_steps);

 private:
  bool enabled_;
  Options options_;
  double scale_ = 1.0;
  int64_t clean_steps_ = 0;
};

}  // namespace te
