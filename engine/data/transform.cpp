#include "engine/data/transform.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "engine/data/resize.h"

namespace te {

namespace {
// Streams of the data pipeline's counter-based generator (distinct from the shuffle stream).
constexpr uint64_t kAugmentStream = 0x41554700000000ull;  // "AUG"

PixelRect center_crop(int64_t width, int64_t height, double ratio) {
  const double side = ratio * static_cast<double>(std::min(width, height));
  return {(width - side) / 2.0, (height - side) / 2.0, side, side};
}
}  // namespace

CounterRng sample_rng(uint64_t seed, int64_t epoch, int64_t sample_index) {
  return CounterRng(seed, kAugmentStream + static_cast<uint64_t>(epoch),
                    static_cast<uint64_t>(sample_index));
}

Transform::Transform(TransformConfig config) : config_(std::move(config)) {
  if (config_.image_size <= 0)
    throw ConfigError("transform: image_size must be positive, got " +
                      std::to_string(config_.image_size));
  if (config_.channels != 1 && config_.channels != 3)
    throw ConfigError("transform: channels must be 1 or 3, got " + std::to_string(config_.channels));
  const AugmentConfig& a = config_.augment;
  if (!(a.scale_min > 0 && a.scale_min <= a.scale_max && a.scale_max <= 1.0))
    throw ConfigError("transform: need 0 < scale_min <= scale_max <= 1 for random-resized-crop");
  if (!(a.ratio_min > 0 && a.ratio_min <= a.ratio_max))
    throw ConfigError("transform: need 0 < ratio_min <= ratio_max for random-resized-crop");
  if (!(config_.resize_ratio > 0 && config_.resize_ratio <= 1.0))
    throw ConfigError("transform: resize_ratio must be in (0, 1]");
  if (a.pad_crop < 0) throw ConfigError("transform: pad_crop must be >= 0");
}

int64_t Transform::output_bytes() const {
  return config_.image_size * config_.image_size * config_.channels;
}

PixelRect Transform::plan_crop(int64_t width, int64_t height, CounterRng& rng) const {
  const AugmentConfig& a = config_.augment;
  if (!config_.train) return center_crop(width, height, config_.resize_ratio);
  if (a.pad_crop > 0)
    return {0, 0, static_cast<double>(width), static_cast<double>(height)};
  if (!a.random_resized_crop) return center_crop(width, height, config_.resize_ratio);
  // torchvision.transforms.RandomResizedCrop.get_params, with integer crop sizes.
  const double area = static_cast<double>(width) * height;
  const double log_lo = std::log(a.ratio_min), log_hi = std::log(a.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * rng.uniform(static_cast<float>(a.scale_min),
                                             static_cast<float>(a.scale_max));
    const double ratio = std::exp(rng.uniform(static_cast<float>(log_lo), static_cast<float>(log_hi)));
    const int64_t w = std::llround(std::sqrt(target * ratio));
    const int64_t h = std::llround(std::sqrt(target / ratio));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      const int64_t x = rng.below(static_cast<uint32_t>(width - w + 1));
      const int64_t y = rng.below(static_cast<uint32_t>(height - h + 1));
      return {static_cast<double>(x), static_cast<double>(y), static_cast<double>(w),
              static_cast<double>(h)};
    }
  }
  // Fallback: the largest centred crop whose aspect ratio is within range.
  const double in_ratio = static_cast<double>(width) / height;
  double w = static_cast<double>(width), h = static_cast<double>(height);
  if (in_ratio < a.ratio_min) h = std::round(w / a.ratio_min);
  else if (in_ratio > a.ratio_max) w = std::round(h * a.ratio_max);
  return {std::floor((width - w) / 2), std::floor((height - h) / 2), w, h};
}

void Transform::apply(const SampleData& sample, CounterRng& rng, uint8_t* out) const {
  const int64_t size = config_.image_size, channels = config_.channels;
  DecodedImage decoded;
  const uint8_t* pixels = nullptr;
  int64_t width = 0, height = 0;
  PixelRect rect;
  if (sample.kind == SampleData::Kind::Encoded) {
    DecodeLimits limits{config_.max_image_side};
    CropPlanner plan = [&](int64_t w, int64_t h) { return plan_crop(w, h, rng); };
    decoded = decode_image_crop(sample.data, sample.size, channels, limits, plan, size, size);
    pixels = decoded.pixels.data();
    width = decoded.width, height = decoded.height;
    rect = decoded.crop;
  } else {
    width = sample.width, height = sample.height;
    // The record's declared size comes from a file: checked without overflow, so a hostile
    // header cannot make the pixels look larger than the bytes behind them.
    int64_t bytes = 0;
    const bool known_channels = sample.channels == 1 || sample.channels == 3 || sample.channels == 4;
    if (width <= 0 || height <= 0 || !known_channels || __builtin_mul_overflow(width, height, &bytes) ||
        __builtin_mul_overflow(bytes, sample.channels, &bytes) ||
        sample.size != static_cast<size_t>(bytes))
      throw BadImageError("pixel record of " + std::to_string(sample.size) + " bytes does not match " +
                          std::to_string(width) + "x" + std::to_string(height) + "x" +
                          std::to_string(sample.channels));
    pixels = sample.data;
    if (sample.channels != channels) {
      decoded.pixels = convert_channels(sample.data, width * height, sample.channels, channels);
      pixels = decoded.pixels.data();
    }
    rect = plan_crop(width, height, rng);
  }
  resize_region(pixels, width, height, channels, rect, out, size, size);
  if (config_.train) augment_output(out, rng);
}

void Transform::augment_output(uint8_t* out, CounterRng& rng) const {
  const AugmentConfig& a = config_.augment;
  const int64_t s = config_.image_size, c = config_.channels, row = s * c;
  if (a.pad_crop > 0) {
    // Shift by (dy, dx) in [-pad, pad]; pixels shifted in from outside are zero (the padding).
    const int64_t dy = static_cast<int64_t>(rng.below(2 * a.pad_crop + 1)) - a.pad_crop;
    const int64_t dx = static_cast<int64_t>(rng.below(2 * a.pad_crop + 1)) - a.pad_crop;
    // In place, no scratch copy: rows are visited in the direction that reads each source row
    // (y + dy) before it is overwritten.
    const int64_t x0 = std::max<int64_t>(0, -dx), x1 = std::min<int64_t>(s, s - dx);
    auto shift_row = [&](int64_t y) {
      uint8_t* dst = out + y * row;
      const int64_t sy = y + dy;
      if (sy < 0 || sy >= s || x1 <= x0) {
        std::memset(dst, 0, static_cast<size_t>(row));
        return;
      }
      std::memmove(dst + x0 * c, out + sy * row + (x0 + dx) * c, static_cast<size_t>((x1 - x0) * c));
      std::memset(dst, 0, static_cast<size_t>(x0 * c));
      std::memset(dst + x1 * c, 0, static_cast<size_t>((s - x1) * c));
    };
    if (dy >= 0)
      for (int64_t y = 0; y < s; ++y) shift_row(y);
    else
      for (int64_t y = s - 1; y >= 0; --y) shift_row(y);
  }
  if (a.hflip && rng.uniform() < 0.5f) {
    for (int64_t y = 0; y < s; ++y) {
      uint8_t* r = out + y * row;
      for (int64_t x = 0; x < s / 2; ++x)
        for (int64_t k = 0; k < c; ++k) std::swap(r[x * c + k], r[(s - 1 - x) * c + k]);
    }
  }
  if (a.color_jitter > 0) {
    const float j = static_cast<float>(a.color_jitter);
    const float brightness = rng.uniform(1 - j, 1 + j);
    const float contrast = rng.uniform(1 - j, 1 + j);
    const float saturation = rng.uniform(1 - j, 1 + j);
    const int64_t n = s * s;
    auto luma = [&](const uint8_t* p) {
      return c == 3 ? 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2] : static_cast<float>(p[0]);
    };
    double mean = 0;
    for (int64_t i = 0; i < n; ++i) mean += luma(out + i * c);
    const float m = static_cast<float>(mean / n) * brightness;
    for (int64_t i = 0; i < n; ++i) {
      uint8_t* p = out + i * c;
      const float gray = luma(p) * brightness;
      for (int64_t k = 0; k < c; ++k) {
        float v = p[k] * brightness;
        v = gray + (v - gray) * saturation;  // saturation: towards/away from the pixel's grey
        v = m + (v - m) * contrast;          // contrast: towards/away from the image mean
        p[k] = static_cast<uint8_t>(std::clamp(v + 0.5f, 0.0f, 255.0f));
      }
    }
  }
  if (a.random_erasing > 0 && rng.uniform() < a.random_erasing) {
    // torchvision.transforms.RandomErasing: area 2%-33%, aspect ratio 0.3-3.3, random pixels.
    const double area = static_cast<double>(s) * s;
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double target = area * rng.uniform(0.02f, 0.33f);
      const double ratio = std::exp(rng.uniform(std::log(0.3f), std::log(3.3f)));
      const int64_t h = std::llround(std::sqrt(target * ratio));
      const int64_t w = std::llround(std::sqrt(target / ratio));
      if (h < 1 || w < 1 || h >= s || w >= s) continue;
      const int64_t y0 = rng.below(static_cast<uint32_t>(s - h + 1));
      const int64_t x0 = rng.below(static_cast<uint32_t>(s - w + 1));
      for (int64_t y = y0; y < y0 + h; ++y)
        for (int64_t x = x0 * c; x < (x0 + w) * c; ++x)
          out[y * row + x] = static_cast<uint8_t>(rng.next_u32() >> 24);
      break;
    }
  }
}

}  // namespace te
