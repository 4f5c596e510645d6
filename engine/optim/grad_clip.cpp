#include "engine/optim/grad_clip.h"

#include <cmath>
#include <string>

#include "kernels/optim.h"

namespace te {

double global_grad_norm(const Tensor& grads) { return std::sqrt(ops::sum_of_squares(grads)); }

double clip_grad_norm(Tensor& grads, double max_norm) {
  if (!(max_norm > 0) || !std::isfinite(max_norm))
    throw ConfigError("gradient clipping: max_norm must be a finite number > 0 (got " +
                      std::to_string(max_norm) + ")");
  const double norm = global_grad_norm(grads);
  if (!std::isfinite(norm)) return norm;
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) ops::scale_inplace(grads, coef);
  return norm;
}

bool all_finite(const Tensor& grads) { return ops::all_finite(grads); }

}  // namespace te
