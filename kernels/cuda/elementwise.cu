// Element-wise kernels: sums, scaling, finiteness and sum-of-squares reductions. Each thread
// walks the flat index space with a grid-stride loop (thread t handles t, t + gridDim*blockDim,
// ...), so any n works with a bounded grid and accesses stay coalesced.
// add_n, add_inplace and add_2d are templates over the storage type (storage.cuh): float
// arithmetic, one rounding per stored element.
#include "kernels/cuda/check.h"
#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/storage.cuh"

namespace te::cuda::launch {
namespace {
using dev::load;
using dev::store;

constexpr int kMaxAddInputs = 8;
template <typename T>
struct AddInputs {
  const T* p[kMaxAddInputs];
};

// y[i] = (accumulate ? y[i] : 0) + sum_j x_j[i] for up to 8 inputs per launch.
// __grid_constant__: in.p[j] with a run-time j reads the parameter in place; a by-value struct
// parameter indexed at run time would be copied to local memory first (ptxas: a stack frame).
template <typename T>
__global__ void add_n_kernel(const __grid_constant__ AddInputs<T> in, int count, T* y, int64_t n,
                             bool accumulate) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float acc = accumulate ? load(y, i) : 0.0f;
    for (int j = 0; j < count; ++j) acc += load(in.p[j], i);
    store(y, i, acc);
  }
}

__global__ void scale_kernel(float* x, float f, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    x[i] *= f;
}

// One thread per column of each row (2-D grid-stride): dst row r, column c += src row r, col c.
template <typename T>
__global__ void add_2d_kernel(const T* src, int64_t src_pitch, T* dst, int64_t dst_pitch,
                              int64_t cols, int64_t rows) {
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y)
    for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < cols;
         c += int64_t(gridDim.x) * blockDim.x)
      store(dst, r * dst_pitch + c, load(src, r * src_pitch + c) + load(dst, r * dst_pitch + c));
}

__global__ void nonfinite_kernel(const float* x, int64_t n, int* flag) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    if (!isfinite(x[i])) *flag = 1;  // benign race: every writer stores 1
}

// Block b sums x[i]^2 over its grid-stride share into partials[b] (fixed grid => fixed order).
__global__ void sumsq_partials_kernel(const float* x, int64_t n, double* partials) {
  __shared__ double shared[32];
  double acc = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    acc += double(x[i]) * double(x[i]);
  acc = dev::block_sum(acc, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

// One block sums x[0..n) into *out.
__global__ void sum_f64_kernel(const double* x, int64_t n, double* out) {
  __shared__ double shared[32];
  double acc = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += x[i];
  acc = dev::block_sum(acc, shared);
  if (threadIdx.x == 0) *out = acc;
}
}  // namespace

template <typename T>
void add_n(const T* const* xs, int count, T* y, int64_t n, cudaStream_t s) {
  if (count < 1) throw Error("add_n launcher: needs at least one input, got " + std::to_string(count));
  if (n == 0) return;
  for (int start = 0; start < count; start += kMaxAddInputs) {
    AddInputs<T> in{};
    const int chunk = count - start < kMaxAddInputs ? count - start : kMaxAddInputs;
    for (int j = 0; j < chunk; ++j) in.p[j] = xs[start + j];
    TE_LAUNCH(dev::grid_for(n), dev::kThreads, 0, s, add_n_kernel<T>)(in, chunk, y, n, start > 0);
    TE_CUDA_CHECK_LAUNCH("add_n_kernel");
  }
}

template <typename T>
void add_inplace(const T* src, T* dst, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  AddInputs<T> in{};
  in.p[0] = src;
  TE_LAUNCH(dev::grid_for(n), dev::kThreads, 0, s, add_n_kernel<T>)(in, 1, dst, n, true);
  TE_CUDA_CHECK_LAUNCH("add_n_kernel");
}

void scale(float* x, float factor, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  TE_LAUNCH(dev::grid_for(n), dev::kThreads, 0, s, scale_kernel)(x, factor, n);
  TE_CUDA_CHECK_LAUNCH("scale_kernel");
}

template <typename T>
void add_2d(const T* src, int64_t src_pitch, T* dst, int64_t dst_pitch, int64_t cols,
            int64_t rows, cudaStream_t s) {
  if (cols == 0 || rows == 0) return;
  const dim3 grid(dev::grid_for(cols) > 64 ? 64 : dev::grid_for(cols),
                  static_cast<unsigned>(rows < 65535 ? rows : 65535));
  TE_LAUNCH(grid, dev::kThreads, 0, s, add_2d_kernel<T>)(src, src_pitch, dst, dst_pitch, cols, rows);
  TE_CUDA_CHECK_LAUNCH("add_2d_kernel");
}

void flag_nonfinite(const float* x, int64_t n, int* flag, cudaStream_t s) {
  if (n == 0) return;
  TE_LAUNCH(dev::grid_for(n), dev::kThreads, 0, s, nonfinite_kernel)(x, n, flag);
  TE_CUDA_CHECK_LAUNCH("nonfinite_kernel");
}

void sum_of_squares(const float* x, int64_t n, double* partials, double* out, cudaStream_t s) {
  TE_LAUNCH(kReducePartials, dev::kThreads, 0, s, sumsq_partials_kernel)(x, n, partials);
  TE_CUDA_CHECK_LAUNCH("sumsq_partials_kernel");
  sum_f64(partials, kReducePartials, out, s);
}

void sum_f64(const double* x, int64_t n, double* out, cudaStream_t s) {
  TE_LAUNCH(1, 1024, 0, s, sum_f64_kernel)(x, n, out);
  TE_CUDA_CHECK_LAUNCH("sum_f64_kernel");
}

#define TE_INSTANTIATE(T)                                                                 \
  template void add_n<T>(const T* const*, int, T*, int64_t, cudaStream_t);               \
  template void add_inplace<T>(const T*, T*, int64_t, cudaStream_t);                     \
  template void add_2d<T>(const T*, int64_t, T*, int64_t, int64_t, int64_t, cudaStream_t);
TE_FOR_EACH_STORAGE_TYPE(TE_INSTANTIATE)
#undef TE_INSTANTIATE

}  // namespace te::cuda::launch
