#pragma once
// Whole-model gradient utilities over the flat gradient buffer.
#include "engine/core/tensor.h"

namespace te {

// sqrt(sum g^2), accumulated in double (independent of the thread count).
double global_grad_norm(const Tensor& grads);

// torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6); grads *= coef when coef < 1.
// Returns the norm before clipping. A non-finite norm leaves the gradients untouched (torch
// would scale them by NaN); check all_finite and skip the step instead.
double clip_grad_norm(Tensor& grads, double max_norm);

// False when any gradient is NaN or +-Inf (an overflow under mixed precision).
bool all_finite(const Tensor& grads);

}  // namespace te
