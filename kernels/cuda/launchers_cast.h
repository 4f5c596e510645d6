#pragma once
// Launcher of cast.cu.
#include <cuda_runtime.h>

#include <cstdint>

namespace te::cuda::launch {
// dst = src * scale; type codes 0 f32, 1 bf16, 2 f16.
void cast_scale(const void* src, int src_type, void* dst, int dst_type, int64_t n, float scale,
                cudaStream_t s);
// The same over R ranges: offsets[r] and prefix sums starts[0..R] of their counts (device
// memory; the kernel reads the total from starts[R]), `max_total` >= that total sizes the grid.
void cast_scale_ranges(const void* src, int src_type, void* dst, int dst_type,
                       const int64_t* offsets, const int64_t* starts, int ranges,
                       int64_t max_total, float scale, cudaStream_t s);
}  // namespace te::cuda::launch
