// Activations, forward and backward, one thread per element (grid-stride loop). The formulas
// match the CPU backend (kernels/cpu/activation.cpp) and PyTorch:
//   ReLU  y = max(x, 0)                      dx = dy * (y > 0)
//   GELU  y = x * Phi(x) (erf form)          dx = dy * (Phi(x) + x * phi(x))
//   GELUTanh y = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)
//   SiLU  y = x * sigmoid(x)                 dx = dy * s (1 + x (1 - s))
// Templates over the storage type T (storage.cuh): x, y, dy, dx are T, the formulas run in
// float, each stored value is rounded once.
#include "kernels/cuda/check.h"
#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/storage.cuh"

namespace te::cuda::launch {
namespace {
using dev::load;
using dev::store;

constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
constexpr float kSqrt2OverPi = 0.79788456080286535588f;
constexpr float kGeluC = 0.044715f;

template <int Kind>
__device__ inline float act(float x) {
  if (Kind == 0) return x > 0.0f ? x : 0.0f;
  if (Kind == 1) return 0.5f * x * (1.0f + erff(x * kInvSqrt2));
  if (Kind == 2) return 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * (x + kGeluC * x * x * x)));
  return x / (1.0f + expf(-x));
}

template <int Kind>
__device__ inline float act_grad(float x, float y) {
  if (Kind == 0) return y > 0.0f ? 1.0f : 0.0f;
  if (Kind == 1) return 0.5f * (1.0f + erff(x * kInvSqrt2)) + x * kInvSqrt2Pi * expf(-0.5f * x * x);
  if (Kind == 2) {
    const float t = tanhf(kSqrt2OverPi * (x + kGeluC * x * x * x));
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * kGeluC * x * x);
  }
  const float s = 1.0f / (1.0f + expf(-x));
  return s * (1.0f + x * (1.0f - s));
}

template <int Kind, typename T>
__global__ void forward_kernel(const T* x, T* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    store(y, i, act<Kind>(load(x, i)));
}

// ReLU reads only y (x may be null); the others read only x.
template <int Kind, typename T>
__global__ void backward_kernel(const T* x, const T* y, const T* dy, T* dx, int64_t n,
                                bool accumulate) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float g = Kind == 0 ? act_grad<0>(0.0f, load(y, i)) : act_grad<Kind>(load(x, i), 0.0f);
    const float v = load(dy, i) * g;
    store(dx, i, accumulate ? load(dx, i) + v : v);
  }
}
}  // namespace

template <typename T>
void activation_forward(int kind, const T* x, T* y, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  const unsigned g = dev::grid_for(n);
  switch (kind) {
    case 0: TE_LAUNCH(g, dev::kThreads, 0, s, forward_kernel<0, T>)(x, y, n); break;
    case 1: TE_LAUNCH(g, dev::kThreads, 0, s, forward_kernel<1, T>)(x, y, n); break;
    case 2: TE_LAUNCH(g, dev::kThreads, 0, s, forward_kernel<2, T>)(x, y, n); break;
    default: TE_LAUNCH(g, dev::kThreads, 0, s, forward_kernel<3, T>)(x, y, n); break;
  }
  TE_CUDA_CHECK_LAUNCH("activation forward_kernel");
}

template <typename T>
void activation_backward(int kind, const same_t<T>* x, const same_t<T>* y, const T* dy, T* dx,
                         int64_t n, bool accumulate, cudaStream_t s) {
  if (n == 0) return;
  const unsigned g = dev::grid_for(n);
  switch (kind) {
    case 0: TE_LAUNCH(g, dev::kThreads, 0, s, backward_kernel<0, T>)(x, y, dy, dx, n, accumulate); break;
    case 1: TE_LAUNCH(g, dev::kThreads, 0, s, backward_kernel<1, T>)(x, y, dy, dx, n, accumulate); break;
    case 2: TE_LAUNCH(g, dev::kThreads, 0, s, backward_kernel<2, T>)(x, y, dy, dx, n, accumulate); break;
    default: TE_LAUNCH(g, dev::kThreads, 0, s, backward_kernel<3, T>)(x, y, dy, dx, n, accumulate); break;
  }
  TE_CUDA_CHECK_LAUNCH("activation backward_kernel");
}

#define TE_INSTANTIATE(T)                                                                   \
  template void activation_forward<T>(int, const T*, T*, int64_t, cudaStream_t);           \
  template void activation_backward<T>(int, const T*, const T*, const T*, T*, int64_t, bool, \
                                       cudaStream_t);
TE_FOR_EACH_STORAGE_TYPE(TE_INSTANTIATE)
#undef TE_INSTANTIATE

}  // namespace te::cuda::launch
