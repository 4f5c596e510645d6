#pragma once
// Launcher of cast.cu.
#include <cuda_runtime.h>

#include <cstdint>

namespace te::cuda::launch {
// dst = src * scale; type codes 0 f32, 1 bf16, 2 f16.
void cast_scale(const void* src, int src_type, void* dst, int dst_type, int64_t n, float scale,
                cudaStream_t s);
}  // namespace te::cuda::launch
