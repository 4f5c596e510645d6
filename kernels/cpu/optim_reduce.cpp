// CPU reductions over gradient buffers: sum of squares (for the global norm), scaling (for
// clipping) and the finiteness check (for skipping steps after an overflow).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/core/parallel.h"
#include "kernels/cpu/optim_check.h"
#include "kernels/optim.h"

namespace te::ops::cpu {
using optim_detail::kBlock;
using optim_detail::num_blocks;

namespace {
// Calls fn(ptr, n) with a typed pointer for F32 or F64 tensors.
template <typename Fn>
auto with_float_data(const char* op, const Tensor& x, Fn&& fn) {
  if (x.dtype() == DType::F32) return fn(x.data<float>(), x.numel());
  if (x.dtype() == DType::F64) return fn(x.data<double>(), x.numel());
  throw Error(std::string(op) + ": expected an f32 or f64 tensor, got " + dtype_name(x.dtype()));
}
}  // namespace

double sum_of_squares(const Tensor& x) {
  return with_float_data("sum_of_squares", x, [](const auto* p, int64_t n) {
    // One partial per fixed-size block, added in block order: the same result on any thread count.
    std::vector<double> partial(static_cast<size_t>(num_blocks(n)), 0.0);
    parallel_for(num_blocks(n), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        double s = 0;
        const int64_t end = std::min(n, (b + 1) * kBlock);
        for (int64_t i = b * kBlock; i < end; ++i) s += static_cast<double>(p[i]) * p[i];
        partial[b] = s;
      }
    });
    double total = 0;
    for (double s : partial) total += s;
    return total;
  });
}

void scale_inplace(Tensor& x, double factor) {
  with_float_data("scale_inplace", x, [factor](auto* p, int64_t n) {
    const auto f = static_cast<std::remove_pointer_t<decltype(p)>>(factor);
    parallel_for(num_blocks(n), [&](int64_t b0, int64_t b1) {
      const int64_t end = std::min(n, b1 * kBlock);
      for (int64_t i = b0 * kBlock; i < end; ++i) p[i] *= f;
    });
  });
}

bool all_finite(const Tensor& x) {
  return with_float_data("all_finite", x, [](const auto* p, int64_t n) {
    std::vector<uint8_t> ok(static_cast<size_t>(num_blocks(n)), 1);
    parallel_for(num_blocks(n), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t end = std::min(n, (b + 1) * kBlock);
        bool fine = true;
        for (int64_t i = b * kBlock; i < end; ++i) fine &= std::isfinite(p[i]);
        ok[b] = fine;
      }
    });
    return std::all_of(ok.begin(), ok.end(), [](uint8_t v) { return v != 0; });
  });
}

}  // namespace te::ops::cpu
