// Concatenation along an axis (kernels/concat.h): every tensor is viewed as rows of
// [outer, extent * inner]; forward and the overwriting backward are strided 2-D copies
// (cudaMemcpy2DAsync, one per input), the accumulating backward is a strided add kernel.
// Dtypes (storage_args.h): every tensor of a call is f32, bf16 or f16, all the same; copies move
// bytes (pitches in elements times the element size), the add rounds once per element.
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/storage_args.h"
#include "kernels/cuda/tensor_args.h"

namespace te::ops::cuda {
using namespace te::cuda;
namespace {
struct Rows {
  int64_t outer = 1, inner = 1, row = 0;
};

Rows rows_of(const Shape& out, int axis, const std::vector<int64_t>& extents) {
  if (axis < 0 || axis >= static_cast<int>(out.rank()))
    throw ShapeError("concat: axis " + std::to_string(axis) + " is outside output " + out.str());
  Rows r;
  for (int d = 0; d < axis; ++d) r.outer *= out[d];
  for (size_t d = axis + 1; d < out.rank(); ++d) r.inner *= out[d];
  int64_t total = 0;
  for (int64_t e : extents) total += e;
  if (total != out[axis])
    throw ShapeError("concat: input extents add up to " + std::to_string(total) + " along axis " +
                     std::to_string(axis) + " but the output is " + out.str());
  r.row = total * r.inner;
  return r;
}
}  // namespace

void concat_forward(const std::vector<const Tensor*>& xs, int axis, Tensor& y) {
  const char* op = "concat_forward";
  const StorageDType st(op, y, "output");
  std::vector<int64_t> extents;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!xs[i] || xs[i]->rank() != y.rank())
      throw ShapeError(std::string(op) + ": input " + std::to_string(i) +
                       " is missing or has the wrong rank for output " + y.shape().str());
    for (size_t d = 0; d < y.rank(); ++d)
      if (static_cast<int>(d) != axis && xs[i]->shape()[d] != y.shape()[d])
        throw ShapeError(std::string(op) + ": input " + xs[i]->shape().str() +
                         " does not fit output " + y.shape().str() + " along axis " +
                         std::to_string(axis));
    st.check(*xs[i], ("input " + std::to_string(i)).c_str());
    extents.push_back(xs[i]->shape()[axis]);
  }
  const Rows r = rows_of(y.shape(), axis, extents);
  const size_t elem = dtype_size(st.dtype());
  char* out = st.bytes(y, "output");
  int64_t offset = 0;  // elements into an output row
  for (size_t i = 0; i < xs.size(); ++i) {
    const char* in = st.bytes(*xs[i], "input");
    const int64_t width = extents[i] * r.inner;
    if (width > 0 && r.outer > 0)
      TE_CUDA_CHECK(cudaMemcpy2DAsync(out + offset * elem, r.row * elem, in, width * elem,
                                      width * elem, r.outer, cudaMemcpyDeviceToDevice,
                                      compute_stream()));
    offset += width;
  }
}

void concat_backward(const Tensor& dy, int axis, const std::vector<int64_t>& sizes,
                     const std::vector<Tensor*>& dxs, const std::vector<bool>& accumulate) {
  const char* op = "concat_backward";
  if (dxs.size() != sizes.size() || accumulate.size() != sizes.size())
    throw Error(std::string(op) + ": " + std::to_string(sizes.size()) + " sizes, " +
                std::to_string(dxs.size()) + " gradients and " +
                std::to_string(accumulate.size()) + " accumulate flags do not match");
  const StorageDType st(op, dy, "dy");
  const Rows r = rows_of(dy.shape(), axis, sizes);
  for (size_t i = 0; i < sizes.size(); ++i)
    if (dxs[i]) {
      const std::string what = "dx " + std::to_string(i);
      st.check(*dxs[i], what.c_str());
      require_numel(*dxs[i], sizes[i] * r.inner * r.outer, op, what.c_str());
    }
  const size_t elem = dtype_size(st.dtype());
  const char* g = st.bytes(dy, "dy");
  int64_t offset = 0;  // elements into a row of dy
  for (size_t i = 0; i < sizes.size(); ++i) {
    const int64_t width = sizes[i] * r.inner;
    char* dx = dxs[i] ? st.bytes(*dxs[i], "dx") : nullptr;
    if (dx && width > 0 && r.outer > 0) {
      if (accumulate[i]) {
        st.dispatch([&](auto tag) {
          using T = typename decltype(tag)::type;
          launch::add_2d(reinterpret_cast<const T*>(g + offset * elem), r.row,
                         reinterpret_cast<T*>(dx), width, width, r.outer, compute_stream());
        });
      } else {
        TE_CUDA_CHECK(cudaMemcpy2DAsync(dx, width * elem, g + offset * elem, r.row * elem,
                                        width * elem, r.outer, cudaMemcpyDeviceToDevice,
                                        compute_stream()));
      }
    }
    offset += width;
  }
}

}  // namespace te::ops::cuda
