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

void cast_scale_ranges(const Tensor& src, Tensor& dst, const Tensor& table, double scale) {
  if (src.numel() != dst.numel())
    throw ShapeError("cast_scale_ranges: src " + src.shape().str() + " and dst " + dst.shape().str() +
                     " differ in size");
  if (table.dtype() != DType::I64 || table.numel() % 2 != 1 || !table.device().is_cpu())
    throw Error("cast_scale_ranges: the range table must come from make_range_table");
  const int64_t n = table.numel() / 2;
  const int64_t* offsets = table.data<int64_t>();
  const int64_t* starts = offsets + n;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t count = starts[r + 1] - starts[r];
    Tensor d = dst.slice_flat(offsets[r], Shape{count});
    cast_scale(src.slice_flat(offsets[r], Shape{count}), d, scale);
  }
}

}  // namespace te::ops::cpu

namespace te::ops {

Tensor make_range_table(const std::vector<std::pair<int64_t, int64_t>>& ranges, int64_t numel) {
  const auto n = static_cast<int64_t>(ranges.size());
  Tensor table = Tensor::empty(Shape{2 * n + 1}, DType::I64);
  int64_t* offsets = table.data<int64_t>();
  int64_t* starts = offsets + n;
  int64_t total = 0, end = 0;
  for (int64_t r = 0; r < n; ++r) {
    const auto [offset, count] = ranges[static_cast<size_t>(r)];
    if (offset < end || count < 0 || offset + count > numel)
      throw Error("make_range_table: range (" + std::to_string(offset) + ", " + std::to_string(count) +
                  ") overlaps the previous one or lies outside " + std::to_string(numel) + " elements");
    offsets[r] = offset;
    starts[r] = total;
    total += count;
    end = offset + count;
  }
  starts[n] = total;
  return table;
}

}  // namespace te::ops
