// The per-tap convolution scheme; kernels/cpu/conv2d_taps.h explains it.
#include "kernels/cpu/conv2d_taps.h"

#include <algorithm>
#include <vector>

#include "kernels/gemm.h"

namespace te::ops::cpu::conv_detail {
namespace {

// A zero-padded stack of planes: rows x cols each, plus `slack` zeros after the last plane
// (the taps of the last computed columns read a few elements past the end).
struct Padded {
  int64_t rows, cols, top, left, slack;
  int64_t plane() const { return rows * cols; }
  int64_t size(int64_t planes) const { return planes * plane() + slack; }
};

// dst = src planes [planes, h, w] placed at (top, left) inside zeros. Only the border is
// zeroed (the interior is overwritten anyway): one write per element instead of two.
template <typename T>
void pad_planes(const T* src, int64_t planes, int64_t h, int64_t w, const Padded& pd, T* dst) {
  const int64_t right = pd.cols - pd.left - w, bottom = pd.rows - pd.top - h;
  for (int64_t c = 0; c < planes; ++c) {
    T* plane = dst + c * pd.plane();
    std::fill(plane, plane + pd.top * pd.cols, T(0));
    for (int64_t r = 0; r < h; ++r) {
      T* row = plane + (pd.top + r) * pd.cols;
      std::fill(row, row + pd.left, T(0));
      std::copy_n(src + (c * h + r) * w, w, row + pd.left);
      std::fill(row + pd.left + w, row + pd.left + w + right, T(0));
    }
    T* tail = plane + (pd.top + h) * pd.cols;
    std::fill(tail, tail + bottom * pd.cols, T(0));
  }
  std::fill(dst + planes * pd.plane(), dst + pd.size(planes), T(0));
}

// Where kernel tap t reads in a padded plane: the offset of its (row, column) shift.
int64_t tap_shift(const ConvGeometry& g, const Padded& pd, int64_t t) {
  return (t / g.kernel_w) * g.dilation_h * pd.cols + (t % g.kernel_w) * g.dilation_w;
}

// wt[tap][O][C] = w[O][C][tap]: one contiguous [O, C] matrix per tap.
template <typename T>
T* weight_taps(const T* w, const Plan& pl, Conv2dWorkspace& ws) {
  const int64_t taps = pl.geo.kernel_h * pl.geo.kernel_w;
  T* wt = ws.cpu_shared<T>(static_cast<size_t>(taps * pl.o * pl.c));
  for (int64_t o = 0; o < pl.o; ++o)
    for (int64_t c = 0; c < pl.c; ++c)
      for (int64_t t = 0; t < taps; ++t)
        wt[(t * pl.o + o) * pl.c + c] = w[(o * pl.c + c) * taps + t];
  return wt;
}

// The padded input of forward and weight gradient.
Padded input_padding(const Plan& pl) {
  const ConvGeometry& g = pl.geo;
  return {g.height + 2 * g.pad_h, g.width + 2 * g.pad_w, g.pad_h, g.pad_w,
          (g.kernel_w - 1) * g.dilation_w};
}

// The padded output gradient of the input gradient (a "full" correlation).
Padded grad_padding(const Plan& pl) {
  const ConvGeometry& g = pl.geo;
  const int64_t reach_h = (g.kernel_h - 1) * g.dilation_h,
                reach_w = (g.kernel_w - 1) * g.dilation_w;
  return {g.height + reach_h, g.width + reach_w, reach_h - g.pad_h, reach_w - g.pad_w, reach_w};
}

}  // namespace

constexpr int64_t kMinTapChannels = 8;

bool taps_suit(const Plan& pl, ConvPass pass) {
  const ConvGeometry& g = pl.geo;
  if (pl.groups != 1 || g.stride_h != 1 || g.stride_w != 1 || pl.pointwise) return false;
  const int64_t padded_w = g.width + 2 * g.pad_w;
  if (g.out_h * padded_w < 128 || g.out_w * 5 < padded_w * 4) return false;
  // Forward and weight gradient: a tap's GEMM is C deep (forward) or C wide (weight
  // gradient); with only a few input channels (a network's first layer) one im2col GEMM of
  // depth C*kh*kw measured ~2x faster.
  if (pass != ConvPass::InputGrad && pl.c < kMinTapChannels) return false;
  if (pass == ConvPass::WeightGrad) return pl.o * pl.kg <= pl.k * pl.p;
  if (pass == ConvPass::Forward) return true;
  const int64_t reach_w = (g.kernel_w - 1) * g.dilation_w;
  return g.pad_h <= (g.kernel_h - 1) * g.dilation_h && g.pad_w <= reach_w &&
         g.height * (g.width + reach_w) >= 128 && g.width * 5 >= (g.width + reach_w) * 4;
}

template <typename T>
void taps_forward(const T* x, const T* w, const T* bias, T* y, const Plan& pl,
                  Conv2dWorkspace& ws) {
  const ConvGeometry& g = pl.geo;
  const Padded pd = input_padding(pl);
  const int64_t taps = g.kernel_h * g.kernel_w, cols = g.out_h * pd.cols;
  const T* wt = weight_taps(w, pl, ws);
  const int64_t slots = slot_count(pl.n);
  ws.prepare_cpu(static_cast<size_t>(slots),
                 sizeof(T) * static_cast<size_t>(pd.size(pl.c) + pl.o * cols));
  run_slots(slots, pl.n, [&](int64_t slot, int64_t n) {
    T* xpad = ws.cpu_slot<T>(static_cast<size_t>(slot));
    T* out = xpad + pd.size(pl.c);
    pad_planes(x + n * pl.c * pl.hw, pl.c, g.height, g.width, pd, xpad);
    for (int64_t t = 0; t < taps; ++t) {
      const int64_t shift = tap_shift(g, pd, t);
      gemm<T>(false, false, pl.o, cols, pl.c, T(1), wt + t * pl.o * pl.c, pl.c, xpad + shift,
              pd.plane(), t ? T(1) : T(0), out, cols);
    }
    for (int64_t o = 0; o < pl.o; ++o) {
      const T b = bias ? bias[o] : T(0);
      for (int64_t r = 0; r < g.out_h; ++r) {
        const T* src = out + o * cols + r * pd.cols;
        T* dst = y + ((n * pl.o + o) * g.out_h + r) * g.out_w;
        for (int64_t q = 0; q < g.out_w; ++q) dst[q] = src[q] + b;
      }
    }
  });
}

template <typename T>
void taps_backward_input(const T* dy, const T* w, T* dx, bool accumulate, const Plan& pl,
                         Conv2dWorkspace& ws) {
  const ConvGeometry& g = pl.geo;
  const Padded pd = grad_padding(pl);
  const int64_t taps = g.kernel_h * g.kernel_w, cols = g.height * pd.cols;
  const T* wt = weight_taps(w, pl, ws);
  const int64_t slots = slot_count(pl.n);
  ws.prepare_cpu(static_cast<size_t>(slots),
                 sizeof(T) * static_cast<size_t>(pd.size(pl.o) + pl.c * cols));
  run_slots(slots, pl.n, [&](int64_t slot, int64_t n) {
    T* dypad = ws.cpu_slot<T>(static_cast<size_t>(slot));
    T* grad = dypad + pd.size(pl.o);
    pad_planes(dy + n * pl.o * pl.p, pl.o, g.out_h, g.out_w, pd, dypad);
    // dx[c, h, w] = sum of W[o, c, kh-1-i, kw-1-j] * dypad[o, h + i*dh, w + j*dw]: tap t of
    // the padded gradient meets the flipped weight tap (taps - 1 - t), transposed to [C, O].
    for (int64_t t = 0; t < taps; ++t) {
      const int64_t shift = tap_shift(g, pd, t);
      gemm<T>(true, false, pl.c, cols, pl.o, T(1), wt + (taps - 1 - t) * pl.o * pl.c, pl.c,
              dypad + shift, pd.plane(), t ? T(1) : T(0), grad, cols);
    }
    for (int64_t c = 0; c < pl.c; ++c)
      for (int64_t r = 0; r < g.height; ++r) {
        const T* src = grad + c * cols + r * pd.cols;
        T* dst = dx + ((n * pl.c + c) * g.height + r) * g.width;
        if (accumulate)
          for (int64_t q = 0; q < g.width; ++q) dst[q] += src[q];
        else
          std::copy_n(src, g.width, dst);
      }
  });
}

// Images are split into a fixed number of chunks (a function of the batch size only, so the
// sums do not depend on the thread count); each chunk accumulates its images' per-tap
// gradients in image order into one partial [taps][O][C], and the partials are summed in
// chunk order. Fewer partials than images keep that final pass short.
inline int64_t weight_grad_chunks(int64_t n) { return std::min<int64_t>(n, 16); }

template <typename T>
void taps_weight_grad(const T* x, const T* dy, T* dw, const Plan& pl, Conv2dWorkspace& ws) {
  const ConvGeometry& g = pl.geo;
  const Padded pd = input_padding(pl);
  const int64_t taps = g.kernel_h * g.kernel_w, cols = g.out_h * pd.cols, tap_size = pl.o * pl.c;
  const int64_t chunks = weight_grad_chunks(pl.n), slots = slot_count(chunks);
  ws.prepare_cpu(static_cast<size_t>(slots),
                 sizeof(T) * static_cast<size_t>(pd.size(pl.c) + pl.o * cols));
  T* partials = ws.cpu_shared<T>(static_cast<size_t>(chunks * taps * tap_size));
  run_slots(slots, chunks, [&](int64_t slot, int64_t chunk) {
    T* xpad = ws.cpu_slot<T>(static_cast<size_t>(slot));
    T* grad = xpad + pd.size(pl.c);  // dy over the padded width, zero in the dropped columns
    T* part = partials + chunk * taps * tap_size;
    const int64_t n0 = pl.n * chunk / chunks, n1 = pl.n * (chunk + 1) / chunks;
    for (int64_t n = n0; n < n1; ++n) {
      pad_planes(x + n * pl.c * pl.hw, pl.c, g.height, g.width, pd, xpad);
      for (int64_t o = 0; o < pl.o; ++o)
        for (int64_t r = 0; r < g.out_h; ++r) {
          T* dst = grad + o * cols + r * pd.cols;
          std::copy_n(dy + ((n * pl.o + o) * g.out_h + r) * g.out_w, g.out_w, dst);
          std::fill(dst + g.out_w, dst + pd.cols, T(0));
        }
      for (int64_t t = 0; t < taps; ++t) {
        const int64_t shift = tap_shift(g, pd, t);
        gemm<T>(false, true, pl.o, pl.c, cols, T(1), grad, cols, xpad + shift, pd.plane(),
                n > n0 ? T(1) : T(0), part + t * tap_size, pl.c);
      }
    }
  });
  // dw[o, c, t] += sum over chunks, in chunk order; rows of C contiguous in every partial.
  parallel_for(pl.o, [&](int64_t begin, int64_t end) {
    std::vector<T> row(static_cast<size_t>(pl.c));
    for (int64_t o = begin; o < end; ++o)
      for (int64_t t = 0; t < taps; ++t) {
        const T* p0 = partials + t * tap_size + o * pl.c;
        std::copy_n(p0, pl.c, row.data());
        for (int64_t k = 1; k < chunks; ++k) {
          const T* pk = p0 + k * taps * tap_size;
          for (int64_t c = 0; c < pl.c; ++c) row[c] += pk[c];
        }
        for (int64_t c = 0; c < pl.c; ++c) dw[(o * pl.c + c) * taps + t] += row[c];
      }
  });
}

#define TE_TAPS_INSTANTIATE(T)                                                                    \
  template void taps_forward<T>(const T*, const T*, const T*, T*, const Plan&, Conv2dWorkspace&); \
  template void taps_backward_input<T>(const T*, const T*, T*, bool, const Plan&,                 \
                                       Conv2dWorkspace&);                                         \
  template void taps_weight_grad<T>(const T*, const T*, T*, const Plan&, Conv2dWorkspace&);
TE_TAPS_INSTANTIATE(float)
TE_TAPS_INSTANTIATE(double)
#undef TE_TAPS_INSTANTIATE

}  // namespace te::ops::cpu::conv_detail
