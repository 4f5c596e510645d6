// Pooling kernels with the CPU backend's (and PyTorch's) window rules (kernels/cpu/pool.cpp).
// Forward: one thread per output element (grid-stride over planes * OH * OW) scans its window.
// Average backward: one thread per input element gathers from every output window that covers
// it, in a fixed order (deterministic without atomics). Max backward scatters (see launchers.h).
#include "kernels/cuda/check.h"
#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/launchers.h"

namespace te::cuda::launch {
namespace {
__device__ inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

__global__ void max_forward_kernel(const float* x, float* y, int32_t* argmax, PoolGeometry g) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total;
       o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = o % g.ow, oh = (o / g.ow) % g.oh, pl = o / (g.ow * g.oh);
    const float* in = x + pl * g.h * g.w;
    int64_t h0 = oh * g.sh - g.ph;
    const int64_t h1 = imin(h0 + (g.kh - 1) * g.dh + 1, g.h);
    while (h0 < 0) h0 += g.dh;
    int64_t w0 = ow * g.sw - g.pw;
    const int64_t w1 = imin(w0 + (g.kw - 1) * g.dw + 1, g.w);
    while (w0 < 0) w0 += g.dw;
    int64_t best = h0 * g.w + w0;
    float best_value = -INFINITY;
    for (int64_t ih = h0; ih < h1; ih += g.dh)
      for (int64_t iw = w0; iw < w1; iw += g.dw) {
        const float v = in[ih * g.w + iw];
        if (v > best_value || isnan(v)) {
          best_value = v;
          best = ih * g.w + iw;
        }
      }
    y[o] = best_value;
    argmax[o] = static_cast<int32_t>(best);
  }
}

// Outputs along one axis whose window (start o*s - p, extent (k-1)*d + 1) can contain i.
__device__ inline void covering(int64_t i, int64_t k, int64_t s, int64_t p, int64_t d,
                                int64_t out, int64_t& first, int64_t& last) {
  const int64_t span = (k - 1) * d + 1;
  const int64_t lo = i + p - span + 1;  // smallest window start that still reaches i
  first = lo <= 0 ? 0 : (lo + s - 1) / s;
  last = imin((i + p) / s, out - 1);
}

// One thread per output element: dx[argmax] += dy.
__global__ void max_backward_atomic_kernel(const float* dy, const int32_t* argmax, float* dx,
                                           int64_t planes, int64_t in_plane, int64_t out_plane) {
  const int64_t total = planes * out_plane;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total;
       o += int64_t(gridDim.x) * blockDim.x)
    atomicAdd(dx + (o / out_plane) * in_plane + argmax[o], dy[o]);
}

// One thread per plane walks its outputs in order: the same sums in the same order every run.
__global__ void max_backward_ordered_kernel(const float* dy, const int32_t* argmax, float* dx,
                                            int64_t planes, int64_t in_plane, int64_t out_plane) {
  for (int64_t pl = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; pl < planes;
       pl += int64_t(gridDim.x) * blockDim.x) {
    float* g = dx + pl * in_plane;
    for (int64_t o = pl * out_plane; o < (pl + 1) * out_plane; ++o) g[argmax[o]] += dy[o];
  }
}

struct Window {
  int64_t h0, h1, w0, w1, divisor;
};

__device__ inline Window avg_window(const PoolGeometry& g, int64_t oh, int64_t ow) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t h1 = imin(h0 + g.kh, g.h + g.ph), w1 = imin(w0 + g.kw, g.w + g.pw);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = imax(h0, 0);
  w0 = imax(w0, 0);
  h1 = imin(h1, g.h);
  w1 = imin(w1, g.w);
  const int64_t inside = imax(0, h1 - h0) * imax(0, w1 - w0);
  return {h0, h1, w0, w1, g.count_include_pad ? padded : inside};
}

__global__ void avg_forward_kernel(const float* x, float* y, PoolGeometry g) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total;
       o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = o % g.ow, oh = (o / g.ow) % g.oh, pl = o / (g.ow * g.oh);
    const Window win = avg_window(g, oh, ow);
    const float* in = x + pl * g.h * g.w;
    float s = 0.0f;
    for (int64_t ih = win.h0; ih < win.h1; ++ih)
      for (int64_t iw = win.w0; iw < win.w1; ++iw) s += in[ih * g.w + iw];
    y[o] = win.divisor > 0 ? s / static_cast<float>(win.divisor) : 0.0f;
  }
}

__global__ void avg_backward_kernel(const float* dy, float* dx, PoolGeometry g, bool accumulate) {
  const int64_t total = g.planes * g.h * g.w;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t iw = i % g.w, ih = (i / g.w) % g.h, pl = i / (g.w * g.h);
    int64_t oh0, oh1, ow0, ow1;
    covering(ih, g.kh, g.sh, g.ph, 1, g.oh, oh0, oh1);
    covering(iw, g.kw, g.sw, g.pw, 1, g.ow, ow0, ow1);
    const int64_t base = pl * g.oh * g.ow;
    float acc = 0.0f;
    for (int64_t oh = oh0; oh <= oh1; ++oh)
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        const Window win = avg_window(g, oh, ow);
        if (win.divisor > 0 && ih >= win.h0 && ih < win.h1 && iw >= win.w0 && iw < win.w1)
          acc += dy[base + oh * g.ow + ow] / static_cast<float>(win.divisor);
      }
    dx[i] = accumulate ? dx[i] + acc : acc;
  }
}

// One warp per plane: lanes stride over the plane's hw values, sum in double, lane 0 writes.
__global__ void global_avg_forward_kernel(const float* x, float* y, int64_t planes, int64_t hw) {
  const int64_t warps_per_block = blockDim.x / 32;
  const int lane = threadIdx.x & 31;
  for (int64_t pl = blockIdx.x * warps_per_block + threadIdx.x / 32; pl < planes;
       pl += int64_t(gridDim.x) * warps_per_block) {
    double s = 0;
    for (int64_t i = lane; i < hw; i += 32) s += x[pl * hw + i];
    for (int off = 16; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
    if (lane == 0) y[pl] = static_cast<float>(s / static_cast<double>(hw));
  }
}

__global__ void global_avg_backward_kernel(const float* dy, float* dx, int64_t planes,
                                           int64_t hw, bool accumulate) {
  const int64_t total = planes * hw;
  const float inv = 1.0f / static_cast<float>(hw);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float v = dy[i / hw] * inv;
    dx[i] = accumulate ? dx[i] + v : v;
  }
}
}  // namespace

void max_pool_forward(const float* x, float* y, int32_t* argmax, const PoolGeometry& g,
                      cudaStream_t s) {
  const int64_t total = g.planes * g.oh * g.ow;
  if (total == 0) return;
  max_forward_kernel<<<dev::grid_for(total), dev::kThreads, 0, s>>>(x, y, argmax, g);
  TE_CUDA_CHECK_LAUNCH("max_forward_kernel");
}

void max_pool_backward(const float* dy, const int32_t* argmax, float* dx, int64_t planes,
                       int64_t in_plane, int64_t out_plane, bool accumulate, bool deterministic,
                       cudaStream_t s) {
  if (planes * in_plane == 0) return;
  if (!accumulate) TE_CUDA_CHECK(cudaMemsetAsync(dx, 0, planes * in_plane * sizeof(float), s));
  if (out_plane == 0) return;
  if (deterministic) {
    max_backward_ordered_kernel<<<dev::grid_for(planes, 128), 128, 0, s>>>(dy, argmax, dx, planes,
                                                                           in_plane, out_plane);
  } else {
    max_backward_atomic_kernel<<<dev::grid_for(planes * out_plane), dev::kThreads, 0, s>>>(
        dy, argmax, dx, planes, in_plane, out_plane);
  }
  TE_CUDA_CHECK_LAUNCH("max_backward kernel");
}

void avg_pool_forward(const float* x, float* y, const PoolGeometry& g, cudaStream_t s) {
  const int64_t total = g.planes * g.oh * g.ow;
  if (total == 0) return;
  avg_forward_kernel<<<dev::grid_for(total), dev::kThreads, 0, s>>>(x, y, g);
  TE_CUDA_CHECK_LAUNCH("avg_forward_kernel");
}

void avg_pool_backward(const float* dy, float* dx, const PoolGeometry& g, bool accumulate,
                       cudaStream_t s) {
  const int64_t total = g.planes * g.h * g.w;
  if (total == 0) return;
  avg_backward_kernel<<<dev::grid_for(total), dev::kThreads, 0, s>>>(dy, dx, g, accumulate);
  TE_CUDA_CHECK_LAUNCH("avg_backward_kernel");
}

void global_avg_pool_forward(const float* x, float* y, int64_t planes, int64_t hw,
                             cudaStream_t s) {
  if (planes == 0) return;
  global_avg_forward_kernel<<<dev::grid_for(planes * 32), dev::kThreads, 0, s>>>(x, y, planes, hw);
  TE_CUDA_CHECK_LAUNCH("global_avg_forward_kernel");
}

void global_avg_pool_backward(const float* dy, float* dx, int64_t planes, int64_t hw,
                              bool accumulate, cudaStream_t s) {
  if (planes * hw == 0) return;
  global_avg_backward_kernel<<<dev::grid_for(planes * hw), dev::kThreads, 0, s>>>(dy, dx, planes,
                                                                                  hw, accumulate);
  TE_CUDA_CHECK_LAUNCH("global_avg_backward_kernel");
}

}  // namespace te::cuda::launch
