// Tensor-level Linear (kernels/linear.h) through cuBLAS. Row-major [rows, cols] matrices are
// column-major [cols, rows] to cuBLAS, so each product is written for the transposes:
//   y = x W^T      ->  y^T (out x N)  = W^T' * x^T   : gemm(T, N, out, N, in, W, x)
//   dx = dy W      ->  dx^T (in x N)  = W^T * dy^T   : gemm(N, N, in, N, out, W, dy)
//   dw += dy^T x   ->  dw^T (in x out) = x^T * dy    : gemm(N, T, in, out, N, x, dy)
// TF32 tensor cores are allowed only when allow_tf32() (CUBLAS_TF32_TENSOR_OP_MATH); otherwise
// CUBLAS_DEFAULT_MATH keeps full fp32 products.
//
// bf16/f16 storage (matmul_dtypes.h): x, weight and y (dy, weight, dx; x, dy) share the 16-bit
// dtype and go through cublasGemmEx with CUBLAS_COMPUTE_32F (tensor cores, f32 accumulation;
// CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION keeps split-K partial sums in f32 too). The
// output is rounded once from f32; with beta 1 (dx +=, dweight +=) cuBLAS reads the old value,
// blends in f32 and rounds once. dweight may also be f32 (GemmEx then accumulates straight into
// the f32 master gradient). bias and dbias may be f32 or the data dtype (lowp_epilogue.cu).
// The f32 path (cublasSgemm, as described above) is unchanged.
#include <cublas_v2.h>
#include <library_types.h>

#include <climits>
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/lowp_epilogue.h"
#include "kernels/cuda/matmul_dtypes.h"
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

// The handle for 16-bit GEMMs: tensor cores, and no reduced-precision (16-bit) reductions.
cublasHandle_t blas_low_precision() {
  cublasHandle_t h = context().cublas;
  TE_CUBLAS_CHECK(cublasSetMathMode(
      h, static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH |
                                   CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)));
  return h;
}

cudaDataType_t cublas_type(DType t) {
  switch (t) {
    case DType::F32: return CUDA_R_32F;
    case DType::BF16: return CUDA_R_16BF;
    case DType::F16: return CUDA_R_16F;
    default: throw Error(std::string("cuBLAS GEMM: dtype ") + dtype_name(t) + " is not supported");
  }
}

// C (ldc, type ct) = alpha * op(A) op(B) + beta * C, with A, B of type ab (bf16 or f16) and f32
// accumulation: column-major, as cublasSgemm.
void gemm_low_precision(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                        const void* a, int lda, const void* b, int ldb, DType ab, float beta,
                        void* c, int ldc, DType ct) {
  const float alpha = 1.0f;
  TE_CUBLAS_CHECK(cublasGemmEx(blas_low_precision(), ta, tb, m, n, k, &alpha, a, cublas_type(ab),
                               lda, b, cublas_type(ab), ldb, &beta, c, cublas_type(ct), ldc,
                               CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
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

// ---- bf16/f16 storage (dt), f32 accumulation; dtypes already checked ----
void linear_forward_low_precision(const char* op, const Dims& d, DType dt, const Tensor& x,
                                  const Tensor& w, const Tensor* bias, Tensor& y) {
  const void* xp = gpu_ptr(x, op, "x");
  const void* wp = gpu_ptr(w, op, "weight");
  void* yp = gpu_ptr(y, op, "y");
  const void* bp = bias ? gpu_ptr(*bias, op, "bias") : nullptr;
  if (d.n > 0 && d.out > 0) {
    if (d.in == 0) {
      TE_CUDA_CHECK(cudaMemsetAsync(yp, 0, y.nbytes(), compute_stream()));
    } else {
      gemm_low_precision(CUBLAS_OP_T, CUBLAS_OP_N, to_int(d.out, op), to_int(d.n, op),
                         to_int(d.in, op), wp, to_int(d.in, op), xp, to_int(d.in, op), dt, 0.0f,
                         yp, to_int(d.out, op), dt);
    }
  }
  if (bp) launch::lowp::add_row_bias(yp, dt, bp, bias->dtype(), d.n, d.out, compute_stream());
}

void linear_backward_input_low_precision(const char* op, const Dims& d, DType dt,
                                         const Tensor& dy, const Tensor& w, Tensor& dx,
                                         bool accumulate) {
  const void* dyp = gpu_ptr(dy, op, "dy");
  const void* wp = gpu_ptr(w, op, "weight");
  void* dxp = gpu_ptr(dx, op, "dx");
  if (d.n == 0 || d.in == 0) return;
  if (d.out == 0) {
    if (!accumulate) TE_CUDA_CHECK(cudaMemsetAsync(dxp, 0, dx.nbytes(), compute_stream()));
    return;
  }
  gemm_low_precision(CUBLAS_OP_N, CUBLAS_OP_N, to_int(d.in, op), to_int(d.n, op),
                     to_int(d.out, op), wp, to_int(d.in, op), dyp, to_int(d.out, op), dt,
                     accumulate ? 1.0f : 0.0f, dxp, to_int(d.in, op), dt);
}

void linear_backward_params_low_precision(const char* op, const Dims& d, DType dt,
                                          const Tensor& x, const Tensor& dy, Tensor& dw,
                                          Tensor* db) {
  const void* xp = gpu_ptr(x, op, "x");
  const void* dyp = gpu_ptr(dy, op, "dy");
  void* dwp = gpu_ptr(dw, op, "dweight");
  void* dbp = db ? gpu_ptr(*db, op, "dbias") : nullptr;
  if (d.n > 0 && d.in > 0 && d.out > 0)  // parameter gradients accumulate (beta 1)
    gemm_low_precision(CUBLAS_OP_N, CUBLAS_OP_T, to_int(d.in, op), to_int(d.out, op),
                       to_int(d.n, op), xp, to_int(d.in, op), dyp, to_int(d.out, op), dt, 1.0f,
                       dwp, to_int(d.in, op), dw.dtype());
  if (dbp)
    launch::lowp::add_column_sums(dyp, dt, d.n, d.out, dbp, db->dtype(), compute_stream());
}
}  // namespace

void linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) {
  const char* op = "linear_forward";
  const Dims d = dims_of(op, x, w, y);
  const DType dt = matmul_dtype(x, op, "x");
  require_dtype(w, dt, op, "weight", "x");
  require_dtype(y, dt, op, "y", "x");
  if (bias) {
    require_f32_or(*bias, dt, op, "bias", "x");
    require_numel(*bias, d.out, op, "bias");
  }
  if (dt != DType::F32) {
    linear_forward_low_precision(op, d, dt, x, w, bias, y);
    return;
  }
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
  if (bias) launch::add_row_bias(yp, f32_ptr(*bias, op, "bias"), d.n, d.out, compute_stream());
}

void linear_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate) {
  const char* op = "linear_backward_input";
  const Dims d = dims_of(op, dx, w, dy);
  const DType dt = matmul_dtype(dy, op, "dy");
  require_dtype(w, dt, op, "weight", "dy");
  require_dtype(dx, dt, op, "dx", "dy");
  if (dt != DType::F32) {
    linear_backward_input_low_precision(op, d, dt, dy, w, dx, accumulate);
    return;
  }
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
  const DType dt = matmul_dtype(x, op, "x");
  require_dtype(dy, dt, op, "dy", "x");
  require_f32_or(dw, dt, op, "dweight", "x");
  if (db) {
    require_f32_or(*db, dt, op, "dbias", "x");
    require_numel(*db, d.out, op, "dbias");
  }
  if (dt != DType::F32) {
    linear_backward_params_low_precision(op, d, dt, x, dy, dw, db);
    return;
  }
  const float* xp = f32_ptr(x, op, "x");
  const float* dyp = f32_ptr(dy, op, "dy");
  float* dwp = f32_ptr(dw, op, "dweight");
  if (d.n > 0 && d.in > 0 && d.out > 0) {
    const float alpha = 1.0f, beta = 1.0f;  // parameter gradients accumulate
    TE_CUBLAS_CHECK(cublasSgemm(blas(), CUBLAS_OP_N, CUBLAS_OP_T, to_int(d.in, op),
                                to_int(d.out, op), to_int(d.n, op), &alpha, xp, to_int(d.in, op),
                                dyp, to_int(d.out, op), &beta, dwp, to_int(d.in, op)));
  }
  if (db) launch::add_column_sums(dyp, d.n, d.out, f32_ptr(*db, op, "dbias"), compute_stream());
}

}  // namespace te::ops::cuda
