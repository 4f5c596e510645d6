// Linear on the CPU: one GEMM each for y, dx and dw, each split into fixed column blocks that
// run in parallel. The blocks depend only on the shapes, so every element comes from the same
// GEMM call whatever the thread count (bit-identical results).
#include "kernels/linear.h"

#include <algorithm>

#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "kernels/gemm.h"

namespace te::ops::cpu {
namespace {

constexpr int64_t kBlock = 128;  // columns of the result per parallel work item

struct Dims {
  int64_t n, in, out;
};

Dims dims_of(const Shape& x, const Shape& w) {
  if (x.rank() != 2 || w.rank() != 2 || x[1] != w[1])
    throw ShapeError("linear: expected input [N, in] and weight [out, in], got " + x.str() +
                     " and " + w.str());
  return {x[0], x[1], w[0]};
}

void require_shape(const Tensor& t, const Shape& want, const char* what) {
  if (t.shape() != want)
    throw ShapeError(std::string("linear: ") + what + " has shape " + t.shape().str() +
                     ", expected " + want.str());
}

// fn(j0, j1) for column blocks [j0, j1) of a result with `cols` columns, in parallel.
template <typename F>
void for_column_blocks(int64_t cols, const F& fn) {
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
  parallel_for(blocks, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) fn(b * kBlock, std::min(cols, (b + 1) * kBlock));
  });
}

template <typename T>
void forward_impl(const Tensor& xt, const Tensor& wt, const Tensor* bt, Tensor& yt) {
  const Dims d = dims_of(xt.shape(), wt.shape());
  require_shape(yt, Shape{d.n, d.out}, "output");
  if (bt) require_shape(*bt, Shape{d.out}, "bias");
  const T* x = xt.data<T>();
  const T* w = wt.data<T>();
  const T* bias = bt ? bt->data<T>() : nullptr;
  T* y = yt.data<T>();
  for_column_blocks(d.out, [&](int64_t j0, int64_t j1) {
    gemm<T>(false, true, d.n, j1 - j0, d.in, T(1), x, d.in, w + j0 * d.in, d.in, T(0), y + j0,
            d.out);
    if (bias)
      for (int64_t i = 0; i < d.n; ++i)
        for (int64_t j = j0; j < j1; ++j) y[i * d.out + j] += bias[j];
  });
}

template <typename T>
void backward_input_impl(const Tensor& dyt, const Tensor& wt, Tensor& dxt, bool accumulate) {
  const Dims d = dims_of(dxt.shape(), wt.shape());
  require_shape(dyt, Shape{d.n, d.out}, "output gradient");
  const T* dy = dyt.data<T>();
  const T* w = wt.data<T>();
  T* dx = dxt.data<T>();
  for_column_blocks(d.in, [&](int64_t j0, int64_t j1) {
    gemm<T>(false, false, d.n, j1 - j0, d.out, T(1), dy, d.out, w + j0, d.in,
            accumulate ? T(1) : T(0), dx + j0, d.in);
  });
}

template <typename T>
void backward_params_impl(const Tensor& xt, const Tensor& dyt, Tensor& dwt, Tensor* dbt) {
  const Dims d = dims_of(xt.shape(), dwt.shape());
  require_shape(dyt, Shape{d.n, d.out}, "output gradient");
  const T* x = xt.data<T>();
  const T* dy = dyt.data<T>();
  T* dw = dwt.data<T>();
  T* db = nullptr;
  if (dbt) {
    require_shape(*dbt, Shape{d.out}, "bias gradient");
    db = dbt->data<T>();
  }
  // Blocks of output rows of dw (= columns of dy).
  for_column_blocks(d.out, [&](int64_t o0, int64_t o1) {
    gemm<T>(true, false, o1 - o0, d.in, d.n, T(1), dy + o0, d.out, x, d.in, T(1), dw + o0 * d.in,
            d.in);
    if (db)
      for (int64_t o = o0; o < o1; ++o) {
        double s = 0;
        for (int64_t i = 0; i < d.n; ++i) s += dy[i * d.out + o];
        db[o] += static_cast<T>(s);
      }
  });
}

[[noreturn]] void unsupported(const char* op, DType t) {
  throw Error(std::string(op) + ": unsupported dtype " + dtype_name(t) + " (expected f32 or f64)");
}

}  // namespace

void linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) {
  switch (x.dtype()) {
    case DType::F32:
      return forward_impl<float>(x, w, bias, y);
    case DType::F64:
      return forward_impl<double>(x, w, bias, y);
    default:
      unsupported("linear_forward", x.dtype());
  }
}

void linear_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate) {
  switch (dy.dtype()) {
    case DType::F32:
      return backward_input_impl<float>(dy, w, dx, accumulate);
    case DType::F64:
      return backward_input_impl<double>(dy, w, dx, accumulate);
    default:
      unsupported("linear_backward_input", dy.dtype());
  }
}

void linear_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db) {
  switch (x.dtype()) {
    case DType::F32:
      return backward_params_impl<float>(x, dy, dw, db);
    case DType::F64:
      return backward_params_impl<double>(x, dy, dw, db);
    default:
      unsupported("linear_backward_params", x.dtype());
  }
}

}  // namespace te::ops::cpu
