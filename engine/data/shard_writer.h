#pragma once
// Packs a data set into shards (see shard_format.h): every image is decoded in full (which
// validates it), its shorter side reduced to `size` (never enlarged), and stored as JPEG or raw
// pixels. Images that fail are left out, each named with the reason in a warning and in the
// report.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/data/dataset.h"

namespace te {

struct PackOptions {
  int64_t size = 160;           // shorter side after packing
  std::string format = "jpeg";  // "jpeg" or "raw"
  int quality = 90;             // JPEG quality
  int64_t channels = 3;
  int64_t shard_bytes = int64_t(256) << 20;  // a new shard file starts past this size
  int workers = 0;              // 0: the core count
  int64_t max_image_side = 16384;
};

struct PackReport {
  int64_t packed = 0;
  int64_t shards = 0;
  int64_t bytes = 0;
  std::vector<std::pair<std::string, std::string>> left_out;  // (file, reason)
};

// `dst` must not exist or be an empty folder. Throws DataError when nothing could be packed.
PackReport pack_shards(const Dataset& source, const std::string& dst, const PackOptions& options);

}  // namespace te
