#include "kernels/cast.h"

#include <string>
#include <type_traits>

#include "engine/core/half.h"
#include "engine/core/parallel.h"

namespace te::ops::cpu {
namespace {

// Loads and stores of each dtype, in the precision its math uses (float; double for f64).
struct F32 { using T = float; using Math = float;
  static float load(const float* p, int64_t i) { return p[i]; }
  static void store(float* p, int64_t i, float v) { p[i] = v; } };
struct F64 { using T = double; using Math = double;
  static double load(const double* p, int64_t i) { return p[i]; }
  static void store(double* p, int64_t i, double v) { p[i] = v; } };
struct BF16 { using T = uint16_t; using Math = float;
  static float load(const uint16_t* p, int64_t i) { return bf16_to_float(p[i]); }
  static void store(uint16_t* p, int64_t i, float v) { p[i] = float_to_bf16(v); } };
struct F16 { using T = uint16_t; using Math = float;
  static float load(const uint16_t* p, int64_t i) { return f16_to_float(p[i]); }
  static void store(uint16_t* p, int64_t i, float v) { p[i] = float_to_f16(v); } };

template <typename In, typename Out>
void run(const Tensor& src, Tensor& dst, double scale) {
  // The wider of the two precisions does the multiply (double only when f64 is involved).
  using Math = std::conditional_t<std::is_same_v<typename In::Math, double> ||
                                      std::is_same_v<typename Out::Math, double>,
                                  double, float>;
  const auto* s = static_cast<const typename In::T*>(src.raw());
  auto* d = static_cast<typename Out::T*>(dst.raw());
  const Math k = static_cast<Math>(scale);
  parallel_for(src.numel(), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      Out::store(d, i, static_cast<typename Out::Math>(static_cast<Math>(In::load(s, i)) * k));
  });
}

template <typename In>
void dispatch_out(const Tensor& src, Tensor& dst, double scale) {
  switch (dst.dtype()) {
    case DType::F32: return run<In, F32>(src, dst, scale);
    case DType::F64: return run<In, F64>(src, dst, scale);
    case DType::BF16: return run<In, BF16>(src, dst, scale);
    case DType::F16: return run<In, F16>(src, dst, scale);
    default: throw Error(std::string("cast_scale: dst is ") + dtype_name(dst.dtype()) + ", not a float type");
  }
}

}  // namespace

void cast_scale(const Tensor& src, Tensor& dst, double scale) {
  if (src.numel() != dst.numel())
    throw ShapeError("cast_scale: src " + src.shape().str() + " and dst " + dst.shape().str() +
                     " differ in size");
  if (!src.device().is_cpu()) throw DeviceError("cast_scale: src is on " + src.device().str() + ", dst on the CPU");
  switch (src.dtype()) {
    case DType::F32: return dispatch_out<F32>(src, dst, scale);
    case DType::F64: return dispatch_out<F64>(src, dst, scale);
    case DType::BF16: return dispatch_out<BF16>(src, dst, scale);
    case DType::F16: return dispatch_out<F16>(src, dst, scale);
    default: throw Error(std::string("cast_scale: src is ") + dtype_name(src.dtype()) + ", not a float type");
  }
}

}  // namespace te::ops::cpu
