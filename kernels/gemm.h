#pragma once
// Row-major matrix product on the CPU through OpenBLAS's CBLAS:
//   C[m x n] = alpha * op(A) * op(B) + beta * C,  op(X) = X or X^T.
// A is m x k (k x m when trans_a), B is k x n (n x k when trans_b); ld* are row strides.
// OpenBLAS is switched to one thread on first use: the kernels parallelise over the batch
// with te::parallel_for and call this from inside, so BLAS threads would only oversubscribe.
// When k == 0 the product is empty and C becomes beta * C.
#include <cstdint>

namespace te::ops::cpu {

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

extern template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*,
                                 int64_t, const float*, int64_t, float, float*, int64_t);
extern template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                                  int64_t, const double*, int64_t, double, double*, int64_t);

}  // namespace te::ops::cpu
