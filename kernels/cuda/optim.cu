// Optimizer steps over the flat parameter buffer, all parameters in one launch: thread i owns
// element i (grid-stride), reads its gradient and state once and writes parameter and state
// once. The arithmetic is the CPU backend's (kernels/cpu/optim_step.cpp), in the same order,
// so both backends agree to rounding.
#include "kernels/cuda/check.h"
#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/launchers.h"

namespace te::cuda::launch {
namespace {
__global__ void sgd_kernel(float* p, const float* g, float* buf, const uint8_t* mask, int64_t n,
                           float lr, float momentum, float weight_decay, bool nesterov,
                           bool first_step) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float wd = (mask && !mask[i]) ? 0.0f : weight_decay;
    float d = g[i];
    if (wd != 0) d += wd * p[i];
    if (buf) {
      const float b = first_step ? d : momentum * buf[i] + d;
      buf[i] = b;
      d = nesterov ? d + momentum * b : b;
    }
    p[i] -= lr * d;
  }
}

__global__ void adamw_kernel(float* p, const float* g, float* m, float* v, const uint8_t* mask,
                             int64_t n, float decay_factor, float one_minus_beta1, float beta2,
                             float one_minus_beta2, float eps, float step_size, float bc2_sqrt) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float pi = p[i];
    if (!(mask && !mask[i])) pi *= decay_factor;
    const float gi = g[i];
    float mi = m[i];
    mi += one_minus_beta1 * (gi - mi);  // torch: exp_avg.lerp_(grad, 1 - beta1)
    const float vi = beta2 * v[i] + one_minus_beta2 * gi * gi;
    const float denom = sqrtf(vi) / bc2_sqrt + eps;
    pi -= step_size * mi / denom;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi;
  }
}
}  // namespace

void sgd_step(float* p, const float* g, float* buf, const uint8_t* mask, int64_t n, float lr,
              float momentum, float weight_decay, bool nesterov, bool first_step, cudaStream_t s) {
  if (n == 0) return;
  TE_LAUNCH(dev::grid_for(n), dev::kThreads, 0, s, sgd_kernel)(p, g, momentum != 0 ? buf : nullptr, mask,
                                                         n, lr, momentum, weight_decay, nesterov,
                                                         first_step);
  TE_CUDA_CHECK_LAUNCH("sgd_kernel");
}

void adamw_step(float* p, const float* g, float* m, float* v, const uint8_t* mask, int64_t n,
                float decay_factor, float one_minus_beta1, float beta2, float one_minus_beta2,
                float eps, float step_size, float bias_correction2_sqrt, cudaStream_t s) {
  if (n == 0) return;
  TE_LAUNCH(dev::grid_for(n), dev::kThreads, 0, s, adamw_kernel)(p, g, m, v, mask, n, decay_factor,
                                                           one_minus_beta1, beta2, one_minus_beta2,
                                                           eps, step_size, bias_correction2_sqrt);
  TE_CUDA_CHECK_LAUNCH("adamw_kernel");
}

}  // namespace te::cuda::launch
