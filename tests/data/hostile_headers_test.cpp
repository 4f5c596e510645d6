// Headers that lie (issue 14's fuzzing): sizes whose products overflow onto the real data size,
// offsets that wrap, counts that wrap, unknown channel counts. Each must be a clean DataError
// (BadImageError for one sample), never a read outside the data or an allocation of exabytes.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/data/dataset.h"
#include "engine/data/idx_format.h"
#include "engine/data/shard_format.h"
#include "engine/data/transform.h"
#include "tests/data/image_files.h"

namespace te {
namespace {

std::string data_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

std::vector<uint8_t> be_idx(const std::vector<uint32_t>& dims, size_t data_bytes) {
  std::vector<uint8_t> b = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) b.insert(b.end(), {uint8_t(d >> 24), uint8_t(d >> 16), uint8_t(d >> 8), uint8_t(d)});
  b.resize(b.size() + data_bytes, 7);
  return b;
}

TEST(HostileHeaders, IdxDimensionsWhoseProductWrapsToTheDataSize) {
  test::TempDir dir;
  // 2^22 * 2^21 * 2^21 = 2^64, which wrapped to 0: the empty data section "matched".
  test::write_file(dir / "wrap", be_idx({1u << 22, 1u << 21, 1u << 21}, 0));
  EXPECT_NE(data_error([&] { read_idx(dir / "wrap"); }).find("overflows"), std::string::npos);
}

// A shard folder with one 12-byte raw record, its index entry and metadata editable.
struct ShardFolder {
  test::TempDir dir;
  nlohmann::json meta = {{"format", "te-shards"}, {"version", kShardFormatVersion},
                         {"encoding", "raw"}, {"channels", 3}, {"size", 2}, {"count", 1},
                         {"shards", 1}, {"classes", {"a"}}};
  ShardRecord record{0, 12, 0, 0, 2, 2};
  std::string index_bytes() const {
    std::string s(sizeof record, '\0');
    std::memcpy(s.data(), &record, sizeof record);
    return s;
  }
  std::string write(const std::string& index) {
    test::write_text(dir / kShardMetaFile, meta.dump());
    test::write_text(dir / kShardIndexFile, index);
    test::write_file(dir / shard_file_name(0), std::vector<uint8_t>(12, 9));
    return dir.path();
  }
  std::string write() { return write(index_bytes()); }
};

TEST(HostileHeaders, ShardFolderSanity) {
  ShardFolder f;
  EXPECT_EQ(open_dataset(f.write())->size(), 1);  // the valid folder the cases below break
}

TEST(HostileHeaders, ShardCountThatWrapsTheIndexSize) {
  ShardFolder f;
  f.meta["count"] = int64_t{1} << 59;  // * 32 bytes = 2^64, which wrapped to an empty index
  EXPECT_NE(data_error([&] { open_dataset(f.write("")); }).find("records of 32 bytes"), std::string::npos);
}

TEST(HostileHeaders, ShardOffsetPlusSizeThatWraps) {
  ShardFolder f;
  f.record.offset = ~uint64_t{0} - 3;  // + 12 wraps to 8, inside the 12-byte file
  EXPECT_NE(data_error([&] { open_dataset(f.write()); }).find("inconsistent at record 0"),
            std::string::npos);
}

TEST(HostileHeaders, ShardChannelsAndShardCountsOutOfRange) {
  ShardFolder f;
  f.meta["channels"] = 7;
  EXPECT_NE(data_error([&] { open_dataset(f.write()); }).find("expected 1 or 3"), std::string::npos);
  ShardFolder g;
  g.meta["shards"] = 1000000;
  EXPECT_NE(data_error([&] { open_dataset(g.write()); }).find("shard files for 1 records"),
            std::string::npos);
}

TEST(HostileHeaders, ShardIntegersThatAreFloats) {
  // fuzz_shards' finding: "shards": 1.7777e83 was cast to int64 with undefined behaviour.
  for (const char* key : {"shards", "count", "channels"})
    for (const double bad : {1.7777e83, 1.5}) {
      ShardFolder f;
      f.meta[key] = bad;
      EXPECT_NE(data_error([&] { open_dataset(f.write()); }).find("expected an integer"),
                std::string::npos) << key << " = " << bad;
    }
}

TEST(HostileHeaders, PixelRecordWhoseSizeProductWraps) {
  TransformConfig cfg;
  cfg.image_size = 4;
  cfg.channels = 1;
  cfg.mean = {0.5f};
  cfg.std = {0.25f};
  const Transform t(cfg);
  std::vector<uint8_t> out(static_cast<size_t>(t.output_bytes()));
  SampleData s;
  s.kind = SampleData::Kind::Pixels;
  s.width = s.height = int64_t{1} << 32;  // 2^64 pixels "matched" an empty record
  s.channels = 1;
  CounterRng rng(1, 2, 3);
  EXPECT_THROW(t.apply(s, rng, out.data()), BadImageError);
  std::vector<uint8_t> two(8, 1);
  s.width = s.height = 2;
  s.channels = 2;  // no such pixel layout
  s.data = two.data();
  s.size = two.size();
  EXPECT_THROW(t.apply(s, rng, out.data()), BadImageError);
}

}  // namespace
}  // namespace te
