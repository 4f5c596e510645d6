// Filter transposes between KCRS and KRSC (filter_layout.h).
//
// Thread mapping: a grid-stride loop over the destination, one element per thread per step, so
// consecutive threads write consecutive addresses (coalesced stores); the loads are strided by
// c or rs. Filters are small (at most a few MB), so this simple mapping is enough.
#include <cstdint>
#include <string>

#include "engine/core/error.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/filter_layout.h"
#include "kernels/cuda/launch.cuh"

namespace te::cuda::launch {
namespace {

// Each filter k is a [a][b] matrix in src and is stored transposed, [b][a], in dst:
// KCRS -> KRSC has a = c, b = rs; KRSC -> KCRS has a = rs, b = c.
template <typename Bits>
__global__ void transpose_filter_kernel(const Bits* src, Bits* dst, int64_t k, int64_t a,
                                        int64_t b) {
  const int64_t per_filter = a * b, total = k * per_filter;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t f = i / per_filter, rest = i - f * per_filter;
    const int64_t bi = rest / a, ai = rest - bi * a;  // dst index (f, bi, ai)
    dst[i] = src[f * per_filter + ai * b + bi];
  }
}

void transpose(const void* src, void* dst, size_t elem_size, int64_t k, int64_t a, int64_t b,
               cudaStream_t s, const char* name) {
  const int64_t total = k * a * b;
  if (total == 0) return;
  switch (elem_size) {
    case 2:
      TE_LAUNCH(dev::grid_for(total), dev::kThreads, 0, s, transpose_filter_kernel<uint16_t>)(
          static_cast<const uint16_t*>(src), static_cast<uint16_t*>(dst), k, a, b);
      break;
    case 4:
      TE_LAUNCH(dev::grid_for(total), dev::kThreads, 0, s, transpose_filter_kernel<uint32_t>)(
          static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), k, a, b);
      break;
    default:
      throw Error(std::string(name) + ": element size " + std::to_string(elem_size) +
                  " bytes; expected 2 (bf16, f16) or 4 (f32)");
  }
  TE_CUDA_CHECK_LAUNCH("transpose_filter_kernel");
}

}  // namespace

void kcrs_to_krsc(const void* src, void* dst, size_t elem_size, int64_t k, int64_t c, int64_t rs,
                  cudaStream_t s) {
  transpose(src, dst, elem_size, k, c, rs, s, "kcrs_to_krsc");
}

void krsc_to_kcrs(const void* src, void* dst, size_t elem_size, int64_t k, int64_t c, int64_t rs,
                  cudaStream_t s) {
  transpose(src, dst, elem_size, k, rs, c, s, "krsc_to_kcrs");
}

}  // namespace te::cuda::launch
