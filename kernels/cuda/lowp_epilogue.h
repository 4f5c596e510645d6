#pragma once
// Raw-pointer launchers for the work around a bf16/f16 convolution or GEMM that cuDNN and cuBLAS
// do not do for us (lowp_epilogue.cu): the bias add, the bias gradient, and adding a result into
// an output of another dtype. Each pointer comes with its DType, which must be F32, BF16 or F16
// (anything else throws te::Error). Arithmetic is in float (sums in double); a 16-bit output is
// rounded once to nearest-even when it is stored. The f32 path keeps the f32-only kernels of
// launchers.h; these are for the mixed-precision ops.
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/core/dtype.h"

namespace te::cuda::launch::lowp {

// y[n, c, :] += bias[c] on an [N, C, HW] tensor.
void add_channel_bias(void* y, DType y_type, const void* bias, DType bias_type, int64_t n,
                      int64_t c, int64_t hw, cudaStream_t s);
// Channels-last: y[m, c] += bias[c] on an [M, C] tensor (M = N * H * W; the channel innermost).
void add_channel_bias_nhwc(void* y, DType y_type, const void* bias, DType bias_type, int64_t m,
                           int64_t c, cudaStream_t s);
// y[r, j] += bias[j] on a [rows, cols] matrix.
void add_row_bias(void* y, DType y_type, const void* bias, DType bias_type, int64_t rows,
                  int64_t cols, cudaStream_t s);
// out[c] += sum over n and hw of dy[n, c, hw] (in double, fixed order: same result every run).
void add_channel_sums(const void* dy, DType dy_type, int64_t n, int64_t c, int64_t hw, void* out,
                      DType out_type, cudaStream_t s);
// Channels-last: out[c] += sum over m of dy[m, c] on an [M, C] tensor (M = N * H * W), in
// double, in a fixed order (same result every run). Two passes: per-split partial sums into
// `partials` (channel_sums_nhwc_splits(m, c) * c doubles of device scratch), then one thread
// per channel adds its partials in split order.
int64_t channel_sums_nhwc_splits(int64_t m, int64_t c);
void add_channel_sums_nhwc(const void* dy, DType dy_type, int64_t m, int64_t c, double* partials,
                           void* out, DType out_type, cudaStream_t s);
// out[j] += sum over r of x[r, j] (in double, fixed order).
void add_column_sums(const void* x, DType x_type, int64_t rows, int64_t cols, void* out,
                     DType out_type, cudaStream_t s);
// dst[i] += src[i] (e.g. a bf16 weight gradient into an f32 one).
void add_converted(const void* src, DType src_type, void* dst, DType dst_type, int64_t n,
                   cudaStream_t s);

}  // namespace te::cuda::launch::lowp
