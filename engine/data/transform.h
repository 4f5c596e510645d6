#pragma once
// Per-sample preprocessing: decode, crop, resize, augment, into a fixed-size uint8 HWC image.
// Normalisation (mean/std, uint8 -> float) happens later on the whole batch
// (ops::normalize_images), on the GPU when there is one, so 4x fewer bytes cross PCIe.
//
// Training: random-resized-crop (torchvision's algorithm: 10 tries of area in
// [scale_min, scale_max] and log-uniform aspect ratio, falling back to a centre crop) resized to
// image_size; or, with pad_crop > 0, the whole image resized to image_size and shifted by up to
// pad_crop pixels with zero padding (CIFAR-style); then horizontal flip, colour jitter and
// random erasing. Evaluation: resize the shorter side to image_size / resize_ratio, then
// centre-crop image_size (done as one crop + resize).
#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/philox.h"
#include "engine/data/image_decode.h"
#include "engine/data/sample.h"

namespace te {

struct AugmentConfig {
  bool random_resized_crop = true;
  double scale_min = 0.08, scale_max = 1.0, ratio_min = 3.0 / 4, ratio_max = 4.0 / 3;
  bool hflip = true;
  int pad_crop = 0;           // pad + random crop for small images, pixels
  double color_jitter = 0;    // brightness/contrast/saturation factors in [1-j, 1+j]
  double random_erasing = 0;  // probability of erasing one rectangle with random pixels
};

struct TransformConfig {
  int64_t image_size = 128;
  int64_t channels = 3;
  bool train = true;
  AugmentConfig augment;
  double resize_ratio = 0.875;  // eval: resize shorter side to image_size/0.875, centre crop
  std::vector<float> mean = {0.485f, 0.456f, 0.406f}, std = {0.229f, 0.224f, 0.225f};
  int64_t max_image_side = 16384;  // larger declared images are rejected as bad files
};

class Transform {
 public:
  explicit Transform(TransformConfig config = {});
  const TransformConfig& config() const { return config_; }
  // Bytes of one output image: image_size * image_size * channels.
  int64_t output_bytes() const;

  // Writes one image [image_size, image_size, channels] to `out`. All random choices come from
  // `rng`, drawn in a fixed order. Throws BadImageError when the sample cannot be decoded.
  void apply(const SampleData& sample, CounterRng& rng, uint8_t* out) const;

  // The crop (in source pixels) this transform takes from a width x height image; advances
  // `rng` exactly as apply() does. Public for tests.
  PixelRect plan_crop(int64_t width, int64_t height, CounterRng& rng) const;

 private:
  void augment_output(uint8_t* out, CounterRng& rng) const;
  TransformConfig config_;
};

// Counter-based random streams of the data pipeline: (seed, epoch, sample index) -> numbers.
CounterRng sample_rng(uint64_t seed, int64_t epoch, int64_t sample_index);

}  // namespace te
