#include "engine/data/resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace te {
namespace {

// For each output coordinate: the first source index and the normalised filter weights.
struct Taps {
  std::vector<int64_t> first;
  std::vector<int64_t> count;
  std::vector<float> weights;  // `max_taps` per output coordinate
  int64_t max_taps = 0;
};

Taps compute_taps(int64_t in_size, double start, double length, int64_t out_size) {
  Taps t;
  const double scale = length / out_size;          // source pixels per output pixel
  const double support = std::max(scale, 1.0);     // triangle half-width in source pixels
  const double inv = 1.0 / std::max(scale, 1.0);
  t.max_taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(static_cast<size_t>(out_size * t.max_taps), 0.0f);
  for (int64_t o = 0; o < out_size; ++o) {
    const double center = start + (o + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(std::floor(center - support + 0.5)), 0);
    const int64_t hi =
        std::min<int64_t>(static_cast<int64_t>(std::floor(center + support + 0.5)), in_size);
    float* w = &t.weights[o * t.max_taps];
    double total = 0;
    int64_t n = 0;
    for (int64_t i = lo; i < hi && n < t.max_taps; ++i, ++n) {
      const double d = std::abs((i - center + 0.5) * inv);
      w[n] = static_cast<float>(d < 1.0 ? 1.0 - d : 0.0);
      total += w[n];
    }
    if (total <= 0) {  // degenerate crop outside the image: take the nearest pixel
      t.first[o] = std::clamp<int64_t>(static_cast<int64_t>(center), 0, in_size - 1);
      t.count[o] = 1;
      w[0] = 1.0f;
      continue;
    }
    for (int64_t k = 0; k < n; ++k) w[k] = static_cast<float>(w[k] / total);
    t.first[o] = lo;
    t.count[o] = n;
  }
  return t;
}

// Gives every output coordinate the same number of taps (zero weights pad the short ones,
// shifted to stay inside the image), so the horizontal pass can use a fixed, unrolled tap
// count. Returns false (taps unchanged) when the image is narrower than that count.
bool equalise_taps(Taps& t, int64_t in_size) {
  int64_t n = 0;
  for (int64_t c : t.count) n = std::max(n, c);
  if (n > in_size || n == 0) return false;
  std::vector<float> w(t.first.size() * n, 0.0f);
  for (size_t o = 0; o < t.first.size(); ++o) {
    const int64_t first = std::min(t.first[o], in_size - n);
    const int64_t shift = t.first[o] - first;
    for (int64_t k = 0; k < t.count[o]; ++k) w[o * n + shift + k] = t.weights[o * t.max_taps + k];
    t.first[o] = first;
    t.count[o] = n;
  }
  t.weights = std::move(w);
  t.max_taps = n;
  return true;
}

// Horizontal pass with a compile-time channel and tap count: fully unrolled inner loops.
template <int C, int T>
void horizontal_row_fixed(const uint8_t* s, const Taps& tx, int64_t out_w, float* d) {
  for (int64_t o = 0; o < out_w; ++o) {
    const float* w = &tx.weights[o * T];
    const uint8_t* p = s + tx.first[o] * C;
    float acc[C] = {};
    for (int k = 0; k < T; ++k)
      for (int c = 0; c < C; ++c) acc[c] += w[k] * static_cast<float>(p[k * C + c]);
    for (int c = 0; c < C; ++c) d[o * C + c] = acc[c];
  }
}

using RowFn = void (*)(const uint8_t*, const Taps&, int64_t, float*);

template <int C>
RowFn fixed_row_fn(int64_t taps) {
  switch (taps) {
    case 1: return horizontal_row_fixed<C, 1>;
    case 2: return horizontal_row_fixed<C, 2>;
    case 3: return horizontal_row_fixed<C, 3>;
    case 4: return horizontal_row_fixed<C, 4>;
    case 5: return horizontal_row_fixed<C, 5>;
    case 6: return horizontal_row_fixed<C, 6>;
    default: return nullptr;
  }
}

}  // namespace

namespace {

// Horizontal pass for one source row; C is the channel count (a template so the per-pixel
// loop is unrolled).
template <int C>
void horizontal_row(const uint8_t* s, const Taps& tx, int64_t out_w, float* d) {
  for (int64_t o = 0; o < out_w; ++o) {
    const float* w = &tx.weights[o * tx.max_taps];
    const uint8_t* p = s + tx.first[o] * C;
    float acc[C] = {};
    for (int64_t k = 0, n = tx.count[o]; k < n; ++k, p += C)
      for (int c = 0; c < C; ++c) acc[c] += w[k] * p[c];
    for (int c = 0; c < C; ++c) d[o * C + c] = acc[c];
  }
}

void horizontal_row_any(const uint8_t* s, const Taps& tx, int64_t out_w, int64_t channels, float* d) {
  for (int64_t o = 0; o < out_w; ++o) {
    const float* w = &tx.weights[o * tx.max_taps];
    const uint8_t* p = s + tx.first[o] * channels;
    for (int64_t c = 0; c < channels; ++c) {
      float acc = 0;
      for (int64_t k = 0; k < tx.count[o]; ++k) acc += w[k] * p[k * channels + c];
      d[o * channels + c] = acc;
    }
  }
}

}  // namespace

void resize_region(const uint8_t* src, int64_t width, int64_t height, int64_t channels,
                   const PixelRect& rect, uint8_t* dst, int64_t out_w, int64_t out_h) {
  Taps tx = compute_taps(width, rect.x, rect.w, out_w);
  RowFn fixed = nullptr;
  if ((channels == 3 || channels == 1) && equalise_taps(tx, width))
    fixed = channels == 3 ? fixed_row_fn<3>(tx.max_taps) : fixed_row_fn<1>(tx.max_taps);
  const Taps ty = compute_taps(height, rect.y, rect.h, out_h);
  // Horizontal pass over only the source rows the vertical taps touch.
  int64_t row_lo = height, row_hi = 0;
  for (int64_t o = 0; o < out_h; ++o) {
    row_lo = std::min(row_lo, ty.first[o]);
    row_hi = std::max(row_hi, ty.first[o] + ty.count[o]);
  }
  const int64_t rows = std::max<int64_t>(row_hi - row_lo, 0);
  const int64_t row_len = out_w * channels;
  std::vector<float> tmp(static_cast<size_t>(rows * row_len));
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = src + (row_lo + r) * width * channels;
    float* d = tmp.data() + r * row_len;
    if (fixed) fixed(s, tx, out_w, d);
    else if (channels == 3) horizontal_row<3>(s, tx, out_w, d);
    else if (channels == 1) horizontal_row<1>(s, tx, out_w, d);
    else horizontal_row_any(s, tx, out_w, channels, d);
  }
  // Vertical pass: whole rows at a time, so the inner loop is contiguous and vectorises.
  std::vector<float> acc(static_cast<size_t>(row_len));
  for (int64_t o = 0; o < out_h; ++o) {
    const float* w = &ty.weights[o * ty.max_taps];
    const float* base = tmp.data() + (ty.first[o] - row_lo) * row_len;
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t k = 0; k < ty.count[o]; ++k) {
      const float wk = w[k];
      const float* r = base + k * row_len;
      for (int64_t i = 0; i < row_len; ++i) acc[i] += wk * r[i];
    }
    uint8_t* d = dst + o * row_len;
    for (int64_t i = 0; i < row_len; ++i)
      d[i] = static_cast<uint8_t>(std::clamp(acc[i] + 0.5f, 0.0f, 255.0f));
  }
}

}  // namespace te
