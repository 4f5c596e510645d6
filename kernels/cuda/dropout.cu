// Inverted dropout with the same mask as the CPU backend: element i is decided by the
// (i % 4)-th 32-bit draw of CounterRng(key, stream, i / 4) (engine/core/philox.h, which is
// host/device code), kept iff uniform >= p. Thread t handles the group of 4 elements
// 4t..4t+3 (one Philox block), grid-stride over groups. in/out are the storage type T
// (storage.cuh): the mask does not depend on T; the product is formed in float and rounded once.
#include "engine/core/philox.h"
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
__global__ void dropout_kernel(const T* in, T* out, int64_t n, float p, float scale,
                               uint64_t key, uint64_t stream, bool accumulate) {
  const int64_t groups = (n + 3) / 4;
  for (int64_t g = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; g < groups;
       g += int64_t(gridDim.x) * blockDim.x) {
    CounterRng rng(key, stream, static_cast<uint64_t>(g));
    // Unrolled, so the generator's four draws stay in registers (a loop with a run-time trip
    // count indexes its block of draws at run time: local memory). Draw k belongs to element
    // 4g + k whether or not that element exists, as on the CPU.
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int64_t i = 4 * g + k;
      const bool keep = rng.uniform() >= p;
      if (i >= n) break;
      const float v = keep ? load(in, i) * scale : 0.0f;
      store(out, i, accumulate ? load(out, i) + v : v);
    }
  }
}
}  // namespace

template <typename T>
void dropout(const T* in, T* out, int64_t n, double p, uint64_t key, uint64_t stream,
             bool accumulate, cudaStream_t s) {
  if (n == 0) return;
  // The CPU computes the scale in double and rounds it to the element type: do the same.
  const float threshold = static_cast<float>(p);
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  TE_LAUNCH(dev::grid_for((n + 3) / 4), dev::kThreads, 0, s, dropout_kernel<T>)(in, out, n, threshold, scale,
                                                                        key, stream, accumulate);
  TE_CUDA_CHECK_LAUNCH("dropout_kernel");
}

#define TE_INSTANTIATE(T)                                                                 \
  template void dropout<T>(const T*, T*, int64_t, double, uint64_t, uint64_t, bool, cudaStream_t);
TE_FOR_EACH_STORAGE_TYPE(TE_INSTANTIATE)
#undef TE_INSTANTIATE

}  // namespace te::cuda::launch
