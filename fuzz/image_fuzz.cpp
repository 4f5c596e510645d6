// JPEG and PNG decoding through the training/eval transform: the first bytes choose the output
// size, channels, train or eval, the crop scale range and the random stream (so every kind of
// crop and DCT scaling request is tried): 11 bytes; the rest is the encoded file.
#include <vector>

#include "engine/core/error.h"
#include "engine/data/image_decode.h"
#include "engine/data/transform.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  te::fuzz::quiet_logs();
  te::fuzz::Params p(data, size);
  te::TransformConfig cfg;
  cfg.image_size = 1 + p.byte() % 96;
  cfg.channels = p.byte() % 2 ? 3 : 1;
  cfg.train = p.byte() % 2;
  cfg.augment.random_resized_crop = p.byte() % 4 != 0;
  cfg.augment.scale_min = 0.01 + 0.99 * p.unit();
  cfg.augment.scale_max = cfg.augment.scale_min + (1.0 - cfg.augment.scale_min) * p.unit();
  const uint8_t pad = p.byte();
  cfg.augment.pad_crop = pad % 8 == 0 ? pad / 8 % 6 : 0;
  cfg.augment.color_jitter = p.byte() % 4 == 0 ? 0.4 : 0;
  cfg.augment.random_erasing = p.byte() % 4 == 0 ? 0.5 : 0;
  cfg.resize_ratio = 0.3 + 0.7 * p.unit();
  cfg.mean.assign(static_cast<size_t>(cfg.channels), 0.5f);
  cfg.std.assign(static_cast<size_t>(cfg.channels), 0.25f);
  const uint64_t seed = p.byte();

  te::SampleData sample;
  sample.kind = te::SampleData::Kind::Encoded;
  sample.storage.assign(p.rest(), p.rest() + p.rest_size());
  sample.own();
  try {
    const te::Transform transform(cfg);
    std::vector<uint8_t> out(static_cast<size_t>(transform.output_bytes()));
    te::CounterRng rng = te::sample_rng(seed, 0, 0);
    transform.apply(sample, rng, out.data());
  } catch (const te::Error&) {
  }
  try {
    te::jpeg_dimensions(sample.data, sample.size);
  } catch (const te::Error&) {
  }
  return 0;
}
