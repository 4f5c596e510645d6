#pragma once
// Argument helpers shared by the batch-norm ops (batchnorm_ops.cpp, batchnorm_act_ops.cpp):
// the [N, C, rest] view of an activation and the checks of per-channel f32 tensors.
#include <string>

#include "engine/core/tensor.h"
#include "kernels/cuda/storage_args.h"
#include "kernels/cuda/tensor_args.h"

namespace te::cuda {

struct ChannelDims {
  int64_t n = 0, c = 0, hw = 1;
  int64_t count() const { return n * hw; }  // values per channel
};

inline ChannelDims channel_dims(const char* op, const Tensor& x) {
  if (x.rank() < 2)
    throw ShapeError(std::string(op) + ": input " + x.shape().str() +
                     " should be [N, C, ...] with at least 2 dimensions");
  ChannelDims d;
  d.n = x.dim(0);
  d.c = x.dim(1);
  for (size_t i = 2; i < x.rank(); ++i) d.hw *= x.shape()[i];
  return d;
}

// A per-channel f32 tensor ([C] elements) or null: checked (size, dtype) before any pointer is
// taken, so every check of a call runs before the GPU is touched.
inline void check_channel(const Tensor* t, const ChannelDims& d, const char* op, const char* what) {
  if (!t) return;
  require_f32_param(t, op, what);
  require_numel(*t, d.c, op, what);
}

}  // namespace te::cuda
