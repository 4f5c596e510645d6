// Per-channel kernels on NCHW tensors viewed as [N, C, HW]: batch-norm statistics and their
// finalisations (which also finish channels_nhwc.cu's partials), conv bias add and bias
// gradient. (Batch norm's element-wise passes are batchnorm_act.cu's, with no residual and no
// activation for plain batch norm.)
//
// Reductions: channel c is split into `splits` contiguous ranges of its N*HW values; block
// (c, j) sums range j (threads stride over it; the index m maps to n = m / HW, hw = m % HW,
// tracked incrementally) in double and writes one partial. A second, tiny kernel adds a
// channel's partials in order. Fixed splits and orders make every result repeat exactly.
// Element-wise maps: grid.y walks the N*C planes (so the channel is plane % C, no division per
// element) and grid.x with the threads walks the HW positions of a plane.
// Storage types: the tensors of the data ([N, C, HW]: x, y, dy, dx) are the template type T
// (float, bf16 or f16; storage.cuh), read into float/double and rounded once when stored; the
// per-channel tensors (weight, bias, running and saved statistics, coef, parameter gradients)
// are float for every T.
#include "kernels/cuda/check.h"
#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/storage.cuh"

namespace te::cuda::launch {
namespace {
using dev::load;
using dev::store;

template <typename T>
__global__ void channel_sums_kernel(const T* x, int64_t n, int64_t c, int64_t hw, int splits,
                                    double* partials) {
  __shared__ double shared[32];
  const int64_t ch = blockIdx.x, j = blockIdx.y;
  const int64_t total = n * hw;
  const int64_t per = (total + splits - 1) / splits;
  const int64_t begin = j * per, end = begin + per < total ? begin + per : total;
  double s1 = 0, s2 = 0;
  // (img, pos) of m, advanced by blockDim.x = step_img * hw + step_pos without dividing again
  // (64-bit division is slow on the GPU and this loop is memory-bound otherwise).
  int64_t m = begin + threadIdx.x;
  int64_t img = m / hw, pos = m - img * hw;
  const int64_t step_img = blockDim.x / hw, step_pos = blockDim.x - step_img * hw;
  for (; m < end; m += blockDim.x) {
    const int64_t idx = (img * c + ch) * hw + pos;
    const double v = load(x, idx);
    s1 += v;
    s2 += v * v;
    img += step_img;
    pos += step_pos;
    if (pos >= hw) {
      pos -= hw;
      ++img;
    }
  }
  s1 = dev::block_sum(s1, shared);
  s2 = dev::block_sum(s2, shared);
  if (threadIdx.x == 0) {
    partials[(ch * splits + j) * 2] = s1;
    partials[(ch * splits + j) * 2 + 1] = s2;
  }
}

__device__ inline void sum_partials(const double* partials, int splits, int64_t ch, double& s1,
                                    double& s2) {
  s1 = 0;
  s2 = 0;
  for (int j = 0; j < splits; ++j) {
    s1 += partials[(ch * splits + j) * 2];
    s2 += partials[(ch * splits + j) * 2 + 1];
  }
}

// One thread per channel.
__global__ void bn_finalize_train_kernel(const double* partials, int splits, int64_t c,
                                         int64_t count, float eps, float momentum,
                                         const float* weight, const float* bias,
                                         float* running_mean, float* running_var,
                                         int64_t* nbt, float* save_mean, float* save_invstd,
                                         float* coef) {
  const int64_t ch = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (ch == 0 && nbt) *nbt += 1;
  if (ch >= c) return;
  double s1, s2;
  sum_partials(partials, splits, ch, s1, s2);
  const double mean = s1 / double(count);
  double var = s2 / double(count) - mean * mean;
  if (var < 0) var = 0;
  const double invstd = 1.0 / sqrt(var + double(eps));
  save_mean[ch] = static_cast<float>(mean);
  save_invstd[ch] = static_cast<float>(invstd);
  const double unbiased = count > 1 ? var * double(count) / double(count - 1) : var;
  running_mean[ch] = static_cast<float>((1.0 - momentum) * running_mean[ch] + momentum * mean);
  running_var[ch] = static_cast<float>((1.0 - momentum) * running_var[ch] + momentum * unbiased);
  const double w = weight ? double(weight[ch]) : 1.0;
  const double bb = bias ? double(bias[ch]) : 0.0;
  coef[ch] = static_cast<float>(w * invstd);
  coef[c + ch] = static_cast<float>(bb - mean * w * invstd);
}

__global__ void bn_eval_coef_kernel(const float* rm, const float* rv, float eps,
                                    const float* weight, const float* bias, int64_t c,
                                    float* coef, float* mean, float* invstd) {
  const int64_t ch = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (ch >= c) return;
  const double is = 1.0 / sqrt(double(rv[ch]) + double(eps));
  const double w = weight ? double(weight[ch]) : 1.0;
  const double bb = bias ? double(bias[ch]) : 0.0;
  coef[ch] = static_cast<float>(w * is);
  coef[c + ch] = static_cast<float>(bb - double(rm[ch]) * w * is);
  mean[ch] = rm[ch];
  invstd[ch] = static_cast<float>(is);
}

// One thread per channel. s1 = sum dy, s2 = sum dy * xhat over the channel's `count` values.
//   train: dx = w*is * (dy - s1/M - xhat * s2/M),  xhat = (x - mean) * is
//          = A dy + B (x - mean) + D with A = w*is, B = -w*is*is*s2/M, D = -A*s1/M
//   eval:  dx = w*is * dy
// (x - mean) stays a separate term: folding B * mean into D cancels catastrophically against
// B * x when |mean| is large next to the standard deviation.
__global__ void bn_backward_finalize_kernel(const double* partials, int splits, int64_t c,
                                            int64_t count, bool train, const float* weight,
                                            const float* mean, const float* invstd,
                                            float* dweight, float* dbias, float* coef) {
  const int64_t ch = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (ch >= c) return;
  double s1, s2;
  sum_partials(partials, splits, ch, s1, s2);
  if (dweight) dweight[ch] += static_cast<float>(s2);
  if (dbias) dbias[ch] += static_cast<float>(s1);
  const double w = weight ? double(weight[ch]) : 1.0;
  const double is = invstd[ch];
  const double A = w * is;
  double B = 0, D = 0;
  if (train) {
    const double M = double(count);
    B = -w * is * is * s2 / M;
    D = -A * s1 / M;
  }
  coef[ch] = static_cast<float>(A);
  coef[c + ch] = static_cast<float>(B);
  coef[2 * c + ch] = static_cast<float>(D);
  coef[3 * c + ch] = mean[ch];
}

__global__ void add_channel_bias_kernel(float* y, const float* bias, int64_t n, int64_t c,
                                        int64_t hw) {
  for (int64_t plane = blockIdx.y; plane < n * c; plane += gridDim.y) {
    const float b = bias[plane % c];
    float* yp = y + plane * hw;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < hw;
         i += int64_t(gridDim.x) * blockDim.x)
      yp[i] += b;
  }
}

__global__ void add_channel_partials_kernel(const double* partials, int splits, int64_t c,
                                            float* out) {
  const int64_t ch = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (ch >= c) return;
  double s1, s2;
  sum_partials(partials, splits, ch, s1, s2);
  out[ch] += static_cast<float>(s1);
}

// One thread per channel: the two partial sums of the channel, added in split order (as the
// finalisations add them), as sums[ch] and sums[C + ch].
__global__ void channel_partial_sums_kernel(const double* partials, int splits, int64_t c,
                                            double* sums) {
  const int64_t ch = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (ch >= c) return;
  sum_partials(partials, splits, ch, sums[ch], sums[c + ch]);
}

dim3 plane_grid(int64_t n, int64_t c, int64_t hw) {
  const int64_t planes = n * c;
  unsigned gx = dev::grid_for(hw);
  if (gx > 32) gx = 32;
  return dim3(gx, static_cast<unsigned>(planes < 65535 ? planes : 65535));
}

unsigned per_channel_blocks(int64_t c) { return static_cast<unsigned>((c + 127) / 128); }
}  // namespace

int channel_splits(int64_t n, int64_t c, int64_t hw, int sm_count) {
  // Enough blocks to fill the GPU about 8 times over, but at least 4096 values per block.
  const int64_t total = n * hw;
  int64_t want = (8 * int64_t(sm_count > 0 ? sm_count : 80) + c - 1) / (c > 0 ? c : 1);
  const int64_t most = (total + 4095) / 4096;
  if (want > most) want = most;
  if (want > 64) want = 64;
  if (want < 1) want = 1;
  return static_cast<int>(want);
}

template <typename T>
void channel_sums(const T* x, int64_t n, int64_t c, int64_t hw, int splits, double* partials,
                  cudaStream_t s) {
  if (c == 0) return;
  TE_LAUNCH(dim3(static_cast<unsigned>(c), static_cast<unsigned>(splits)), dev::kThreads, 0, s, channel_sums_kernel<T>)(x, n, c, hw, splits, partials);
  TE_CUDA_CHECK_LAUNCH("channel_sums_kernel");
}

void bn_finalize_train(const double* partials, int splits, int64_t c, int64_t count, float eps,
                       float momentum, const float* weight, const float* bias,
                       float* running_mean, float* running_var, int64_t* num_batches_tracked,
                       float* save_mean, float* save_invstd, float* coef, cudaStream_t s) {
  if (c == 0) return;
  TE_LAUNCH(per_channel_blocks(c), 128, 0, s, bn_finalize_train_kernel)(
      partials, splits, c, count, eps, momentum, weight, bias, running_mean, running_var,
      num_batches_tracked, save_mean, save_invstd, coef);
  TE_CUDA_CHECK_LAUNCH("bn_finalize_train_kernel");
}

void bn_eval_coef(const float* running_mean, const float* running_var, float eps,
                  const float* weight, const float* bias, int64_t c, float* coef, float* mean,
                  float* invstd, cudaStream_t s) {
  if (c == 0) return;
  TE_LAUNCH(per_channel_blocks(c), 128, 0, s, bn_eval_coef_kernel)(running_mean, running_var, eps, weight,
                                                            bias, c, coef, mean, invstd);
  TE_CUDA_CHECK_LAUNCH("bn_eval_coef_kernel");
}

void bn_backward_finalize(const double* partials, int splits, int64_t c, int64_t count,
                          bool train, const float* weight, const float* mean, const float* invstd,
                          float* dweight, float* dbias, float* coef, cudaStream_t s) {
  if (c == 0) return;
  TE_LAUNCH(per_channel_blocks(c), 128, 0, s, bn_backward_finalize_kernel)(
      partials, splits, c, count, train, weight, mean, invstd, dweight, dbias, coef);
  TE_CUDA_CHECK_LAUNCH("bn_backward_finalize_kernel");
}

void add_channel_bias(float* y, const float* bias, int64_t n, int64_t c, int64_t hw,
                      cudaStream_t s) {
  if (n * c * hw == 0) return;
  TE_LAUNCH(plane_grid(n, c, hw), dev::kThreads, 0, s, add_channel_bias_kernel)(y, bias, n, c, hw);
  TE_CUDA_CHECK_LAUNCH("add_channel_bias_kernel");
}

void add_channel_partials(const double* partials, int splits, int64_t c, float* out,
                          cudaStream_t s) {
  if (c == 0) return;
  TE_LAUNCH(per_channel_blocks(c), 128, 0, s, add_channel_partials_kernel)(partials, splits, c, out);
  TE_CUDA_CHECK_LAUNCH("add_channel_partials_kernel");
}

void channel_partial_sums(const double* partials, int splits, int64_t c, double* sums,
                          cudaStream_t s) {
  if (c == 0) return;
  TE_LAUNCH(per_channel_blocks(c), 128, 0, s, channel_partial_sums_kernel)(partials, splits, c, sums);
  TE_CUDA_CHECK_LAUNCH("channel_partial_sums_kernel");
}

#define TE_INSTANTIATE(T)                                                                   \
  template void channel_sums<T>(const T*, int64_t, int64_t, int64_t, int, double*, cudaStream_t);
TE_FOR_EACH_STORAGE_TYPE(TE_INSTANTIATE)
#undef TE_INSTANTIATE

}  // namespace te::cuda::launch
