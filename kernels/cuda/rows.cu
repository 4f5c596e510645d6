// Row/column helpers for Linear ([rows, cols] row-major) and the input normalisation (whose
// output is the storage type T, float, bf16 or f16: computed in float, rounded once).
#include "kernels/cuda/check.h"
#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/storage.cuh"

namespace te::cuda::launch {
namespace {
// One thread per element: y[r, j] += bias[j].
__global__ void add_row_bias_kernel(float* y, const float* bias, int64_t rows, int64_t cols) {
  const int64_t total = rows * cols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] += bias[i % cols];
}

// One thread per column j walks down the rows (neighbouring threads read neighbouring
// addresses, so each row is read coalesced), summing in double.
__global__ void column_sums_kernel(const float* x, int64_t rows, int64_t cols, float* out) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < cols;
       j += int64_t(gridDim.x) * blockDim.x) {
    double s = 0;
    for (int64_t r = 0; r < rows; ++r) s += x[r * cols + j];
    out[j] += static_cast<float>(s);
  }
}

// One thread per output element (n, c, p) of the NCHW result; it reads in[n, p, c] (stride C
// between neighbours: the input is 4x smaller than the output, so the write side dominates).
// __grid_constant__: a.scale[ch] is read in place (no local-memory copy of the parameter).
template <typename T>
__global__ void normalize_kernel(const uint8_t* in, T* out, int64_t n, int64_t hw, int64_t c,
                                 const __grid_constant__ ChannelAffine a) {
  const int64_t total = n * c * hw;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = i % hw, ch = (i / hw) % c, img = i / (hw * c);
    dev::store(out, i, static_cast<float>(in[(img * hw + p) * c + ch]) * a.scale[ch] + a.shift[ch]);
  }
}
}  // namespace

void add_row_bias(float* y, const float* bias, int64_t rows, int64_t cols, cudaStream_t s) {
  if (rows * cols == 0) return;
  TE_LAUNCH(dev::grid_for(rows * cols), dev::kThreads, 0, s, add_row_bias_kernel)(y, bias, rows, cols);
  TE_CUDA_CHECK_LAUNCH("add_row_bias_kernel");
}

void add_column_sums(const float* x, int64_t rows, int64_t cols, float* out, cudaStream_t s) {
  if (cols == 0) return;
  TE_LAUNCH(dev::grid_for(cols), dev::kThreads, 0, s, column_sums_kernel)(x, rows, cols, out);
  TE_CUDA_CHECK_LAUNCH("column_sums_kernel");
}

template <typename T>
void normalize_u8_nhwc(const uint8_t* in, T* out, int64_t n, int64_t hw, int64_t c,
                       const ChannelAffine& affine, cudaStream_t s) {
  if (n * hw * c == 0) return;
  TE_LAUNCH(dev::grid_for(n * hw * c), dev::kThreads, 0, s, normalize_kernel<T>)(in, out, n, hw, c, affine);
  TE_CUDA_CHECK_LAUNCH("normalize_kernel");
}

#define TE_INSTANTIATE(T)                                                                   \
  template void normalize_u8_nhwc<T>(const uint8_t*, T*, int64_t, int64_t, int64_t,           \
                                     const ChannelAffine&, cudaStream_t);
TE_FOR_EACH_STORAGE_TYPE(TE_INSTANTIATE)
#undef TE_INSTANTIATE

}  // namespace te::cuda::launch
