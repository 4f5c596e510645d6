// Packed shards as `open_dataset` reads them: shards.json (first part), shards.index (second)
// and shard-00000.bin (third); then every record is read and decoded through the transform.
#include <vector>

#include "engine/core/error.h"
#include "engine/data/dataset.h"
#include "engine/data/shard_format.h"
#include "engine/data/transform.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  te::fuzz::quiet_logs();
  const std::vector<std::string> parts = te::fuzz::split_input(data, size, 3);
  const std::string dir = te::fuzz::fresh_scratch_dir();
  te::fuzz::write_bytes(dir + "/" + te::kShardMetaFile, parts[0]);
  te::fuzz::write_bytes(dir + "/" + te::kShardIndexFile, parts[1]);
  te::fuzz::write_bytes(dir + "/" + te::shard_file_name(0), parts[2]);
  try {
    auto set = te::open_dataset(dir);
    for (const int64_t channels : {1, 3}) {
      te::TransformConfig cfg;
      cfg.image_size = 8;
      cfg.channels = channels;
      cfg.mean.assign(static_cast<size_t>(channels), 0.5f);
      cfg.std.assign(static_cast<size_t>(channels), 0.25f);
      const te::Transform transform(cfg);
      std::vector<uint8_t> out(static_cast<size_t>(transform.output_bytes()));
      const int64_t n = std::min<int64_t>(set->size(), 32);
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
    }
  } catch (const te::Error&) {
  }
  return 0;
}
