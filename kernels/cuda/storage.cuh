#pragma once
// Loads and stores of the storage types our kernels are instantiated for (launchers.h): float,
// __nv_bfloat16 and __half. A kernel templated on the storage type T reads with load() (exact:
// every bf16/f16 value is a float), computes in float (sums in double) and writes with store(),
// which rounds once, to nearest even. For T = float both are plain accesses, so the float
// instantiation compiles to the same code as a kernel written for float alone.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace te::cuda::dev {

__device__ __forceinline__ float load(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float load(const __nv_bfloat16* p, int64_t i) {
  return __bfloat162float(p[i]);
}
__device__ __forceinline__ float load(const __half* p, int64_t i) { return __half2float(p[i]); }

__device__ __forceinline__ void store(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void store(__nv_bfloat16* p, int64_t i, float v) {
  p[i] = __float2bfloat16_rn(v);
}
__device__ __forceinline__ void store(__half* p, int64_t i, float v) { p[i] = __float2half_rn(v); }

}  // namespace te::cuda::dev

// M(float) M(__nv_bfloat16) M(__half): for the explicit instantiations of the launchers.
#define TE_FOR_EACH_STORAGE_TYPE(M) M(float) M(__nv_bfloat16) M(__half)
