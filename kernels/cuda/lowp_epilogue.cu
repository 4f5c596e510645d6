// The epilogues of the bf16/f16 convolution and Linear ops (lowp_epilogue.h): bias add, bias
// gradient, and adding a result into an output of another dtype. Every kernel is a template over
// the element types (float, __nv_bfloat16, __half); values are widened to float, combined, and
// rounded once (to nearest-even) when stored. Sums run in double, in a fixed order.
//
// Thread mapping:
//   add_channel_bias: grid.y walks the N*C planes (channel = plane % C), grid.x with the threads
//                     the HW positions of a plane (as channels.cu does for f32).
//   add_row_bias, add_converted: grid-stride loop, one element per thread per step.
//   add_channel_bias_nhwc: the row-bias kernel on [N*H*W, C]: consecutive threads take
//                     consecutive channels of a position (coalesced along C).
//   channel_sums:     one block per channel (grid-stride over channels); the threads stride over
//                     the N*HW values of the channel, then one block reduction.
//   column_sums:      one thread per column walks down the rows (reads of a row are coalesced).
//   channel_sums_nhwc: blocks of 32 x 8 threads; threadIdx.x picks one of 32 consecutive
//                     channels (blockIdx.x the group of 32), so a warp reads 32 adjacent
//                     channels of one position (coalesced); threadIdx.y and blockIdx.y stride
//                     over the N*H*W positions. The 8 rows of a block are summed in shared
//                     memory in a fixed order into one partial per (split, channel); a second
//                     kernel, one thread per channel, adds the partials in split order.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <string>

#include "engine/core/error.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/lowp_epilogue.h"

namespace te::cuda::launch::lowp {
namespace {

__device__ inline float widen(float v) { return v; }
__device__ inline float widen(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ inline float widen(__half v) { return __half2float(v); }

template <typename T> __device__ T narrow(float v);
template <> __device__ inline float narrow<float>(float v) { return v; }
template <> __device__ inline __nv_bfloat16 narrow<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ inline __half narrow<__half>(float v) { return __float2half_rn(v); }

template <typename Y, typename B>
__global__ void add_channel_bias_kernel(Y* y, const B* bias, int64_t n, int64_t c, int64_t hw) {
  for (int64_t plane = blockIdx.y; plane < n * c; plane += gridDim.y) {
    const float b = widen(bias[plane % c]);
    Y* yp = y + plane * hw;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < hw;
         i += int64_t(gridDim.x) * blockDim.x)
      yp[i] = narrow<Y>(widen(yp[i]) + b);
  }
}

template <typename Y, typename B>
__global__ void add_row_bias_kernel(Y* y, const B* bias, int64_t rows, int64_t cols) {
  const int64_t total = rows * cols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = narrow<Y>(widen(y[i]) + widen(bias[i % cols]));
}

template <typename S, typename D>
__global__ void add_converted_kernel(const S* src, D* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = narrow<D>(widen(dst[i]) + widen(src[i]));
}

// out[ch] += sum of dy over (img, pos); the old value and the sum meet in double, then one
// rounding to float (and, for a 16-bit out, one more to its type).
template <typename T, typename O>
__global__ void channel_sums_kernel(const T* dy, int64_t n, int64_t c, int64_t hw, O* out) {
  __shared__ double shared[32];
  const int64_t total = n * hw;
  for (int64_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
    double s = 0;
    for (int64_t m = threadIdx.x; m < total; m += blockDim.x) {
      const int64_t img = m / hw, pos = m - img * hw;
      s += widen(dy[(img * c + ch) * hw + pos]);
    }
    s = dev::block_sum(s, shared);
    if (threadIdx.x == 0) out[ch] = narrow<O>(static_cast<float>(double(widen(out[ch])) + s));
  }
}

constexpr int kNhwcChannels = 32;  // channels per block (threadIdx.x)
constexpr int kNhwcRows = 8;       // positions per block step (threadIdx.y)

// partials[split * c + ch] = sum of dy[m, ch] over the positions m of this split.
template <typename T>
__global__ void channel_partials_nhwc_kernel(const T* dy, int64_t m, int64_t c,
                                             double* partials) {
  __shared__ double rows[kNhwcRows][kNhwcChannels];
  const int64_t ch = blockIdx.x * int64_t(kNhwcChannels) + threadIdx.x;
  double s = 0;
  if (ch < c)
    for (int64_t pos = blockIdx.y * int64_t(kNhwcRows) + threadIdx.y; pos < m;
         pos += int64_t(gridDim.y) * kNhwcRows)
      s += widen(dy[pos * c + ch]);
  rows[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && ch < c) {
    double total = 0;
    for (int r = 0; r < kNhwcRows; ++r) total += rows[r][threadIdx.x];
    partials[blockIdx.y * c + ch] = total;
  }
}

// out[ch] += the partials of ch in split order (same rounding as channel_sums_kernel).
template <typename O>
__global__ void add_channel_partials_nhwc_kernel(const double* partials, int64_t splits,
                                                 int64_t c, O* out) {
  for (int64_t ch = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; ch < c;
       ch += int64_t(gridDim.x) * blockDim.x) {
    double s = 0;
    for (int64_t k = 0; k < splits; ++k) s += partials[k * c + ch];
    out[ch] = narrow<O>(static_cast<float>(double(widen(out[ch])) + s));
  }
}

template <typename T, typename O>
__global__ void column_sums_kernel(const T* x, int64_t rows, int64_t cols, O* out) {
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < cols;
       j += int64_t(gridDim.x) * blockDim.x) {
    double s = 0;
    for (int64_t r = 0; r < rows; ++r) s += widen(x[r * cols + j]);
    out[j] = narrow<O>(static_cast<float>(double(widen(out[j])) + s));
  }
}

template <typename T>
struct Tag {
  using type = T;
};

// Calls f(Tag<element type of t>{}) for F32, BF16 and F16; throws for any other dtype.
template <typename F>
void with_type(DType t, const char* launcher, const char* what, F&& f) {
  switch (t) {
    case DType::F32: f(Tag<float>{}); return;
    case DType::BF16: f(Tag<__nv_bfloat16>{}); return;
    case DType::F16: f(Tag<__half>{}); return;
    default:
      throw Error(std::string(launcher) + ": " + what + " is " + dtype_name(t) +
                  "; expected f32, bf16 or f16");
  }
}

dim3 plane_grid(int64_t n, int64_t c, int64_t hw) {
  const int64_t planes = n * c;
  unsigned gx = dev::grid_for(hw);
  if (gx > 32) gx = 32;
  return dim3(gx, static_cast<unsigned>(planes < 65535 ? planes : 65535));
}

unsigned channel_blocks(int64_t c) { return static_cast<unsigned>(c < 65535 ? c : 65535); }

}  // namespace

void add_channel_bias(void* y, DType y_type, const void* bias, DType bias_type, int64_t n,
                      int64_t c, int64_t hw, cudaStream_t s) {
  const char* name = "lowp::add_channel_bias";
  with_type(y_type, name, "y", [&](auto yt) {
    with_type(bias_type, name, "bias", [&](auto bt) {
      using Y = typename decltype(yt)::type;
      using B = typename decltype(bt)::type;
      if (n * c * hw == 0) return;
      TE_LAUNCH(plane_grid(n, c, hw), dev::kThreads, 0, s, add_channel_bias_kernel<Y, B>)(
          static_cast<Y*>(y), static_cast<const B*>(bias), n, c, hw);
      TE_CUDA_CHECK_LAUNCH("lowp::add_channel_bias_kernel");
    });
  });
}

void add_row_bias(void* y, DType y_type, const void* bias, DType bias_type, int64_t rows,
                  int64_t cols, cudaStream_t s) {
  const char* name = "lowp::add_row_bias";
  with_type(y_type, name, "y", [&](auto yt) {
    with_type(bias_type, name, "bias", [&](auto bt) {
      using Y = typename decltype(yt)::type;
      using B = typename decltype(bt)::type;
      if (rows * cols == 0) return;
      TE_LAUNCH(dev::grid_for(rows * cols), dev::kThreads, 0, s, add_row_bias_kernel<Y, B>)(
          static_cast<Y*>(y), static_cast<const B*>(bias), rows, cols);
      TE_CUDA_CHECK_LAUNCH("lowp::add_row_bias_kernel");
    });
  });
}

void add_channel_sums(const void* dy, DType dy_type, int64_t n, int64_t c, int64_t hw, void* out,
                      DType out_type, cudaStream_t s) {
  const char* name = "lowp::add_channel_sums";
  with_type(dy_type, name, "dy", [&](auto dt) {
    with_type(out_type, name, "out", [&](auto ot) {
      using T = typename decltype(dt)::type;
      using O = typename decltype(ot)::type;
      if (c == 0 || n * hw == 0) return;
      TE_LAUNCH(channel_blocks(c), dev::kThreads, 0, s, channel_sums_kernel<T, O>)(
          static_cast<const T*>(dy), n, c, hw, static_cast<O*>(out));
      TE_CUDA_CHECK_LAUNCH("lowp::channel_sums_kernel");
    });
  });
}

void add_channel_bias_nhwc(void* y, DType y_type, const void* bias, DType bias_type, int64_t m,
                           int64_t c, cudaStream_t s) {
  const char* name = "lowp::add_channel_bias_nhwc";
  with_type(y_type, name, "y", [&](auto yt) {
    with_type(bias_type, name, "bias", [&](auto bt) {
      using Y = typename decltype(yt)::type;
      using B = typename decltype(bt)::type;
      if (m * c == 0) return;
      // In NHWC memory the bias add is a row-bias add over [N*H*W, C].
      TE_LAUNCH(dev::grid_for(m * c), dev::kThreads, 0, s, add_row_bias_kernel<Y, B>)(
          static_cast<Y*>(y), static_cast<const B*>(bias), m, c);
      TE_CUDA_CHECK_LAUNCH("lowp::add_row_bias_kernel (NHWC channel bias)");
    });
  });
}

// Splits over the positions: about 512 positions per split (64 steps of a block's 8 rows),
// at most 256 splits. It depends only on the shape, so the summation order, and with it the
// result, is the same on every device.
int64_t channel_sums_nhwc_splits(int64_t m, int64_t c) {
  const int64_t per_split = int64_t(kNhwcRows) * 64;
  int64_t splits = (m + per_split - 1) / per_split;
  if (splits > 256) splits = 256;
  return splits < 1 ? 1 : splits;
}

void add_channel_sums_nhwc(const void* dy, DType dy_type, int64_t m, int64_t c, double* partials,
                           void* out, DType out_type, cudaStream_t s) {
  const char* name = "lowp::add_channel_sums_nhwc";
  with_type(dy_type, name, "dy", [&](auto dt) {
    with_type(out_type, name, "out", [&](auto ot) {
      using T = typename decltype(dt)::type;
      using O = typename decltype(ot)::type;
      if (c == 0 || m == 0) return;
      const int64_t splits = channel_sums_nhwc_splits(m, c);
      const dim3 block(kNhwcChannels, kNhwcRows);
      const dim3 grid(static_cast<unsigned>((c + kNhwcChannels - 1) / kNhwcChannels),
                      static_cast<unsigned>(splits));
      TE_LAUNCH(grid, block, 0, s, channel_partials_nhwc_kernel<T>)(static_cast<const T*>(dy), m, c,
                                                            partials);
      TE_CUDA_CHECK_LAUNCH("lowp::channel_partials_nhwc_kernel");
      TE_LAUNCH(dev::grid_for(c), dev::kThreads, 0, s, add_channel_partials_nhwc_kernel<O>)(
          partials, splits, c, static_cast<O*>(out));
      TE_CUDA_CHECK_LAUNCH("lowp::add_channel_partials_nhwc_kernel");
    });
  });
}

void add_column_sums(const void* x, DType x_type, int64_t rows, int64_t cols, void* out,
                     DType out_type, cudaStream_t s) {
  const char* name = "lowp::add_column_sums";
  with_type(x_type, name, "x", [&](auto xt) {
    with_type(out_type, name, "out", [&](auto ot) {
      using T = typename decltype(xt)::type;
      using O = typename decltype(ot)::type;
      if (cols == 0 || rows == 0) return;
      TE_LAUNCH(dev::grid_for(cols), dev::kThreads, 0, s, column_sums_kernel<T, O>)(
          static_cast<const T*>(x), rows, cols, static_cast<O*>(out));
      TE_CUDA_CHECK_LAUNCH("lowp::column_sums_kernel");
    });
  });
}

void add_converted(const void* src, DType src_type, void* dst, DType dst_type, int64_t n,
                   cudaStream_t s) {
  const char* name = "lowp::add_converted";
  with_type(src_type, name, "src", [&](auto st) {
    with_type(dst_type, name, "dst", [&](auto dt) {
      using S = typename decltype(st)::type;
      using D = typename decltype(dt)::type;
      if (n == 0) return;
      TE_LAUNCH(dev::grid_for(n), dev::kThreads, 0, s, add_converted_kernel<S, D>)(
          static_cast<const S*>(src), static_cast<D*>(dst), n);
      TE_CUDA_CHECK_LAUNCH("lowp::add_converted_kernel");
    });
  });
}

}  // namespace te::cuda::launch::lowp
