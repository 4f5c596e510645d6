// Input normalisation to a channels-last output (kernels/normalize.h, Layout::NHWC): the uint8
// NHWC batch and the output share one element order, so this is a streaming map
// out[i] = in[i] * scale[i % C] + shift[i % C], computed in float and rounded once to T
// (float, bf16 or f16), the same expression as the NCHW kernel in rows.cu.
#include "kernels/cuda/check.h"
#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/storage.cuh"

namespace te::cuda::launch {
namespace {
// One thread per element, grid-stride: consecutive threads read consecutive bytes and write
// consecutive outputs (both sides coalesced, unlike the transposing NCHW kernel).
// __grid_constant__: a.scale[ch] is read in place (no local-memory copy of the parameter).
template <typename T>
__global__ void normalize_to_nhwc_kernel(const uint8_t* in, T* out, int64_t total, int64_t c,
                                         const __grid_constant__ ChannelAffine a) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ch = i % c;
    dev::store(out, i, static_cast<float>(in[i]) * a.scale[ch] + a.shift[ch]);
  }
}
}  // namespace

template <typename T>
void normalize_u8_nhwc_to_nhwc(const uint8_t* in, T* out, int64_t pixels, int64_t c,
                               const ChannelAffine& affine, cudaStream_t s) {
  const int64_t total = pixels * c;
  if (total == 0) return;
  TE_LAUNCH(dev::grid_for(total), dev::kThreads, 0, s, normalize_to_nhwc_kernel<T>)(in, out, total, c,
                                                                          affine);
  TE_CUDA_CHECK_LAUNCH("normalize_to_nhwc_kernel");
}

#define TE_INSTANTIATE(T)                                                                  \
  template void normalize_u8_nhwc_to_nhwc<T>(const uint8_t*, T*, int64_t, int64_t,        \
                                             const ChannelAffine&, cudaStream_t);
TE_FOR_EACH_STORAGE_TYPE(TE_INSTANTIATE)
#undef TE_INSTANTIATE

}  // namespace te::cuda::launch
