#pragma once
// Window arithmetic shared by the pooling kernels of both layouts (pool.cu: NCHW,
// pool_nhwc.cu: NHWC), so the two scan the same windows in the same order and agree bit for
// bit on max, argmax and the float sums of average pooling. C++17 (included by .cu files).
#include <cstdint>

#include "kernels/cuda/launchers.h"

namespace te::cuda::launch::pool_detail {

__device__ inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

// Outputs along one axis whose window (start o*s - p, extent (k-1)*d + 1) can contain i.
__device__ inline void covering(int64_t i, int64_t k, int64_t s, int64_t p, int64_t d,
                                int64_t out, int64_t& first, int64_t& last) {
  const int64_t span = (k - 1) * d + 1;
  const int64_t lo = i + p - span + 1;  // smallest window start that still reaches i
  first = lo <= 0 ? 0 : (lo + s - 1) / s;
  last = imin((i + p) / s, out - 1);
}

// The inside part [h0, h1) x [w0, w1) of an average-pooling window and its divisor.
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

// The dilated max-pooling window of output (oh, ow): rows h0, h0 + dh, ... < h1 and columns
// w0, w0 + dw, ... < w1, clipped to the input (padding never takes part).
struct MaxWindow {
  int64_t h0, h1, w0, w1;
};

__device__ inline MaxWindow max_window(const PoolGeometry& g, int64_t oh, int64_t ow) {
  int64_t h0 = oh * g.sh - g.ph;
  const int64_t h1 = imin(h0 + (g.kh - 1) * g.dh + 1, g.h);
  while (h0 < 0) h0 += g.dh;
  int64_t w0 = ow * g.sw - g.pw;
  const int64_t w1 = imin(w0 + (g.kw - 1) * g.dw + 1, g.w);
  while (w0 < 0) w0 += g.dw;
  return {h0, h1, w0, w1};
}

}  // namespace te::cuda::launch::pool_detail
