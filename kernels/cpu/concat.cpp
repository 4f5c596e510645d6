// CPU concatenation: each tensor is viewed as [outer, dim(axis) * inner]; an output row is the
// inputs' rows side by side. Rows are split across the thread pool when there is enough data.
#include <algorithm>
#include <string>

#include "engine/core/parallel.h"
#include "kernels/concat.h"

namespace te::ops::cpu {
namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per task

struct Layout {
  int64_t outer = 1;               // product of dims before the axis
  int64_t inner = 1;               // product of dims after the axis
  std::vector<int64_t> widths;     // dim(axis) * inner per input
  std::vector<int64_t> offsets;    // where each input's block starts within an output row
  int64_t row = 0;                 // sum of widths
};

Layout layout(const std::vector<Shape>& shapes, int axis, const Shape& out) {
  if (axis < 0 || axis >= static_cast<int>(out.rank()))
    throw ShapeError("concat: axis " + std::to_string(axis) + " is outside output " + out.str());
  Layout l;
  for (int d = 0; d < axis; ++d) l.outer *= out[d];
  for (size_t d = axis + 1; d < out.rank(); ++d) l.inner *= out[d];
  for (const Shape& s : shapes) {
    bool fits = s.rank() == out.rank();
    for (size_t d = 0; fits && d < s.rank(); ++d) fits = static_cast<int>(d) == axis || s[d] == out[d];
    if (!fits)
      throw ShapeError("concat: input " + s.str() + " does not fit output " + out.str() +
                       " along axis " + std::to_string(axis));
    l.offsets.push_back(l.row);
    l.widths.push_back(s[axis] * l.inner);
    l.row += l.widths.back();
  }
  if (l.row * l.outer != out.numel())
    throw ShapeError("concat: inputs do not add up to output " + out.str());
  return l;
}

void for_rows(const Layout& l, const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t rows_per_task = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, l.row));
  parallel_for((l.outer + rows_per_task - 1) / rows_per_task, [&](int64_t b, int64_t e) {
    fn(b * rows_per_task, std::min(l.outer, e * rows_per_task));
  });
}

template <typename T>
void forward_impl(const std::vector<const Tensor*>& xs, const Layout& l, Tensor& y) {
  T* out = y.data<T>();
  for_rows(l, [&](int64_t r0, int64_t r1) {
    for (size_t k = 0; k < xs.size(); ++k) {
      const T* in = xs[k]->data<T>();
      const int64_t w = l.widths[k];
      for (int64_t r = r0; r < r1; ++r) std::copy(in + r * w, in + (r + 1) * w, out + r * l.row + l.offsets[k]);
    }
  });
}

template <typename T>
void backward_impl(const Tensor& dy, const Layout& l, const std::vector<Tensor*>& dxs,
                   const std::vector<bool>& accumulate) {
  const T* g = dy.data<T>();
  for_rows(l, [&](int64_t r0, int64_t r1) {
    for (size_t k = 0; k < dxs.size(); ++k) {
      if (!dxs[k]) continue;
      T* d = dxs[k]->data<T>();
      const int64_t w = l.widths[k];
      for (int64_t r = r0; r < r1; ++r) {
        const T* src = g + r * l.row + l.offsets[k];
        T* dst = d + r * w;
        if (accumulate[k])
          for (int64_t i = 0; i < w; ++i) dst[i] += src[i];
        else
          std::copy(src, src + w, dst);
      }
    }
  });
}

void check_dtype(const char* op, const Tensor& t, DType want) {
  if (t.dtype() != want)
    throw Error(std::string(op) + ": tensor of dtype " + dtype_name(t.dtype()) + " among " + dtype_name(want) + " tensors");
}

}  // namespace

void concat_forward(const std::vector<const Tensor*>& xs, int axis, Tensor& y) {
  std::vector<Shape> shapes;
  for (const Tensor* x : xs) {
    check_dtype("concat_forward", *x, y.dtype());
    shapes.push_back(x->shape());
  }
  const Layout l = layout(shapes, axis, y.shape());
  switch (y.dtype()) {
    case DType::F32: return forward_impl<float>(xs, l, y);
    case DType::F64: return forward_impl<double>(xs, l, y);
    default: throw Error(std::string("concat_forward: expects f32 or f64, got ") + dtype_name(y.dtype()));
  }
}

void concat_backward(const Tensor& dy, int axis, const std::vector<int64_t>& sizes,
                     const std::vector<Tensor*>& dxs, const std::vector<bool>& accumulate) {
  if (sizes.size() != dxs.size() || accumulate.size() != dxs.size())
    throw Error("concat_backward: " + std::to_string(sizes.size()) + " sizes, " +
                std::to_string(dxs.size()) + " gradients and " + std::to_string(accumulate.size()) +
                " modes; expected one of each per input");
  if (axis < 0 || axis >= static_cast<int>(dy.rank()))
    throw ShapeError("concat_backward: axis " + std::to_string(axis) + " is outside " + dy.shape().str());
  std::vector<Shape> shapes;
  for (size_t k = 0; k < dxs.size(); ++k) {
    Shape s = dy.shape();
    s[axis] = sizes[k];
    if (dxs[k]) {
      check_dtype("concat_backward", *dxs[k], dy.dtype());
      if (dxs[k]->shape() != s)
        throw ShapeError("concat_backward: gradient " + dxs[k]->shape().str() + " of input " +
                         std::to_string(k) + " should be " + s.str());
    }
    shapes.push_back(s);
  }
  const Layout l = layout(shapes, axis, dy.shape());
  switch (dy.dtype()) {
    case DType::F32: return backward_impl<float>(dy, l, dxs, accumulate);
    case DType::F64: return backward_impl<double>(dy, l, dxs, accumulate);
    default: throw Error(std::string("concat_backward: expects f32 or f64, got ") + dtype_name(dy.dtype()));
  }
}

}  // namespace te::ops::cpu
