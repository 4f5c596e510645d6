// Tensor-level Linear (kernels/linear.h) through cuBLAS. Row-major [rows, cols] matrices are
// column-major [cols, rows] to cuBLAS, so each product is written for the transposes:
//   y = x W^T      ->  y^T (out x N)  = W^T' * x^T   : gemm(T, N, out, N, in, W, x)
//   dx = dy W      ->  dx^T (in x N)  = W^T * dy^T   : gemm(N, N, in, N, out, W, dy)
//   dw += dy^T x   ->  dw^T (in x out) = x^T * dy    : gemm(N, T, in, out, N, x, dy)
// TF32 tensor cores are allowed only when allow_tf32() (CUBLAS_TF32_TENSOR_OP_MATH); otherwise
// CUBLAS_DEFAULT_MATH keeps full fp32 products.
#include <cublas_v2.h>

#include <climits>
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/tensor_args.h"

namespace te::ops::cuda {
using namespace te::cuda;
namespace {
int to_int(int64_t v, const char* op) {
  if (v > INT_MAX) throw ShapeError(std::string(op) + ": dimension " + std::to_string(v) + " is too large for cuBLAS");
  return static_cast<int>(v);
}

cublasHandle_t blas() {
  cublasHandle_t h = context().cublas;
  TE_CUBLAS_CHECK(cublasSetMathMode(h, allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  return h;
}

struct Dims {
  int64_t n, in, out;
};

Dims dims_of(const char* op, const Tensor& x, const Tensor& w, const Tensor& y) {
  if (x.rank() != 2 || w.rank() != 2 || y.rank() != 2 || x.dim(1) != w.dim(1) ||
      y.dim(0) != x.dim(0) || y.dim(1) != w.dim(0))
    throw ShapeError(std::string(op) + ": expected x [N, in], weight [out, in], y [N, out], got " +
                     x.shape().str() + ", " + w.shape().str() + ", " + y.shape().str());
  return {x.dim(0), x.dim(1), w.dim(0)};
}
}  // namespace

void linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) {
  const char* op = "linear_forward";
  const Dims d = dims_of(op, x, w, y);
  const float* xp = f32_ptr(x, op, "x");
  const float* wp = f32_ptr(w, op, "weight");
  float* yp = f32_ptr(y, op, "y");
  const float alpha = 1.0f, beta = 0.0f;
  if (d.n > 0 && d.out > 0) {
    if (d.in == 0) {
      TE_CUDA_CHECK(cudaMemsetAsync(yp, 0, y.nbytes(), compute_stream()));
    } else {
      TE_CUBLAS_CHECK(cublasSgemm(blas(), CUBLAS_OP_T, CUBLAS_OP_N, to_int(d.out, op),
                                  to_int(d.n, op), to_int(d.in, op), &alpha, wp, to_int(d.in, op),
                                  xp, to_int(d.in, op), &beta, yp, to_int(d.out, op)));
    }
  }
  if (bias) {
    require_numel(*bias, d.out, op, "bias");
    launch::add_row_bias(yp, f32_ptr(*bias, op, "bias"), d.n, d.out, compute_stream());
  }
}

void linear_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate) {
  const char* op = "linear_backward_input";
  const Dims d = dims_of(op, dx, w, dy);
  const float* dyp = f32_ptr(dy, op, "dy");
  const float* wp = f32_ptr(w, op, "weight");
  float* dxp = f32_ptr(dx, op, "dx");
  if (d.n == 0 || d.in == 0) return;
  if (d.out == 0) {
    if (!accumulate) TE_CUDA_CHECK(cudaMemsetAsync(dxp, 0, dx.nbytes(), compute_stream()));
    return;
  }
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  TE_CUBLAS_CHECK(cublasSgemm(blas(), CUBLAS_OP_N, CUBLAS_OP_N, to_int(d.in, op), to_int(d.n, op),
                              to_int(d.out, op), &alpha, wp, to_int(d.in, op), dyp,
                              to_int(d.out, op), &beta, dxp, to_int(d.in, op)));
}

void linear_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db) {
  const char* op = "linear_backward_params";
  const Dims d = dims_of(op, x, dw, dy);
  const float* xp = f32_ptr(x, op, "x");
  const float* dyp = f32_ptr(dy, op, "dy");
  float* dwp = f32_ptr(dw, op, "dweight");
  if (d.n > 0 && d.in > 0 && d.out > 0) {
    const float alpha = 1.0f, beta = 1.0f;  // parameter gradients accumulate
    TE_CUBLAS_CHECK(cublasSgemm(blas(), CUBLAS_OP_N, CUBLAS_OP_T, to_int(d.in, op),
                                to_int(d.out, op), to_int(d.n, op), &alpha, xp, to_int(d.in, op),
                                dyp, to_int(d.out, op), &beta, dwp, to_int(d.in, op)));
  }
  if (db) {
    require_numel(*db, d.out, op, "dbias");
    launch::add_column_sums(dyp, d.n, d.out, f32_ptr(*db, op, "dbias"), compute_stream());
  }
}

}  // namespace te::ops::cuda
