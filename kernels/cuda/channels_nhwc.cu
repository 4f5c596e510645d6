// Per-channel batch-norm passes on channels-last (NHWC) tensors, viewed as a row-major matrix
// [rows = N*H*W, C]: element (row, c) at row * C + c (kernels/layout.h). The NCHW kernels are
// channels.cu (plain batch norm) and batchnorm_act.cu (fused residual add + ReLU); these are
// their NHWC counterparts, one set for both ops (no residual and no ReLU is plain batch norm):
//   channel_sums_nhwc        per-channel partial sums, written as
//                            partials[(c * splits + j) * 2 + {0, 1}] -- the layout channels.cu's
//                            bn_finalize_train and bn_backward_finalize add up (in split order),
//                            so statistics, running updates and parameter gradients come from
//                            the same finalisation code in both layouts.
//   bn_apply_nhwc            y = act(x * scale[c] + shift[c] + r)      (r, act optional)
//   bn_backward_apply_nhwc   dx = A dz + B x + D, dr = dz, dz = dy or dy * (y > 0)
//
// Thread mapping.
//   Reduction: a block owns a tile of `tc` consecutive channels (tc = 32, or the next power of
//   two >= C when C is smaller) and the j-th of `splits` contiguous ranges of rows. Its 256
//   threads form tc channel lanes (threadIdx.x, consecutive threads on consecutive channels:
//   one warp reads one contiguous run of memory) times 256 / tc row lanes (threadIdx.y); row
//   lane k takes rows begin + k, begin + k + 256/tc, ... in order, accumulating in double.
//   The row lanes of a channel are then added in shared memory in lane order by the thread of
//   row lane 0. Fixed tiles, splits and orders: every result repeats exactly.
//   Element-wise passes: a flat grid-stride loop over the rows * C elements (memory order, so
//   fully coalesced for any C); the channel of the thread's first element is found with one
//   division and then advanced by (stride mod C) per step.
// Storage types: x, r, y, dy, dx, dr are the template type T (float, bf16 or f16;
// storage.cuh), read into float (sums in double) and rounded once when stored; coef, mean,
// invstd are float.
#include "kernels/cuda/check.h"
#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/storage.cuh"

namespace te::cuda::launch {
namespace {
using dev::load;
using dev::store;

constexpr int kTileThreads = 256;  // threads of a reduction block (channel lanes x row lanes)

// Channel lanes of a reduction block for C channels: 32, or the next power of two >= C.
int tile_channels(int64_t c) {
  int tc = 1;
  while (tc < 32 && tc < c) tc *= 2;
  return tc;
}

// mode 0: {x, x^2} (a = x). mode 1: {dz, dz * (b - mean[c]) * invstd[c]} with a = dy, b = x,
// dz = a, or dz = (y > 0 ? a : 0) when y is non-null (the gradient at the add of ReLU(z)).
template <typename T>
__global__ void channel_sums_nhwc_kernel(int mode, const T* a, const T* b, const T* y,
                                         const float* mean, const float* invstd, int64_t rows,
                                         int64_t c, int splits, double* partials) {
  __shared__ double sh1[kTileThreads], sh2[kTileThreads];
  const int tc = blockDim.x, lanes = blockDim.y;
  const int64_t ch = int64_t(blockIdx.x) * tc + threadIdx.x;
  const int64_t j = blockIdx.y;
  const int64_t per = (rows + splits - 1) / splits;
  const int64_t begin = j * per, end = begin + per < rows ? begin + per : rows;
  double s1 = 0, s2 = 0;
  if (ch < c) {
    const double mu = mode == 1 ? double(mean[ch]) : 0.0;
    const double is = mode == 1 ? double(invstd[ch]) : 0.0;
    for (int64_t r = begin + threadIdx.y; r < end; r += lanes) {
      const int64_t idx = r * c + ch;
      double va = load(a, idx);
      if (mode == 0) {
        s1 += va;
        s2 += va * va;
      } else {
        if (y && !(load(y, idx) > 0.f)) va = 0;
        s1 += va;
        s2 += va * (double(load(b, idx)) - mu) * is;
      }
    }
  }
  const int t = threadIdx.y * tc + threadIdx.x;
  sh1[t] = s1;
  sh2[t] = s2;
  __syncthreads();
  if (threadIdx.y == 0 && ch < c) {
    double t1 = 0, t2 = 0;
    for (int k = 0; k < lanes; ++k) {
      t1 += sh1[k * tc + threadIdx.x];
      t2 += sh2[k * tc + threadIdx.x];
    }
    partials[(ch * splits + j) * 2] = t1;
    partials[(ch * splits + j) * 2 + 1] = t2;
  }
}

// The element-wise loop: calls f(i, ch) for every element i of [rows, C] (ch = i mod C).
template <typename F>
__device__ inline void for_each_element(int64_t total, int64_t c, F f) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t step_c = stride % c;
  int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  int64_t ch = i % c;
  for (; i < total; i += stride) {
    f(i, ch);
    ch += step_c;
    if (ch >= c) ch -= c;
  }
}

// coef: [2C], scale then shift (from bn_finalize_train or bn_eval_coef).
template <bool Relu, typename T>
__global__ void bn_apply_nhwc_kernel(const T* x, const T* r, T* y, const float* coef,
                                     int64_t total, int64_t c) {
  for_each_element(total, c, [&](int64_t i, int64_t ch) {
    float z = load(x, i) * coef[ch] + coef[c + ch];
    if (r) z += load(r, i);
    store(y, i, Relu ? (z > 0.f ? z : 0.f) : z);  // NaN gives 0, like the NCHW kernel
  });
}

// coef: [4C], A, B, D, mean from bn_backward_finalize. dx and dr are each optional.
template <bool Relu, typename T>
__global__ void bn_backward_apply_nhwc_kernel(const T* dy, const T* y, const T* x, T* dx,
                                              bool accumulate_dx, T* dr, bool accumulate_dr,
                                              const float* coef, int64_t total, int64_t c) {
  for_each_element(total, c, [&](int64_t i, int64_t ch) {
    const float g = load(dy, i);
    const float dz = Relu ? (load(y, i) > 0.f ? g : 0.f) : g;
    if (dx) {
      const float v = coef[ch] * dz + coef[c + ch] * (load(x, i) - coef[3 * c + ch]) + coef[2 * c + ch];
      store(dx, i, accumulate_dx ? load(dx, i) + v : v);
    }
    if (dr) store(dr, i, accumulate_dr ? load(dr, i) + dz : dz);
  });
}

}  // namespace

int channel_splits_nhwc(int64_t rows, int64_t c, int sm_count) {
  // About 8 blocks per SM in all, each with at least 4096 values (16 per thread), at most
  // 1024 splits (bn_*_finalize adds a channel's splits one after another).
  const int tc = tile_channels(c);
  const int64_t tiles = (c + tc - 1) / tc;
  int64_t want = (8 * int64_t(sm_count > 0 ? sm_count : 80) + tiles - 1) / (tiles > 0 ? tiles : 1);
  const int64_t min_rows = 4096 / tc;
  const int64_t most = (rows + min_rows - 1) / min_rows;
  if (want > most) want = most;
  if (want > 1024) want = 1024;
  if (want < 1) want = 1;
  return static_cast<int>(want);
}

template <typename T>
void channel_sums_nhwc(int mode, const T* a, const same_t<T>* b, const same_t<T>* relu_y,
                       const float* mean, const float* invstd, int64_t rows, int64_t c,
                       int splits, double* partials, cudaStream_t s) {
  if (c == 0) return;
  const int tc = tile_channels(c);
  const dim3 grid(static_cast<unsigned>((c + tc - 1) / tc), static_cast<unsigned>(splits));
  TE_LAUNCH(grid, dim3(tc, kTileThreads / tc), 0, s, channel_sums_nhwc_kernel<T>)(
      mode, a, b, relu_y, mean, invstd, rows, c, splits, partials);
  TE_CUDA_CHECK_LAUNCH("channel_sums_nhwc_kernel");
}

template <typename T>
void bn_apply_nhwc(const T* x, const same_t<T>* r, T* y, const float* coef, int64_t rows,
                   int64_t c, bool relu, cudaStream_t s) {
  const int64_t total = rows * c;
  if (total == 0) return;
  const unsigned grid = dev::grid_for(total);
  if (relu)
    TE_LAUNCH(grid, dev::kThreads, 0, s, bn_apply_nhwc_kernel<true, T>)(x, r, y, coef, total, c);
  else
    TE_LAUNCH(grid, dev::kThreads, 0, s, bn_apply_nhwc_kernel<false, T>)(x, r, y, coef, total, c);
  TE_CUDA_CHECK_LAUNCH("bn_apply_nhwc_kernel");
}

template <typename T>
void bn_backward_apply_nhwc(const T* dy, const same_t<T>* relu_y, const T* x, same_t<T>* dx,
                            bool accumulate_dx, same_t<T>* dr, bool accumulate_dr,
                            const float* coef, int64_t rows, int64_t c, cudaStream_t s) {
  const int64_t total = rows * c;
  if (total == 0 || (!dx && !dr)) return;
  const unsigned grid = dev::grid_for(total);
  if (relu_y)
    TE_LAUNCH(grid, dev::kThreads, 0, s, bn_backward_apply_nhwc_kernel<true, T>)(
        dy, relu_y, x, dx, accumulate_dx, dr, accumulate_dr, coef, total, c);
  else
    TE_LAUNCH(grid, dev::kThreads, 0, s, bn_backward_apply_nhwc_kernel<false, T>)(
        dy, relu_y, x, dx, accumulate_dx, dr, accumulate_dr, coef, total, c);
  TE_CUDA_CHECK_LAUNCH("bn_backward_apply_nhwc_kernel");
}

#define TE_INSTANTIATE(T)                                                                      \
  template void channel_sums_nhwc<T>(int, const T*, const T*, const T*, const float*,          \
                                     const float*, int64_t, int64_t, int, double*,             \
                                     cudaStream_t);                                            \
  template void bn_apply_nhwc<T>(const T*, const T*, T*, const float*, int64_t, int64_t, bool, \
                                 cudaStream_t);                                                \
  template void bn_backward_apply_nhwc<T>(const T*, const T*, const T*, T*, bool, T*, bool,    \
                                          const float*, int64_t, int64_t, cudaStream_t);
TE_FOR_EACH_STORAGE_TYPE(TE_INSTANTIATE)
#undef TE_INSTANTIATE

}  // namespace te::cuda::launch
