// Batch norm fused with residual add and ReLU on NCHW tensors viewed as [N, C, HW]
// (kernels/batchnorm_act.h). The statistics reduction, its finalisation and the backward
// coefficients are channels.cu's (channel_sums, bn_finalize_train / bn_eval_coef,
// bn_backward_finalize); this file holds the passes that differ:
//   bn_act_apply           forward: y = act(x * scale[c] + shift[c] + r), one read of x (and
//                          r), one write of y: normalise, affine, residual add and ReLU fused.
//   bn_act_backward_sums   backward reduction: per channel sum(dz) and sum(dz * xhat) with
//                          dz = dy * (y > 0) formed in registers (dz is never stored).
//   bn_act_backward_apply  dx = A dz + B x + D and dr = dz in one pass (either optional).
//
// Thread mapping.
//   Element-wise passes: grid.y walks the N*C planes (the channel is plane % C, one division
//   per plane, none per element); grid.x and the threads stride over the HW positions of the
//   plane, so consecutive threads touch consecutive addresses (coalesced).
//   Reduction: block (c, j) owns the j-th of `splits` contiguous ranges of channel c's N*HW
//   values (value m is image m / HW, position m % HW); its threads stride over the range
//   (neighbouring threads read neighbouring positions of an image plane), accumulate in
//   double and meet in a block reduction; the block writes the partial pair
//   partials[(c * splits + j) * 2 + {0, 1}], the layout bn_backward_finalize adds up in order.
//   Fixed splits and orders make every result repeat exactly.
//
// Storage types: x, r, y, dy, dx, dr are the template type T (float, bf16 or f16;
// storage.cuh), read into float and rounded once when stored (so y = act(z) is z rounded once:
// the residual add and the ReLU happen in float); coef, mean, invstd are float.
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
__device__ inline float relu_grad_at_add(bool relu, const T* y, const T* dy, int64_t i) {
  return relu ? (load(y, i) > 0.f ? load(dy, i) : 0.f) : load(dy, i);
}

// coef: [2C], scale then shift (from bn_finalize_train or bn_eval_coef).
template <bool Relu, typename T>
__global__ void bn_act_apply_kernel(const T* x, const T* r, T* y, const float* coef, int64_t n,
                                    int64_t c, int64_t hw) {
  for (int64_t plane = blockIdx.y; plane < n * c; plane += gridDim.y) {
    const int64_t ch = plane % c;
    const float a = coef[ch], b = coef[c + ch];
    const int64_t off = plane * hw;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < hw;
         i += int64_t(gridDim.x) * blockDim.x) {
      float z = load(x, off + i) * a + b;
      if (r) z += load(r, off + i);
      store(y, off + i, Relu ? (z > 0.f ? z : 0.f) : z);  // NaN gives 0, like the relu layer
    }
  }
}

// s1 = sum dz, s2 = sum dz * (x - mean) * invstd over the block's range (y null: dz = dy).
template <typename T>
__global__ void bn_act_backward_sums_kernel(const T* dy, const T* y, const T* x,
                                            const float* mean, const float* invstd, int64_t n,
                                            int64_t c, int64_t hw, int splits,
                                            double* partials) {
  __shared__ double shared[32];
  const int64_t ch = blockIdx.x, j = blockIdx.y;
  const int64_t total = n * hw;
  const int64_t per = (total + splits - 1) / splits;
  const int64_t begin = j * per, end = begin + per < total ? begin + per : total;
  const double mu = mean[ch], is = invstd[ch];
  const bool relu = y != nullptr;
  double s1 = 0, s2 = 0;
  // (img, pos) of m, advanced by blockDim.x = step_img * hw + step_pos without dividing again.
  int64_t m = begin + threadIdx.x;
  int64_t img = m / hw, pos = m - img * hw;
  const int64_t step_img = blockDim.x / hw, step_pos = blockDim.x - step_img * hw;
  for (; m < end; m += blockDim.x) {
    const int64_t idx = (img * c + ch) * hw + pos;
    const double dz = relu_grad_at_add(relu, y, dy, idx);
    s1 += dz;
    s2 += dz * (double(load(x, idx)) - mu) * is;
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

// coef: [4C], A, B, D, mean from bn_backward_finalize. dx and dr are each optional.
template <bool Relu, typename T>
__global__ void bn_act_backward_apply_kernel(const T* dy, const T* y, const T* x, T* dx,
                                             bool accumulate_dx, T* dr, bool accumulate_dr,
                                             const float* coef, int64_t n, int64_t c,
                                             int64_t hw) {
  for (int64_t plane = blockIdx.y; plane < n * c; plane += gridDim.y) {
    const int64_t ch = plane % c;
    const float A = coef[ch], B = coef[c + ch], D = coef[2 * c + ch], mean = coef[3 * c + ch];
    const int64_t off = plane * hw;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < hw;
         i += int64_t(gridDim.x) * blockDim.x) {
      const int64_t k = off + i;
      const float dz = relu_grad_at_add(Relu, y, dy, k);
      if (dx) {
        const float v = A * dz + B * (load(x, k) - mean) + D;
        store(dx, k, accumulate_dx ? load(dx, k) + v : v);
      }
      if (dr) store(dr, k, accumulate_dr ? load(dr, k) + dz : dz);
    }
  }
}

dim3 plane_grid(int64_t n, int64_t c, int64_t hw) {
  const int64_t planes = n * c;
  unsigned gx = dev::grid_for(hw);
  if (gx > 32) gx = 32;
  return dim3(gx, static_cast<unsigned>(planes < 65535 ? planes : 65535));
}

}  // namespace

template <typename T>
void bn_act_apply(const T* x, const same_t<T>* r, T* y, const float* coef, int64_t n, int64_t c,
                  int64_t hw, bool relu, cudaStream_t s) {
  if (n * c * hw == 0) return;
  if (relu)
    TE_LAUNCH(plane_grid(n, c, hw), dev::kThreads, 0, s, bn_act_apply_kernel<true, T>)(x, r, y, coef, n, c, hw);
  else
    TE_LAUNCH(plane_grid(n, c, hw), dev::kThreads, 0, s, bn_act_apply_kernel<false, T>)(x, r, y, coef, n, c, hw);
  TE_CUDA_CHECK_LAUNCH("bn_act_apply_kernel");
}

template <typename T>
void bn_act_backward_sums(const T* dy, const same_t<T>* y, const T* x, const float* mean,
                          const float* invstd, int64_t n, int64_t c, int64_t hw, int splits,
                          double* partials, cudaStream_t s) {
  if (c == 0) return;
  TE_LAUNCH(dim3(static_cast<unsigned>(c), static_cast<unsigned>(splits)), dev::kThreads, 0, s, bn_act_backward_sums_kernel<T>)(dy, y, x, mean, invstd, n, c, hw, splits,
                                                       partials);
  TE_CUDA_CHECK_LAUNCH("bn_act_backward_sums_kernel");
}

template <typename T>
void bn_act_backward_apply(const T* dy, const same_t<T>* y, const T* x, same_t<T>* dx,
                           bool accumulate_dx, same_t<T>* dr, bool accumulate_dr,
                           const float* coef, int64_t n, int64_t c, int64_t hw, cudaStream_t s) {
  if (n * c * hw == 0 || (!dx && !dr)) return;
  if (y)
    TE_LAUNCH(plane_grid(n, c, hw), dev::kThreads, 0, s, bn_act_backward_apply_kernel<true, T>)(
        dy, y, x, dx, accumulate_dx, dr, accumulate_dr, coef, n, c, hw);
  else
    TE_LAUNCH(plane_grid(n, c, hw), dev::kThreads, 0, s, bn_act_backward_apply_kernel<false, T>)(
        dy, y, x, dx, accumulate_dx, dr, accumulate_dr, coef, n, c, hw);
  TE_CUDA_CHECK_LAUNCH("bn_act_backward_apply_kernel");
}

#define TE_INSTANTIATE(T)                                                                     \
  template void bn_act_apply<T>(const T*, const T*, T*, const float*, int64_t, int64_t,         \
                                int64_t, bool, cudaStream_t);                                   \
  template void bn_act_backward_sums<T>(const T*, const T*, const T*, const float*,             \
                                        const float*, int64_t, int64_t, int64_t, int, double*,  \
                                        cudaStream_t);                                          \
  template void bn_act_backward_apply<T>(const T*, const T*, const T*, T*, bool, T*, bool,      \
                                         const float*, int64_t, int64_t, int64_t, cudaStream_t);
TE_FOR_EACH_STORAGE_TYPE(TE_INSTANTIATE)
#undef TE_INSTANTIATE

}  // namespace te::cuda::launch
