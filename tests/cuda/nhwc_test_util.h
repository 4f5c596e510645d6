#pragma once
// Host-side permutes between the two memory orders of kernels/layout.h, for the channels-last
// (NHWC) tests: inputs are made in NCHW on the CPU, permuted to NHWC for the CUDA op, and its
// NHWC results permuted back to compare with the CPU's NCHW reference. Both take and return CPU
// tensors of any dtype (elements are moved as bytes) with the logical shape [N, C, ...]: the
// trailing dimensions are the spatial positions, so [N, C] and [N, C, L] work too.
#include <cstring>
#include <string>

#include "engine/core/error.h"
#include "engine/core/tensor.h"

namespace te::cuda_test {
namespace nhwc_detail {
// to_nhwc: dst[(n * S + s) * C + c] = src[(n * C + c) * S + s]; from_nhwc the inverse.
inline Tensor permute(const Tensor& src, bool to_channels_last, const char* what) {
  if (!src.device().is_cpu())
    throw DeviceError(std::string(what) + ": expects a CPU tensor, got " + src.device().str());
  if (src.shape().rank() < 2)
    throw ShapeError(std::string(what) + ": expects [N, C, ...], got " + src.shape().str());
  const int64_t n = src.shape()[0], c = src.shape()[1];
  const int64_t s = (n * c) > 0 ? src.numel() / (n * c) : 0;
  const size_t es = dtype_size(src.dtype());
  Tensor dst = Tensor::empty(src.shape(), src.dtype());
  const char* in = static_cast<const char*>(src.raw());
  char* out = static_cast<char*>(dst.raw());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < s; ++p) {
        const int64_t nchw = (i * c + ch) * s + p, nhwc = (i * s + p) * c + ch;
        const int64_t from = to_channels_last ? nchw : nhwc, to = to_channels_last ? nhwc : nchw;
        std::memcpy(out + to * es, in + from * es, es);
      }
  return dst;
}
}  // namespace nhwc_detail

// Same logical shape, NHWC memory order, on the CPU.
inline Tensor to_nhwc(const Tensor& nchw_cpu) {
  return nhwc_detail::permute(nchw_cpu, true, "to_nhwc");
}
// Back to NCHW memory order.
inline Tensor from_nhwc(const Tensor& nhwc_cpu) {
  return nhwc_detail::permute(nhwc_cpu, false, "from_nhwc");
}

}  // namespace te::cuda_test
