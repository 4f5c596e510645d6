#pragma once
// The work plan shared by the CPU convolution paths (kernels/cpu/conv2d.cpp: im2col + GEMM;
// conv2d_taps.cpp: one GEMM per kernel tap): shapes, chunking of the batch and parallel slots.
// Every split here depends on the shapes only, never on the thread count.
#include <algorithm>
#include <string>

#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "kernels/conv2d.h"
#include "kernels/cpu/im2col.h"

namespace te::ops::cpu::conv_detail {

struct Plan {
  int64_t n, c, o;         // batch, input channels, output channels
  int64_t hw;              // input pixels per channel
  int64_t p;               // output positions per image (OH * OW)
  int64_t groups, og, kg;  // per group: output channels, GEMM depth (C/G * kh * kw)
  int64_t k;               // rows of the column matrix (C * kh * kw)
  bool pointwise;          // 1x1, stride 1, no padding: the image is its own column matrix
  ConvGeometry geo;
};

inline Plan make_plan(const Shape& x, const Shape& w, const Conv2dParams& prm) {
  if (x.rank() != 4 || w.rank() != 4)
    throw ShapeError("conv2d: expected input [N, C, H, W] and weight [O, C/groups, kh, kw], got " +
                     x.str() + " and " + w.str());
  Plan pl{};
  pl.n = x[0];
  pl.c = x[1];
  pl.o = w[0];
  pl.groups = prm.groups;
  if (pl.groups <= 0 || pl.c != w[1] * pl.groups || pl.o % pl.groups != 0 || w[2] != prm.kernel_h ||
      w[3] != prm.kernel_w)
    throw ShapeError("conv2d: input " + x.str() + " does not fit weight " + w.str() + " with " +
                     std::to_string(prm.groups) + " groups and kernel " +
                     std::to_string(prm.kernel_h) + "x" + std::to_string(prm.kernel_w));
  pl.geo =
      ConvGeometry{pl.c,
                   x[2],
                   x[3],
                   prm.kernel_h,
                   prm.kernel_w,
                   prm.stride_h,
                   prm.stride_w,
                   prm.pad_h,
                   prm.pad_w,
                   prm.dilation_h,
                   prm.dilation_w,
                   conv_output_size(x[2], prm.kernel_h, prm.stride_h, prm.pad_h, prm.dilation_h),
                   conv_output_size(x[3], prm.kernel_w, prm.stride_w, prm.pad_w, prm.dilation_w)};
  if (pl.geo.out_h <= 0 || pl.geo.out_w <= 0)
    throw ShapeError("conv2d: the kernel does not fit input " + x.str());
  pl.hw = x[2] * x[3];
  pl.p = pl.geo.out_h * pl.geo.out_w;
  pl.og = pl.o / pl.groups;
  pl.kg = w[1] * prm.kernel_h * prm.kernel_w;
  pl.k = pl.kg * pl.groups;
  pl.pointwise = prm.kernel_h == 1 && prm.kernel_w == 1 && prm.stride_h == 1 && prm.stride_w == 1 &&
                 prm.pad_h == 0 && prm.pad_w == 0;
  return pl;
}

inline void require_shape(const Tensor& t, const Shape& want, const char* what) {
  if (t.shape() != want)
    throw ShapeError(std::string("conv2d: ") + what + " has shape " + t.shape().str() +
                     ", expected " + want.str());
}

// Images per chunk for forward and input gradient: one when an image has enough output
// positions for a well-shaped GEMM, otherwise a few side by side, keeping >= ~4 chunks.
inline int64_t images_per_chunk(int64_t n, int64_t p) {
  constexpr int64_t kTargetColumns = 256;
  if (p >= kTargetColumns) return 1;
  return std::clamp((kTargetColumns + p - 1) / p, int64_t{1}, std::max<int64_t>(1, n / 4));
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

inline int64_t slot_count(int64_t items) {
  return std::clamp<int64_t>(num_threads(), 1, std::max<int64_t>(1, items));
}

// Runs task(slot, item) for items [0, count): slot s takes items s, s + slots, ...
template <typename F>
void run_slots(int64_t slots, int64_t count, const F& task) {
  parallel_for(slots, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s)
      for (int64_t i = s; i < count; i += slots) task(s, i);
  });
}

// dst[o * ld + i * p + q] = dy[(n0 + i), o0 + o, q]: dy of several images side by side.
template <typename T>
void gather_images(const T* dy, int64_t o_total, int64_t o0, int64_t rows, int64_t p, int64_t n0,
                   int64_t imgs, T* dst, int64_t ld) {
  for (int64_t o = 0; o < rows; ++o)
    for (int64_t i = 0; i < imgs; ++i)
      std::copy_n(dy + ((n0 + i) * o_total + o0 + o) * p, p, dst + o * ld + i * p);
}

}  // namespace te::ops::cpu::conv_detail
