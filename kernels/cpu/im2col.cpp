#include "kernels/cpu/im2col.h"

#include <algorithm>
#include <cstring>

namespace te::ops::cpu {
namespace {

// Output columns [lo, hi) whose input column ow * stride + offset lies inside [0, width):
// the rest of the row is padding. Computing the range once per row keeps the inner loops free
// of bounds checks (and contiguous for stride 1).
struct ValidRange {
  int64_t lo, hi;
};

ValidRange valid_columns(int64_t offset, int64_t stride, int64_t width, int64_t out_w) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = (width - 1 - offset) < 0 ? 0 : (width - 1 - offset) / stride + 1;
  lo = std::min(lo, out_w);
  hi = std::max(lo, std::min(hi, out_w));
  return {lo, hi};
}

}  // namespace

template <typename T>
void im2col_rows(const T* x, const ConvGeometry& g, int64_t k0, int64_t k1, T* dst, int64_t ld) {
  const int64_t taps = g.kernel_h * g.kernel_w;
  for (int64_t k = k0; k < k1; ++k) {
    const int64_t c = k / taps, i = (k % taps) / g.kernel_w, j = k % g.kernel_w;
    const T* plane = x + c * g.height * g.width;
    const int64_t col_offset = j * g.dilation_w - g.pad_w;
    const ValidRange r = valid_columns(col_offset, g.stride_w, g.width, g.out_w);
    T* row = dst + (k - k0) * ld;
    for (int64_t oh = 0; oh < g.out_h; ++oh, row += g.out_w) {
      const int64_t ih = oh * g.stride_h - g.pad_h + i * g.dilation_h;
      if (ih < 0 || ih >= g.height) {
        std::fill(row, row + g.out_w, T(0));
        continue;
      }
      const T* in = plane + ih * g.width;
      std::fill(row, row + r.lo, T(0));
      if (g.stride_w == 1) {
        std::memcpy(row + r.lo, in + r.lo + col_offset,
                    static_cast<size_t>(r.hi - r.lo) * sizeof(T));
      } else if (g.stride_w == 2) {  // a constant stride lets the compiler vectorise the gather
        const T* src = in + col_offset;
        for (int64_t ow = r.lo; ow < r.hi; ++ow) row[ow] = src[2 * ow];
      } else {
        for (int64_t ow = r.lo; ow < r.hi; ++ow) row[ow] = in[ow * g.stride_w + col_offset];
      }
      std::fill(row + r.hi, row + g.out_w, T(0));
    }
  }
}

template <typename T>
void col2im_rows_add(const T* src, int64_t ld, const ConvGeometry& g, int64_t k0, int64_t k1,
                     T* dx) {
  const int64_t taps = g.kernel_h * g.kernel_w;
  for (int64_t k = k0; k < k1; ++k) {
    const int64_t c = k / taps, i = (k % taps) / g.kernel_w, j = k % g.kernel_w;
    T* plane = dx + c * g.height * g.width;
    const int64_t col_offset = j * g.dilation_w - g.pad_w;
    const ValidRange r = valid_columns(col_offset, g.stride_w, g.width, g.out_w);
    const T* row = src + (k - k0) * ld;
    for (int64_t oh = 0; oh < g.out_h; ++oh, row += g.out_w) {
      const int64_t ih = oh * g.stride_h - g.pad_h + i * g.dilation_h;
      if (ih < 0 || ih >= g.height) continue;
      T* out = plane + ih * g.width;
      for (int64_t ow = r.lo; ow < r.hi; ++ow) out[ow * g.stride_w + col_offset] += row[ow];
    }
  }
}

template void im2col_rows<float>(const float*, const ConvGeometry&, int64_t, int64_t, float*,
                                 int64_t);
template void im2col_rows<double>(const double*, const ConvGeometry&, int64_t, int64_t, double*,
                                  int64_t);
template void col2im_rows_add<float>(const float*, int64_t, const ConvGeometry&, int64_t, int64_t,
                                     float*);
template void col2im_rows_add<double>(const double*, int64_t, const ConvGeometry&, int64_t, int64_t,
                                      double*);

}  // namespace te::ops::cpu
