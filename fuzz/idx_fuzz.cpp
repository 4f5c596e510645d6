// IDX image sets as `open_dataset` reads them: the images file (first part) and the labels
// file (second part), each written plain, gzip-compressed (a flag byte decides), or as given
// (the seeds hold gzip files too, so zlib's parsing is fuzzed as well); then every sample is
// read and transformed.
#include <vector>

#include "engine/core/error.h"
#include "engine/data/dataset.h"
#include "engine/data/transform.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  te::fuzz::quiet_logs();
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::vector<std::string> parts = te::fuzz::split_input(data + 1, size - 1, 2);
  const std::string dir = te::fuzz::fresh_scratch_dir();
  const bool gz = flags & 1;
  te::fuzz::write_bytes(dir + "/train-images-idx3-ubyte" + (gz ? ".gz" : ""),
                        gz ? te::fuzz::gzip(parts[0]) : parts[0]);
  te::fuzz::write_bytes(dir + "/train-labels-idx1-ubyte" + (flags & 2 ? ".gz" : ""),
                        flags & 2 ? te::fuzz::gzip(parts[1]) : parts[1]);
  try {
    auto set = te::open_dataset(dir);
    te::TransformConfig cfg;
    cfg.image_size = 8;
    cfg.channels = 1;
    cfg.mean = {0.5f};
    cfg.std = {0.25f};
    const te::Transform transform(cfg);
    std::vector<uint8_t> out(static_cast<size_t>(transform.output_bytes()));
    const int64_t n = std::min<int64_t>(set->size(), 64);
    for (int64_t i = 0; i < n; ++i) {
      (void)set->label(i);
      (void)set->describe(i);
      te::SampleData sample;
      set->read(i, sample);
      te::CounterRng rng = te::sample_rng(1, 0, i);
      try {
        transform.apply(sample, rng, out.data());
      } catch (const te::Error&) {
      }
    }
  } catch (const te::Error&) {
  }
  return 0;
}
