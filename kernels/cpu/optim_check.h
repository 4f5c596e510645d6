#pragma once
// Argument checks shared by the CPU optimizer kernels (kernels/cpu/optim_*.cpp).
#include <string>

#include "engine/core/tensor.h"

namespace te::ops::cpu::optim_detail {

// Elements per parallel block: large enough that a block's work dwarfs the scheduling cost,
// and a fixed size so reductions sum the same partials in the same order on any thread count.
constexpr int64_t kBlock = 1 << 15;

inline int64_t num_blocks(int64_t n) { return (n + kBlock - 1) / kBlock; }

inline void require_f32_like(const char* op, const char* what, const Tensor& t,
                             const Tensor& params) {
  if (!t.defined() || t.dtype() != DType::F32 || t.numel() != params.numel() ||
      t.device() != params.device())
    throw Error(std::string(op) + ": " + what + " must be an f32 tensor of " +
                std::to_string(params.numel()) + " elements on " + params.device().str() +
                " like the parameters (got " +
                (t.defined() ? std::string(dtype_name(t.dtype())) + " " + t.shape().str() + " on " +
                                   t.device().str()
                             : std::string("an undefined tensor")) +
                ")");
}

inline void require_mask(const char* op, const Tensor& mask, const Tensor& params) {
  if (!mask.defined()) return;
  if (mask.dtype() != DType::U8 || mask.numel() != params.numel() ||
      mask.device() != params.device())
    throw Error(std::string(op) + ": the weight-decay mask must be a u8 tensor of " +
                std::to_string(params.numel()) + " elements on " + params.device().str() +
                " (got " + dtype_name(mask.dtype()) + " " + mask.shape().str() + ")");
}

}  // namespace te::ops::cpu::optim_detail
