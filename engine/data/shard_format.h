#pragma once
// Packed shards (`trainer pack`): a folder with
//   shards.json    metadata: {"format": "te-shards", "version": 1, "encoding": "jpeg"|"raw",
//                  "channels", "size", "count", "shards", "classes": [...]}; written last, so
//                  its presence marks a complete pack;
//   shards.index   `count` little-endian ShardRecord entries (32 bytes each);
//   shard-NNNNN.bin concatenated records: JPEG files, or raw HWC uint8 pixels.
// Shards are memory-mapped for training; records are read in place, without copies.
#include <cstdint>
#include <string>

namespace te {

inline constexpr const char* kShardMetaFile = "shards.json";
inline constexpr const char* kShardIndexFile = "shards.index";
inline constexpr int kShardFormatVersion = 1;

struct ShardRecord {
  uint64_t offset;  // byte offset in its shard file
  uint64_t size;    // bytes
  uint32_t shard;   // shard file number
  int32_t label;
  uint32_t height, width;  // pixels after pre-resizing
};
static_assert(sizeof(ShardRecord) == 32, "the index layout is part of the file format");

inline std::string shard_file_name(int64_t i) {
  std::string n = std::to_string(i);
  return "shard-" + std::string(n.size() < 5 ? 5 - n.size() : 0, '0') + n + ".bin";
}

}  // namespace te
