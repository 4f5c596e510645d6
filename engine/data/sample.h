#pragma once
// The raw data of one sample as a dataset hands it out: either an encoded image file (JPEG,
// PNG: decoded by the transform) or already-decoded pixels (IDX files, raw shards).
#include <cstdint>
#include <vector>

namespace te {

struct SampleData {
  enum class Kind { Encoded, Pixels };
  Kind kind = Kind::Encoded;
  // The bytes: a view into `storage` or into a memory-mapped shard that outlives the sample.
  const uint8_t* data = nullptr;
  size_t size = 0;
  // Pixels only: height x width x channels, rows contiguous.
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> storage;

  // Points `data` at `storage` after filling it.
  void own() {
    data = storage.data();
    size = storage.size();
  }
};

}  // namespace te
