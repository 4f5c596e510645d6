// Softmax cross-entropy with label smoothing, and arg-max accuracy. One block per row of the
// logits [rows, k]: the block's threads stride over the k classes, reduce the row maximum and
// the sum of exp(x - max) (in double, like the CPU reference), then write the probabilities,
// the row's loss and, in the fused form, the gradient, all in the same kernel.
//   target_k = (1 - eps) [k == label] + eps / K
//   loss_row = lse - (1 - eps) x_label - eps / K * sum_k x_k
//   grad_k   = grad_scale * (p_k - target_k)
#include "kernels/cuda/check.h"
#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/launchers.h"

namespace te::cuda::launch {
namespace {
constexpr int kRowThreads = 256;

__global__ void softmax_xent_kernel(const float* logits, const int32_t* labels, int64_t k,
                                    float eps, float* probs, double* row_loss, float* grad,
                                    float grad_scale, int* bad_row) {
  __shared__ float fshared[32];
  __shared__ double dshared[32];
  const int64_t row = blockIdx.x;
  const float* x = logits + row * k;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x) m = fmaxf(m, x[j]);
  m = dev::block_max(m, fshared);
  double sum_exp = 0, sum_x = 0;
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x) {
    sum_exp += exp(double(x[j]) - double(m));
    sum_x += double(x[j]);
  }
  sum_exp = dev::block_sum(sum_exp, dshared);
  sum_x = dev::block_sum(sum_x, dshared);
  const double lse = double(m) + log(sum_exp);
  int label = -1;
  if (labels) {
    label = labels[row];
    if (label < 0 || label >= k) {
      if (threadIdx.x == 0) {
        if (bad_row) atomicCAS(bad_row, -1, static_cast<int>(row));
        if (row_loss) row_loss[row] = 0;
      }
      label = -1;  // keep going so the outputs are defined; the host reports the error
    }
  }
  const double uniform = double(eps) / double(k);
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x) {
    const float p = static_cast<float>(exp(double(x[j]) - lse));
    probs[row * k + j] = p;
    if (grad) {
      const float target = static_cast<float>((j == label ? 1.0 - eps : 0.0) + uniform);
      grad[row * k + j] = grad_scale * (p - target);
    }
  }
  if (labels && row_loss && threadIdx.x == 0 && label >= 0)
    row_loss[row] = lse - (1.0 - double(eps)) * double(x[label]) - uniform * sum_x;
}

// One thread per element: grad = grad_scale * (p - target).
__global__ void softmax_xent_backward_kernel(const float* probs, const int32_t* labels,
                                             int64_t rows, int64_t k, float eps, float grad_scale,
                                             float* grad) {
  const int64_t n = rows * k;
  const float uniform = static_cast<float>(double(eps) / double(k));
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = i / k, j = i - row * k;
    const float target = (j == labels[row] ? 1.0f - eps : 0.0f) + uniform;
    grad[i] = grad_scale * (probs[i] - target);
  }
}

// One block per row: (value, index) arg-max with ties going to the smaller index.
__device__ inline void better(float& v, int64_t& idx, float ov, int64_t oidx) {
  if (ov > v || (ov == v && oidx < idx)) {
    v = ov;
    idx = oidx;
  }
}

__global__ void argmax_kernel(const float* logits, int64_t k, const int32_t* labels,
                              unsigned long long* count) {
  __shared__ float sv[32];
  __shared__ int64_t si[32];
  const int64_t row = blockIdx.x;
  const float* x = logits + row * k;
  float v = -INFINITY;
  int64_t idx = k;  // "none yet": loses every tie
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x) better(v, idx, x[j], j);
  for (int off = 16; off > 0; off >>= 1)
    better(v, idx, __shfl_down_sync(0xffffffffu, v, off), __shfl_down_sync(0xffffffffu, idx, off));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    sv[warp] = v;
    si[warp] = idx;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < (blockDim.x + 31) / 32; ++w) better(v, idx, sv[w], si[w]);
    if (idx >= k) idx = 0;  // a row of NaNs: report class 0, like a first-index scan would
    if (labels[row] == idx) atomicAdd(count, 1ull);
  }
}
}  // namespace

void softmax_xent(const float* logits, const int32_t* labels, int64_t rows, int64_t k,
                  float label_smoothing, float* probs, double* row_loss, float* grad,
                  float grad_scale, int* bad_row, cudaStream_t s) {
  if (rows == 0 || k == 0) return;
  TE_LAUNCH(static_cast<unsigned>(rows), kRowThreads, 0, s, softmax_xent_kernel)(
      logits, labels, k, label_smoothing, probs, row_loss, grad, grad_scale, bad_row);
  TE_CUDA_CHECK_LAUNCH("softmax_xent_kernel");
}

void softmax_xent_backward(const float* probs, const int32_t* labels, int64_t rows, int64_t k,
                           float label_smoothing, float grad_scale, float* grad, cudaStream_t s) {
  if (rows == 0 || k == 0) return;
  TE_LAUNCH(dev::grid_for(rows * k), dev::kThreads, 0, s, softmax_xent_backward_kernel)(
      probs, labels, rows, k, label_smoothing, grad_scale, grad);
  TE_CUDA_CHECK_LAUNCH("softmax_xent_backward_kernel");
}

void count_correct(const float* logits, const int32_t* labels, int64_t rows, int64_t k,
                   unsigned long long* count, cudaStream_t s) {
  if (rows == 0 || k == 0) return;
  TE_LAUNCH(static_cast<unsigned>(rows), 128, 0, s, argmax_kernel)(logits, k, labels, count);
  TE_CUDA_CHECK_LAUNCH("argmax_kernel");
}

}  // namespace te::cuda::launch
