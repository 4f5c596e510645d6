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

}  // namespace

void resize_region(const uint8_t* src, int64_t width, int64_t height, int64_t channels,
                   const PixelRect& rect, uint8_t* dst, int64_t out_w, int64_t out_h) {
  const Taps tx = compute_taps(width, rect.x, rect.w, out_w);
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
  for (int64_t o = 0; o < out_h; ++o) {
    const float* w = &ty.weights[o * ty.max_taps];
    const float* base = tmp.data() + (ty.first[o] - row_lo) * row_len;
    uint8_t* d = dst + o * row_len;
    for (int64_t i = 0; i < row_len; ++i) {
      float acc = 0;
      for (int64_t k = 0; k < ty.count[o]; ++k) acc += w[k] * base[k * row_len + i];
      d[i] = static_cast<uint8_t>(std::clamp(acc + 0.5f, 0.0f, 255.0f));
    }
  }
}

}  // namespace te
