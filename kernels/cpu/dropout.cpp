// CPU dropout. Each Philox block (4 x 32 bits) decides 4 consecutive elements, so tasks are
// split on multiples of 4 elements and the mask never depends on the thread count.
#include <algorithm>
#include <string>

#include "engine/core/parallel.h"
#include "engine/core/philox.h"
#include "kernels/dropout.h"

namespace te::ops::cpu {
namespace {

constexpr int64_t kGrainGroups = 1 << 12;  // groups of 4 elements per task

void check_args(const char* op, const Tensor& a, const Tensor& b, double p) {
  if (a.numel() != b.numel() || a.dtype() != b.dtype())
    throw ShapeError(std::string(op) + ": tensors " + a.shape().str() + " " + dtype_name(a.dtype()) +
                     " and " + b.shape().str() + " " + dtype_name(b.dtype()) + " do not match");
  if (!(p >= 0.0 && p < 1.0))
    throw Error(std::string(op) + ": drop probability p = " + std::to_string(p) + " is outside [0, 1)");
}

// out[i] = in[i] * keep(i) / (1 - p), or += when accumulating (backward).
template <typename T>
void apply_mask(const T* in, T* out, int64_t n, double p, uint64_t key, uint64_t stream,
                bool accumulate) {
  const float threshold = static_cast<float>(p);
  const T scale = static_cast<T>(1.0 / (1.0 - p));
  const int64_t groups = (n + 3) / 4;
  parallel_for((groups + kGrainGroups - 1) / kGrainGroups, [&](int64_t b, int64_t e) {
    const int64_t g_end = std::min(groups, e * kGrainGroups);
    for (int64_t g = b * kGrainGroups; g < g_end; ++g) {
      // The same 4 draws CounterRng(key, stream, g) would give, taken from one Philox block.
      const Philox4 r = philox4x32(key ^ (stream * 0x9E3779B97F4A7C15ull), stream,
                                   static_cast<uint64_t>(g) << 20);
      const int64_t i0 = 4 * g, i_end = std::min(n, i0 + 4);
      for (int64_t i = i0; i < i_end; ++i) {
        const float u = (r.v[i - i0] >> 8) * (1.0f / 16777216.0f);
        const T v = u >= threshold ? in[i] * scale : T(0);
        out[i] = accumulate ? out[i] + v : v;
      }
    }
  });
}

}  // namespace

void dropout_forward(const Tensor& x, Tensor& y, double p, uint64_t key, uint64_t stream) {
  check_args("dropout_forward", x, y, p);
  switch (x.dtype()) {
    case DType::F32: return apply_mask(x.data<float>(), y.data<float>(), x.numel(), p, key, stream, false);
    case DType::F64: return apply_mask(x.data<double>(), y.data<double>(), x.numel(), p, key, stream, false);
    default: throw Error(std::string("dropout_forward: expects f32 or f64, got ") + dtype_name(x.dtype()));
  }
}

void dropout_backward(const Tensor& dy, Tensor& dx, double p, uint64_t key, uint64_t stream,
                      bool accumulate) {
  check_args("dropout_backward", dy, dx, p);
  switch (dy.dtype()) {
    case DType::F32: return apply_mask(dy.data<float>(), dx.data<float>(), dy.numel(), p, key, stream, accumulate);
    case DType::F64: return apply_mask(dy.data<double>(), dx.data<double>(), dy.numel(), p, key, stream, accumulate);
    default: throw Error(std::string("dropout_backward: expects f32 or f64, got ") + dtype_name(dy.dtype()));
  }
}

}  // namespace te::ops::cpu
