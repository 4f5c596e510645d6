#pragma once
// im2col / col2im for one image (CPU, float and double). The column matrix of an image has
// one row per (channel c, kernel row i, kernel column j), k = (c * kh + i) * kw + j, and one
// column per output position p = oh * OW + ow; entry (k, p) is the input pixel that kernel tap
// (i, j) of channel c sees at output p, or 0 in the padding. A convolution is then
// W[O, C*kh*kw] x cols[C*kh*kw, OH*OW]. Both functions work on a range of rows so callers can
// build only the rows one group or one block needs.
#include <cstdint>

namespace te::ops::cpu {

struct ConvGeometry {
  int64_t channels, height, width;  // one input image [C, H, W]
  int64_t kernel_h, kernel_w;
  int64_t stride_h, stride_w;
  int64_t pad_h, pad_w;
  int64_t dilation_h, dilation_w;
  int64_t out_h, out_w;
};

// dst[(k - k0) * ld + p] = cols(k, p) for k in [k0, k1), p in [0, OH*OW).
template <typename T>
void im2col_rows(const T* x, const ConvGeometry& g, int64_t k0, int64_t k1, T* dst, int64_t ld);

// dx[c, ih, iw] += cols(k, p) summed over every (k, p) that reads that pixel, for k in [k0, k1);
// cols row k is at src + (k - k0) * ld.
template <typename T>
void col2im_rows_add(const T* src, int64_t ld, const ConvGeometry& g, int64_t k0, int64_t k1,
                     T* dx);

}  // namespace te::ops::cpu
