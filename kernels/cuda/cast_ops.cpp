#include "kernels/cast.h"

#include "kernels/cuda/launchers_cast.h"
#include "kernels/cuda/tensor_args.h"

namespace te::ops::cuda {
namespace {
// 0 f32, 1 bf16, 2 f16 (launch::cast_scale's codes).
int type_code(const Tensor& t, const char* what) {
  switch (t.dtype()) {
    case DType::F32: return 0;
    case DType::BF16: return 1;
    case DType::F16: return 2;
    default:
      throw Error(std::string("cast_scale: ") + what + " is " + dtype_name(t.dtype()) +
                  "; the CUDA backend converts between f32, bf16 and f16");
  }
}
}  // namespace

void cast_scale(const Tensor& src, Tensor& dst, double scale) {
  const char* op = "cast_scale";
  if (!src.defined() || !dst.defined()) throw Error("cast_scale: undefined tensor");
  te::cuda::require_on_gpu(src, op, "src");
  te::cuda::require_on_gpu(dst, op, "dst");
  if (src.numel() != dst.numel())
    throw ShapeError("cast_scale: src " + src.shape().str() + " and dst " + dst.shape().str() +
                     " differ in size");
  te::cuda::launch::cast_scale(src.raw(), type_code(src, "src"), dst.raw(), type_code(dst, "dst"),
                               src.numel(), static_cast<float>(scale), te::cuda::compute_stream());
}

void cast_scale_ranges(const Tensor& src, Tensor& dst, const Tensor& table, double scale) {
  const char* op = "cast_scale_ranges";
  if (!src.defined() || !dst.defined() || !table.defined()) throw Error("cast_scale_ranges: undefined tensor");
  te::cuda::require_on_gpu(src, op, "src");
  te::cuda::require_on_gpu(dst, op, "dst");
  te::cuda::require_on_gpu(table, op, "table");
  if (src.numel() != dst.numel())
    throw ShapeError("cast_scale_ranges: src " + src.shape().str() + " and dst " + dst.shape().str() +
                     " differ in size");
  if (table.dtype() != DType::I64 || table.numel() % 2 != 1)
    throw Error("cast_scale_ranges: the range table must come from make_range_table");
  const int64_t n = table.numel() / 2;
  const auto* t = static_cast<const int64_t*>(table.raw());
  // The total is on the device (starts[n]); dst's size bounds it for the launch geometry.
  te::cuda::launch::cast_scale_ranges(src.raw(), type_code(src, "src"), dst.raw(), type_code(dst, "dst"),
                                      t, t + n, static_cast<int>(n), dst.numel(),
                                      static_cast<float>(scale), te::cuda::compute_stream());
}

}  // namespace te::ops::cuda
