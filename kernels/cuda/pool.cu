// Pooling kernels with the CPU backend's (and PyTorch's) window rules (kernels/cpu/pool.cpp).
// Forward: one thread per output element (grid-stride over planes * OH * OW) scans its window.
// Average backward: one thread per input element gathers from every output window that covers
// it, in a fixed order (deterministic without atomics). Max backward scatters (see launchers.h).
// Storage types: x, y, dy, dx are the template type T (float, bf16 or f16; storage.cuh), sums
// run in float (global average: double) and each stored value is rounded once; argmax is i32.
// Max backward for f32 scatters straight into dx; for bf16/f16 a scatter into dx would round
// once per contribution, so it gathers each plane in float in shared memory first
// (max_backward_shared_kernel). Window arithmetic: pool_window.cuh, shared with pool_nhwc.cu.
#include "kernels/cuda/check.h"
#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/pool_window.cuh"
#include "kernels/cuda/storage.cuh"

namespace te::cuda::launch {
namespace {
using dev::load;
using dev::store;

using pool_detail::avg_window;
using pool_detail::covering;
using pool_detail::imin;
using pool_detail::max_window;
using pool_detail::MaxWindow;
using pool_detail::Window;

template <typename T>
__global__ void max_forward_kernel(const T* x, T* y, int32_t* argmax, PoolGeometry g) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total;
       o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = o % g.ow, oh = (o / g.ow) % g.oh, pl = o / (g.ow * g.oh);
    const T* in = x + pl * g.h * g.w;
    const MaxWindow win = max_window(g, oh, ow);
    int64_t best = win.h0 * g.w + win.w0;
    float best_value = -INFINITY;
    for (int64_t ih = win.h0; ih < win.h1; ih += g.dh)
      for (int64_t iw = win.w0; iw < win.w1; iw += g.dw) {
        const float v = load(in, ih * g.w + iw);
        if (v > best_value || isnan(v)) {
          best_value = v;
          best = ih * g.w + iw;
        }
      }
    store(y, o, best_value);  // exact: best_value is one of the T inputs (or -inf)
    argmax[o] = static_cast<int32_t>(best);
  }
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

// bf16/f16 max backward: one block per plane (grid-stride over planes). The plane's input
// gradient is built in float in shared memory, `tile` positions at a time (the whole plane when
// it fits): the threads load the tile (old dx when accumulating, else 0), add every output of
// the plane whose argmax falls in the tile (shared-memory atomics; with `deterministic` thread 0
// adds them in output order, as max_backward_ordered_kernel does), then store the tile, each
// element rounded once. A plane larger than the shared memory rescans its outputs per tile.
template <typename T>
__global__ void max_backward_shared_kernel(const T* dy, const int32_t* argmax, T* dx,
                                           int64_t planes, int64_t in_plane, int64_t out_plane,
                                           int64_t tile, bool accumulate, bool deterministic) {
  TE_DYNAMIC_SHARED(float, acc);
  for (int64_t pl = blockIdx.x; pl < planes; pl += gridDim.x) {
    const T* g = dy + pl * out_plane;
    const int32_t* am = argmax + pl * out_plane;
    T* d = dx + pl * in_plane;
    for (int64_t t0 = 0; t0 < in_plane; t0 += tile) {
      const int64_t len = imin(tile, in_plane - t0);
      for (int64_t i = threadIdx.x; i < len; i += blockDim.x)
        acc[i] = accumulate ? load(d, t0 + i) : 0.0f;
      __syncthreads();
      if (deterministic) {
        if (threadIdx.x == 0)
          for (int64_t o = 0; o < out_plane; ++o) {
            const int64_t k = am[o] - t0;
            if (k >= 0 && k < len) acc[k] += load(g, o);
          }
      } else {
        for (int64_t o = threadIdx.x; o < out_plane; o += blockDim.x) {
          const int64_t k = am[o] - t0;
          if (k >= 0 && k < len) atomicAdd(acc + k, load(g, o));
        }
      }
      __syncthreads();
      for (int64_t i = threadIdx.x; i < len; i += blockDim.x) store(d, t0 + i, acc[i]);
      __syncthreads();  // the next tile or plane reuses `acc`
    }
  }
}

template <typename T>
__global__ void avg_forward_kernel(const T* x, T* y, PoolGeometry g) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total;
       o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = o % g.ow, oh = (o / g.ow) % g.oh, pl = o / (g.ow * g.oh);
    const Window win = avg_window(g, oh, ow);
    const T* in = x + pl * g.h * g.w;
    float s = 0.0f;
    for (int64_t ih = win.h0; ih < win.h1; ++ih)
      for (int64_t iw = win.w0; iw < win.w1; ++iw) s += load(in, ih * g.w + iw);
    store(y, o, win.divisor > 0 ? s / static_cast<float>(win.divisor) : 0.0f);
  }
}

template <typename T>
__global__ void avg_backward_kernel(const T* dy, T* dx, PoolGeometry g, bool accumulate) {
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
          acc += load(dy, base + oh * g.ow + ow) / static_cast<float>(win.divisor);
      }
    store(dx, i, accumulate ? load(dx, i) + acc : acc);
  }
}

// One warp per plane: lanes stride over the plane's hw values, sum in double, lane 0 writes.
template <typename T>
__global__ void global_avg_forward_kernel(const T* x, T* y, int64_t planes, int64_t hw) {
  const int64_t warps_per_block = blockDim.x / 32;
  const int lane = threadIdx.x & 31;
  for (int64_t pl = blockIdx.x * warps_per_block + threadIdx.x / 32; pl < planes;
       pl += int64_t(gridDim.x) * warps_per_block) {
    double s = 0;
    for (int64_t i = lane; i < hw; i += 32) s += load(x, pl * hw + i);
    for (int off = 16; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
    // For bf16/f16 the double mean is rounded to float first: that can differ from rounding
    // it straight to T only when it lies within 2^-24 (relative) of a tie between two T values.
    if (lane == 0) store(y, pl, static_cast<float>(s / static_cast<double>(hw)));
  }
}

template <typename T>
__global__ void global_avg_backward_kernel(const T* dy, T* dx, int64_t planes, int64_t hw,
                                           bool accumulate) {
  const int64_t total = planes * hw;
  const float inv = 1.0f / static_cast<float>(hw);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float v = load(dy, i / hw) * inv;
    store(dx, i, accumulate ? load(dx, i) + v : v);
  }
}

// Floats of shared memory a block of max_backward_shared_kernel<T> may use: the device's
// opt-in limit per block (one GPU per process, so read once), raised for the kernel once.
template <typename T>
int64_t shared_tile_floats() {
  static const int64_t floats = [] {
    int device = 0, optin = 0;
    TE_CUDA_CHECK(cudaGetDevice(&device));
    TE_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    if (optin < 48 * 1024) optin = 48 * 1024;  // every GPU we build for allows this without opting in
    TE_CUDA_CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(&max_backward_shared_kernel<T>),
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, optin));
    return static_cast<int64_t>(optin / sizeof(float));
  }();
  return floats;
}

// f32: the scatter kernels write dx directly.
void launch_max_backward(const float* dy, const int32_t* argmax, float* dx, int64_t planes,
                         int64_t in_plane, int64_t out_plane, bool accumulate, bool deterministic,
                         cudaStream_t s) {
  if (!accumulate) TE_CUDA_CHECK(cudaMemsetAsync(dx, 0, planes * in_plane * sizeof(float), s));
  if (out_plane == 0) return;
  if (deterministic) {
    TE_LAUNCH(dev::grid_for(planes, 128), 128, 0, s, max_backward_ordered_kernel)(dy, argmax, dx, planes,
                                                                           in_plane, out_plane);
  } else {
    TE_LAUNCH(dev::grid_for(planes * out_plane), dev::kThreads, 0, s, max_backward_atomic_kernel)(
        dy, argmax, dx, planes, in_plane, out_plane);
  }
  TE_CUDA_CHECK_LAUNCH("max_backward kernel");
}

// bf16/f16: gathered per plane in shared memory, one rounding per element.
template <typename T>
void launch_max_backward(const T* dy, const int32_t* argmax, T* dx, int64_t planes,
                         int64_t in_plane, int64_t out_plane, bool accumulate, bool deterministic,
                         cudaStream_t s) {
  const int64_t most = shared_tile_floats<T>();
  const int64_t tile = in_plane < most ? in_plane : most;
  const unsigned blocks = static_cast<unsigned>(planes < 65535 ? planes : 65535);
  TE_LAUNCH(blocks, dev::kThreads, tile * sizeof(float), s, max_backward_shared_kernel<T>)(
      dy, argmax, dx, planes, in_plane, out_plane, tile, accumulate, deterministic);
  TE_CUDA_CHECK_LAUNCH("max_backward_shared_kernel");
}
}  // namespace

template <typename T>
void max_pool_forward(const T* x, T* y, int32_t* argmax, const PoolGeometry& g, cudaStream_t s) {
  const int64_t total = g.planes * g.oh * g.ow;
  if (total == 0) return;
  TE_LAUNCH(dev::grid_for(total), dev::kThreads, 0, s, max_forward_kernel<T>)(x, y, argmax, g);
  TE_CUDA_CHECK_LAUNCH("max_forward_kernel");
}

template <typename T>
void max_pool_backward(const T* dy, const int32_t* argmax, T* dx, int64_t planes,
                       int64_t in_plane, int64_t out_plane, bool accumulate, bool deterministic,
                       cudaStream_t s) {
  if (planes * in_plane == 0) return;
  launch_max_backward(dy, argmax, dx, planes, in_plane, out_plane, accumulate, deterministic, s);
}

template <typename T>
void avg_pool_forward(const T* x, T* y, const PoolGeometry& g, cudaStream_t s) {
  const int64_t total = g.planes * g.oh * g.ow;
  if (total == 0) return;
  TE_LAUNCH(dev::grid_for(total), dev::kThreads, 0, s, avg_forward_kernel<T>)(x, y, g);
  TE_CUDA_CHECK_LAUNCH("avg_forward_kernel");
}

template <typename T>
void avg_pool_backward(const T* dy, T* dx, const PoolGeometry& g, bool accumulate,
                       cudaStream_t s) {
  const int64_t total = g.planes * g.h * g.w;
  if (total == 0) return;
  TE_LAUNCH(dev::grid_for(total), dev::kThreads, 0, s, avg_backward_kernel<T>)(dy, dx, g, accumulate);
  TE_CUDA_CHECK_LAUNCH("avg_backward_kernel");
}

template <typename T>
void global_avg_pool_forward(const T* x, T* y, int64_t planes, int64_t hw, cudaStream_t s) {
  if (planes == 0) return;
  TE_LAUNCH(dev::grid_for(planes * 32), dev::kThreads, 0, s, global_avg_forward_kernel<T>)(x, y, planes, hw);
  TE_CUDA_CHECK_LAUNCH("global_avg_forward_kernel");
}

template <typename T>
void global_avg_pool_backward(const T* dy, T* dx, int64_t planes, int64_t hw, bool accumulate,
                              cudaStream_t s) {
  if (planes * hw == 0) return;
  TE_LAUNCH(dev::grid_for(planes * hw), dev::kThreads, 0, s, global_avg_backward_kernel<T>)(dy, dx, planes,
                                                                                  hw, accumulate);
  TE_CUDA_CHECK_LAUNCH("global_avg_backward_kernel");
}

#define TE_INSTANTIATE(T)                                                                   \
  template void max_pool_forward<T>(const T*, T*, int32_t*, const PoolGeometry&, cudaStream_t); \
  template void max_pool_backward<T>(const T*, const int32_t*, T*, int64_t, int64_t, int64_t, \
                                     bool, bool, cudaStream_t);                               \
  template void avg_pool_forward<T>(const T*, T*, const PoolGeometry&, cudaStream_t);         \
  template void avg_pool_backward<T>(const T*, T*, const PoolGeometry&, bool, cudaStream_t);  \
  template void global_avg_pool_forward<T>(const T*, T*, int64_t, int64_t, cudaStream_t);     \
  template void global_avg_pool_backward<T>(const T*, T*, int64_t, int64_t, bool, cudaStream_t);
TE_FOR_EACH_STORAGE_TYPE(TE_INSTANTIATE)
#undef TE_INSTANTIATE

}  // namespace te::cuda::launch
