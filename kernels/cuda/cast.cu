// dst = src * scale between f32, bf16 and f16 (kernels/cast.h): one thread per element in a
// grid-stride loop; the product is formed in float and rounded once (round to nearest even by
// storage.cuh's store).
#include "kernels/cuda/check.h"
#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/launchers_cast.h"
#include "kernels/cuda/storage.cuh"

namespace te::cuda::launch {
namespace {

template <typename In, typename Out>
__global__ void cast_scale_kernel(const In* src, Out* dst, int64_t n, float scale) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dev::store(dst, i, dev::load(src, i) * scale);
}

template <typename In>
void launch_out(const In* src, void* dst, int dst_type, int64_t n, float scale, cudaStream_t s) {
  const unsigned grid = dev::grid_for(n);
  switch (dst_type) {
    case 0: TE_LAUNCH(grid, dev::kThreads, 0, s, cast_scale_kernel<In, float>)(src, static_cast<float*>(dst), n, scale); break;
    case 1: TE_LAUNCH(grid, dev::kThreads, 0, s, cast_scale_kernel<In, __nv_bfloat16>)(src, static_cast<__nv_bfloat16*>(dst), n, scale); break;
    default: TE_LAUNCH(grid, dev::kThreads, 0, s, cast_scale_kernel<In, __half>)(src, static_cast<__half*>(dst), n, scale); break;
  }
}

// Ranges: `starts` holds R + 1 prefix sums of the counts (starts[R] = total) and `offsets`
// the R flat offsets. Thread t of the total finds its range by binary search over the prefix
// sums (R is small: one per run of parameters, and neighbouring threads share a range).
template <typename In, typename Out>
__global__ void cast_scale_ranges_kernel(const In* src, Out* dst, const int64_t* offsets,
                                         const int64_t* starts, int ranges, float scale) {
  const int64_t total = starts[ranges];
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    int lo = 0, hi = ranges - 1;
    while (lo < hi) {  // the last range whose start is <= t
      const int mid = (lo + hi + 1) / 2;
      if (starts[mid] <= t) lo = mid;
      else hi = mid - 1;
    }
    const int64_t i = offsets[lo] + (t - starts[lo]);
    dev::store(dst, i, dev::load(src, i) * scale);
  }
}

template <typename In>
void launch_ranges_out(const In* src, void* dst, int dst_type, const int64_t* offsets,
                       const int64_t* starts, int ranges, int64_t total, float scale,
                       cudaStream_t s) {
  const unsigned grid = dev::grid_for(total);
  switch (dst_type) {
    case 0: TE_LAUNCH(grid, dev::kThreads, 0, s, cast_scale_ranges_kernel<In, float>)(src, static_cast<float*>(dst), offsets, starts, ranges, scale); break;
    case 1: TE_LAUNCH(grid, dev::kThreads, 0, s, cast_scale_ranges_kernel<In, __nv_bfloat16>)(src, static_cast<__nv_bfloat16*>(dst), offsets, starts, ranges, scale); break;
    default: TE_LAUNCH(grid, dev::kThreads, 0, s, cast_scale_ranges_kernel<In, __half>)(src, static_cast<__half*>(dst), offsets, starts, ranges, scale); break;
  }
}

}  // namespace

void cast_scale_ranges(const void* src, int src_type, void* dst, int dst_type,
                       const int64_t* offsets, const int64_t* starts, int ranges,
                       int64_t max_total, float scale, cudaStream_t s) {
  if (ranges == 0 || max_total == 0) return;
  const int64_t total = max_total;
  switch (src_type) {
    case 0: launch_ranges_out(static_cast<const float*>(src), dst, dst_type, offsets, starts, ranges, total, scale, s); break;
    case 1: launch_ranges_out(static_cast<const __nv_bfloat16*>(src), dst, dst_type, offsets, starts, ranges, total, scale, s); break;
    default: launch_ranges_out(static_cast<const __half*>(src), dst, dst_type, offsets, starts, ranges, total, scale, s); break;
  }
  TE_CUDA_CHECK_LAUNCH("cast_scale_ranges_kernel");
}

void cast_scale(const void* src, int src_type, void* dst, int dst_type, int64_t n, float scale,
                cudaStream_t s) {
  if (n == 0) return;
  switch (src_type) {
    case 0: launch_out(static_cast<const float*>(src), dst, dst_type, n, scale, s); break;
    case 1: launch_out(static_cast<const __nv_bfloat16*>(src), dst, dst_type, n, scale, s); break;
    default: launch_out(static_cast<const __half*>(src), dst, dst_type, n, scale, s); break;
  }
  TE_CUDA_CHECK_LAUNCH("cast_scale_kernel");
}

}  // namespace te::cuda::launch
