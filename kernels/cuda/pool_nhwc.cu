// Pooling kernels for channels-last tensors: x, y, dy, dx and argmax lie in [N, H, W, C]
// memory order (kernels/layout.h), element (n, c, h, w) at ((n * H + h) * W + w) * C + c.
// Thread mapping: every kernel numbers its work items in that memory order, channel fastest,
// so consecutive threads take consecutive channels of one position and every warp reads and
// writes contiguous runs of memory (the NCHW kernels in pool.cu stride along W instead).
// Windows, scan order and arithmetic are pool.cu's (pool_window.cuh), so results equal the
// NCHW kernels' element for element; only the global average's double sum runs in another
// order. Storage types and rounding as in pool.cu: load T, compute in float (global average:
// double), round once on store; argmax is i32 and holds ih * W + iw as for NCHW.
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

// One thread per output element o (NHWC order: channel fastest), grid-stride.
template <typename T>
__global__ void max_forward_nhwc_kernel(const T* x, T* y, int32_t* argmax, PoolGeometry g,
                                        int64_t c) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total;
       o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ch = o % c, pos = o / c;
    const int64_t ow = pos % g.ow, oh = (pos / g.ow) % g.oh, img = pos / (g.ow * g.oh);
    const T* in = x + img * g.h * g.w * c + ch;  // position p of this channel at in[p * c]
    const MaxWindow win = max_window(g, oh, ow);
    int64_t best = win.h0 * g.w + win.w0;
    float best_value = -INFINITY;
    for (int64_t ih = win.h0; ih < win.h1; ih += g.dh)
      for (int64_t iw = win.w0; iw < win.w1; iw += g.dw) {
        const float v = load(in, (ih * g.w + iw) * c);
        if (v > best_value || isnan(v)) {
          best_value = v;
          best = ih * g.w + iw;
        }
      }
    store(y, o, best_value);  // exact: best_value is one of the T inputs (or -inf)
    argmax[o] = static_cast<int32_t>(best);
  }
}

// f32, one thread per output element (NHWC order): dx[img, argmax, ch] += dy.
__global__ void max_backward_nhwc_atomic_kernel(const float* dy, const int32_t* argmax, float* dx,
                                                int64_t n, int64_t c, int64_t in_hw,
                                                int64_t out_hw) {
  const int64_t total = n * out_hw * c;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total;
       o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ch = o % c, img = o / (out_hw * c);
    atomicAdd(dx + (img * in_hw + argmax[o]) * c + ch, dy[o]);
  }
}

// f32, deterministic: one thread per (image, channel), consecutive threads on consecutive
// channels; each walks its outputs in order, as max_backward_ordered_kernel walks a plane.
__global__ void max_backward_nhwc_ordered_kernel(const float* dy, const int32_t* argmax, float* dx,
                                                 int64_t n, int64_t c, int64_t in_hw,
                                                 int64_t out_hw) {
  for (int64_t u = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; u < n * c;
       u += int64_t(gridDim.x) * blockDim.x) {
    const int64_t img = u / c, ch = u % c;
    float* g = dx + img * in_hw * c + ch;
    const int64_t first = img * out_hw * c + ch;
    for (int64_t k = 0; k < out_hw; ++k) {
      const int64_t o = first + k * c;
      g[int64_t(argmax[o]) * c] += dy[o];
    }
  }
}

// bf16/f16: one block per unit (image, group of `cb` consecutive channels), grid-stride over
// units. The unit's input gradient is built in float in shared memory, `tile` positions at a
// time: acc[p * cb + j] is position t0 + p, channel c0 + j. The threads load the tile (old dx
// when accumulating, else 0; consecutive threads on consecutive channels), add every output of
// the unit whose argmax falls in the tile (shared-memory atomics, one thread per (output,
// channel); with `deterministic` thread j adds channel j's outputs in output order, as the NCHW
// kernel does), then store the tile, each element rounded once. A unit larger than the shared
// memory rescans its outputs per tile.
template <typename T>
__global__ void max_backward_nhwc_shared_kernel(const T* dy, const int32_t* argmax, T* dx,
                                                int64_t n, int64_t c, int64_t in_hw,
                                                int64_t out_hw, int64_t cb, int64_t tile,
                                                bool accumulate, bool deterministic) {
  TE_DYNAMIC_SHARED(float, acc);
  const int64_t groups = (c + cb - 1) / cb;
  for (int64_t u = blockIdx.x; u < n * groups; u += gridDim.x) {
    const int64_t img = u / groups, c0 = (u % groups) * cb;
    const int64_t width = imin(cb, c - c0);  // channels of this unit
    const T* g = dy + img * out_hw * c + c0;
    const int32_t* am = argmax + img * out_hw * c + c0;
    T* d = dx + img * in_hw * c + c0;
    for (int64_t t0 = 0; t0 < in_hw; t0 += tile) {
      const int64_t len = imin(tile, in_hw - t0);
      for (int64_t i = threadIdx.x; i < len * width; i += blockDim.x) {
        const int64_t p = i / width, j = i % width;
        acc[p * cb + j] = accumulate ? load(d, (t0 + p) * c + j) : 0.0f;
      }
      __syncthreads();
      if (deterministic) {
        for (int64_t j = threadIdx.x; j < width; j += blockDim.x)
          for (int64_t o = 0; o < out_hw; ++o) {
            const int64_t k = am[o * c + j] - t0;
            if (k >= 0 && k < len) acc[k * cb + j] += load(g, o * c + j);
          }
      } else {
        for (int64_t i = threadIdx.x; i < out_hw * width; i += blockDim.x) {
          const int64_t o = i / width, j = i % width;
          const int64_t k = am[o * c + j] - t0;
          if (k >= 0 && k < len) atomicAdd(acc + k * cb + j, load(g, o * c + j));
        }
      }
      __syncthreads();
      for (int64_t i = threadIdx.x; i < len * width; i += blockDim.x) {
        const int64_t p = i / width, j = i % width;
        store(d, (t0 + p) * c + j, acc[p * cb + j]);
      }
      __syncthreads();  // the next tile or unit reuses `acc`
    }
  }
}

// One thread per output element (NHWC order), the window summed in avg_forward_kernel's order.
template <typename T>
__global__ void avg_forward_nhwc_kernel(const T* x, T* y, PoolGeometry g, int64_t c) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total;
       o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ch = o % c, pos = o / c;
    const int64_t ow = pos % g.ow, oh = (pos / g.ow) % g.oh, img = pos / (g.ow * g.oh);
    const Window win = avg_window(g, oh, ow);
    const T* in = x + img * g.h * g.w * c + ch;
    float s = 0.0f;
    for (int64_t ih = win.h0; ih < win.h1; ++ih)
      for (int64_t iw = win.w0; iw < win.w1; ++iw) s += load(in, (ih * g.w + iw) * c);
    store(y, o, win.divisor > 0 ? s / static_cast<float>(win.divisor) : 0.0f);
  }
}

// One thread per input element (NHWC order) gathers from every output window that covers it,
// in avg_backward_kernel's order (deterministic without atomics).
template <typename T>
__global__ void avg_backward_nhwc_kernel(const T* dy, T* dx, PoolGeometry g, int64_t c,
                                         bool accumulate) {
  const int64_t total = g.planes * g.h * g.w;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ch = i % c, pos = i / c;
    const int64_t iw = pos % g.w, ih = (pos / g.w) % g.h, img = pos / (g.w * g.h);
    int64_t oh0, oh1, ow0, ow1;
    covering(ih, g.kh, g.sh, g.ph, 1, g.oh, oh0, oh1);
    covering(iw, g.kw, g.sw, g.pw, 1, g.ow, ow0, ow1);
    const T* grad = dy + img * g.oh * g.ow * c + ch;  // output q of this channel at grad[q * c]
    float acc = 0.0f;
    for (int64_t oh = oh0; oh <= oh1; ++oh)
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        const Window win = avg_window(g, oh, ow);
        if (win.divisor > 0 && ih >= win.h0 && ih < win.h1 && iw >= win.w0 && iw < win.w1)
          acc += load(grad, (oh * g.ow + ow) * c) / static_cast<float>(win.divisor);
      }
    store(dx, i, accumulate ? load(dx, i) + acc : acc);
  }
}

// Global average: a block of 32 x kRows threads per unit (image, group of 32 channels),
// grid-stride over units. Thread (tx, ty) sums channel c0 + tx over positions ty, ty + kRows,
// ... in double (each row of the block reads 32 consecutive channels of one position); then
// row 0 adds the kRows partial sums in row order and stores the mean (a fixed order: results
// repeat run to run).
constexpr int kRows = 8;

template <typename T>
__global__ void global_avg_forward_nhwc_kernel(const T* x, T* y, int64_t n, int64_t c,
                                               int64_t hw) {
  __shared__ double part[kRows][32];
  const int64_t groups = (c + 31) / 32;
  for (int64_t u = blockIdx.x; u < n * groups; u += gridDim.x) {
    const int64_t img = u / groups, ch = (u % groups) * 32 + threadIdx.x;
    double s = 0;
    if (ch < c)
      for (int64_t p = threadIdx.y; p < hw; p += kRows) s += load(x, (img * hw + p) * c + ch);
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && ch < c) {
      double t = 0;
      for (int r = 0; r < kRows; ++r) t += part[r][threadIdx.x];
      // As in global_avg_forward_kernel: the double mean is rounded to float, then to T.
      store(y, img * c + ch, static_cast<float>(t / static_cast<double>(hw)));
    }
    __syncthreads();  // the next unit reuses `part`
  }
}

// One thread per input element (NHWC order): dx = (or +=) dy[img, ch] / hw.
template <typename T>
__global__ void global_avg_backward_nhwc_kernel(const T* dy, T* dx, int64_t n, int64_t c,
                                                int64_t hw, bool accumulate) {
  const int64_t total = n * hw * c;
  const float inv = 1.0f / static_cast<float>(hw);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ch = i % c, img = i / (hw * c);
    const float v = load(dy, img * c + ch) * inv;
    store(dx, i, accumulate ? load(dx, i) + v : v);
  }
}

// Floats of shared memory a block of max_backward_nhwc_shared_kernel<T> may use (as
// shared_tile_floats in pool.cu): the device's opt-in limit, raised for the kernel once.
template <typename T>
int64_t nhwc_shared_floats() {
  static const int64_t floats = [] {
    int device = 0, optin = 0;
    TE_CUDA_CHECK(cudaGetDevice(&device));
    TE_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    if (optin < 48 * 1024) optin = 48 * 1024;
    TE_CUDA_CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(&max_backward_nhwc_shared_kernel<T>),
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, optin));
    return static_cast<int64_t>(optin / sizeof(float));
  }();
  return floats;
}

// f32: the scatter kernels write dx directly.
void launch_max_backward_nhwc(const float* dy, const int32_t* argmax, float* dx, int64_t n,
                              int64_t c, int64_t in_hw, int64_t out_hw, bool accumulate,
                              bool deterministic, cudaStream_t s) {
  if (!accumulate) TE_CUDA_CHECK(cudaMemsetAsync(dx, 0, n * in_hw * c * sizeof(float), s));
  if (out_hw == 0) return;
  if (deterministic) {
    TE_LAUNCH(dev::grid_for(n * c, 128), 128, 0, s, max_backward_nhwc_ordered_kernel)(dy, argmax, dx, n,
                                                                              c, in_hw, out_hw);
  } else {
    TE_LAUNCH(dev::grid_for(n * out_hw * c), dev::kThreads, 0, s, max_backward_nhwc_atomic_kernel)(
        dy, argmax, dx, n, c, in_hw, out_hw);
  }
  TE_CUDA_CHECK_LAUNCH("max_backward_nhwc kernel");
}

// bf16/f16: gathered per (image, channel group) in shared memory, one rounding per element.
template <typename T>
void launch_max_backward_nhwc(const T* dy, const int32_t* argmax, T* dx, int64_t n, int64_t c,
                              int64_t in_hw, int64_t out_hw, bool accumulate, bool deterministic,
                              cudaStream_t s) {
  const int64_t cb = c < 32 ? c : 32;
  const int64_t most = nhwc_shared_floats<T>() / cb;  // positions per tile (>= 384)
  const int64_t tile = in_hw < most ? in_hw : most;
  const int64_t units = n * ((c + cb - 1) / cb);
  const unsigned blocks = static_cast<unsigned>(units < 65535 ? units : 65535);
  TE_LAUNCH(blocks, dev::kThreads, tile * cb * sizeof(float), s, max_backward_nhwc_shared_kernel<T>)(
      dy, argmax, dx, n, c, in_hw, out_hw, cb, tile, accumulate, deterministic);
  TE_CUDA_CHECK_LAUNCH("max_backward_nhwc_shared_kernel");
}
}  // namespace

template <typename T>
void max_pool_forward_nhwc(const T* x, T* y, int32_t* argmax, const PoolGeometry& g, int64_t c,
                           cudaStream_t s) {
  const int64_t total = g.planes * g.oh * g.ow;
  if (total == 0) return;
  TE_LAUNCH(dev::grid_for(total), dev::kThreads, 0, s, max_forward_nhwc_kernel<T>)(x, y, argmax, g, c);
  TE_CUDA_CHECK_LAUNCH("max_forward_nhwc_kernel");
}

template <typename T>
void max_pool_backward_nhwc(const T* dy, const int32_t* argmax, T* dx, int64_t n, int64_t c,
                            int64_t in_hw, int64_t out_hw, bool accumulate, bool deterministic,
                            cudaStream_t s) {
  if (n * c * in_hw == 0) return;
  launch_max_backward_nhwc(dy, argmax, dx, n, c, in_hw, out_hw, accumulate, deterministic, s);
}

template <typename T>
void avg_pool_forward_nhwc(const T* x, T* y, const PoolGeometry& g, int64_t c, cudaStream_t s) {
  const int64_t total = g.planes * g.oh * g.ow;
  if (total == 0) return;
  TE_LAUNCH(dev::grid_for(total), dev::kThreads, 0, s, avg_forward_nhwc_kernel<T>)(x, y, g, c);
  TE_CUDA_CHECK_LAUNCH("avg_forward_nhwc_kernel");
}

template <typename T>
void avg_pool_backward_nhwc(const T* dy, T* dx, const PoolGeometry& g, int64_t c,
                            bool accumulate, cudaStream_t s) {
  const int64_t total = g.planes * g.h * g.w;
  if (total == 0) return;
  TE_LAUNCH(dev::grid_for(total), dev::kThreads, 0, s, avg_backward_nhwc_kernel<T>)(dy, dx, g, c,
                                                                          accumulate);
  TE_CUDA_CHECK_LAUNCH("avg_backward_nhwc_kernel");
}

template <typename T>
void global_avg_pool_forward_nhwc(const T* x, T* y, int64_t n, int64_t c, int64_t hw,
                                  cudaStream_t s) {
  const int64_t units = n * ((c + 31) / 32);
  if (units == 0) return;
  const unsigned blocks = static_cast<unsigned>(units < 65535 ? units : 65535);
  TE_LAUNCH(blocks, dim3(32, kRows), 0, s, global_avg_forward_nhwc_kernel<T>)(x, y, n, c, hw);
  TE_CUDA_CHECK_LAUNCH("global_avg_forward_nhwc_kernel");
}

template <typename T>
void global_avg_pool_backward_nhwc(const T* dy, T* dx, int64_t n, int64_t c, int64_t hw,
                                   bool accumulate, cudaStream_t s) {
  if (n * c * hw == 0) return;
  TE_LAUNCH(dev::grid_for(n * hw * c), dev::kThreads, 0, s, global_avg_backward_nhwc_kernel<T>)(
      dy, dx, n, c, hw, accumulate);
  TE_CUDA_CHECK_LAUNCH("global_avg_backward_nhwc_kernel");
}

#define TE_INSTANTIATE(T)                                                                        \
  template void max_pool_forward_nhwc<T>(const T*, T*, int32_t*, const PoolGeometry&, int64_t,  \
                                         cudaStream_t);                                          \
  template void max_pool_backward_nhwc<T>(const T*, const int32_t*, T*, int64_t, int64_t,        \
                                          int64_t, int64_t, bool, bool, cudaStream_t);           \
  template void avg_pool_forward_nhwc<T>(const T*, T*, const PoolGeometry&, int64_t,             \
                                         cudaStream_t);                                          \
  template void avg_pool_backward_nhwc<T>(const T*, T*, const PoolGeometry&, int64_t, bool,      \
                                          cudaStream_t);                                         \
  template void global_avg_pool_forward_nhwc<T>(const T*, T*, int64_t, int64_t, int64_t,         \
                                                cudaStream_t);                                   \
  template void global_avg_pool_backward_nhwc<T>(const T*, T*, int64_t, int64_t, int64_t, bool,  \
                                                 cudaStream_t);
TE_FOR_EACH_STORAGE_TYPE(TE_INSTANTIATE)
#undef TE_INSTANTIATE

}  // namespace te::cuda::launch
