// Saved safetensors carry a whole-file checksum: every truncation and every single flipped
// byte is refused as damaged, naming the file; files without one (other tools) still load.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "engine/io/atomic_file.h"
#include "engine/io/safetensors.h"
#include "engine/io/safetensors_checksum.h"
#include "temp_dir.h"

namespace te {
namespace {
using te::testing::TempDir;

std::vector<NamedTensor> sample_tensors() {
  return {{"conv.weight", Tensor::from_vector({2, 3}, {0.5f, -1.f, 2.f, 3.25f, -4.f, 7.f})},
          {"fc.bias", Tensor::from_vector({2}, {0.125f, -9.f})}};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// The message of the DamagedFileError loading `path` throws ("" when it loads).
std::string damage_of(const std::string& path) {
  try {
    load_safetensors(path);
  } catch (const DamagedFileError& e) {
    return e.what();
  }
  return "";
}

TEST(SafetensorsChecksum, SavedFileCarriesItAndLoads) {
  TempDir dir("checksum_ok");
  const std::string path = dir.file("w.safetensors");
  save_safetensors(path, sample_tensors(), {{"te.model", "x"}});
  std::map<std::string, std::string> meta;
  const auto back = load_safetensors(path, &meta);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].tensor.data<float>()[3], 3.25f);
  ASSERT_TRUE(meta.count(kChecksumKey));
  EXPECT_EQ(meta[kChecksumKey].size(), 8u);
  EXPECT_NE(meta[kChecksumKey], kChecksumPlaceholder);
  EXPECT_EQ(meta["te.model"], "x");
}

TEST(SafetensorsChecksum, EveryFlippedByteIsRefusedNamingTheFile) {
  TempDir dir("checksum_flip");
  const std::string path = dir.file("w.safetensors");
  save_safetensors(path, sample_tensors(), {{"te.training_state", R"({"epoch":3})"}});
  const std::string good = read_file(path);
  const std::string bad = dir.file("flipped.safetensors");
  for (size_t i = 0; i < good.size(); ++i) {
    std::string flipped = good;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x10);
    write_bytes(bad, flipped);
    const std::string e = damage_of(bad);
    EXPECT_NE(e.find("'" + bad + "'"), std::string::npos) << "byte " << i << ": '" << e << "'";
  }
}

TEST(SafetensorsChecksum, EveryTruncationIsRefused) {
  TempDir dir("checksum_cut");
  const std::string path = dir.file("w.safetensors");
  save_safetensors(path, sample_tensors());
  const std::string good = read_file(path);
  const std::string bad = dir.file("cut.safetensors");
  for (size_t n = 0; n < good.size(); ++n) {
    write_bytes(bad, good.substr(0, n));
    EXPECT_NE(damage_of(bad), "") << "kept " << n << " of " << good.size() << " bytes";
  }
}

TEST(SafetensorsChecksum, DataBitFlipSaysChecksumMismatch) {
  TempDir dir("checksum_data");
  const std::string path = dir.file("w.safetensors");
  save_safetensors(path, sample_tensors());
  std::string bytes = read_file(path);
  bytes[bytes.size() - 3] ^= 0x01;  // inside fc.bias: still a well-formed file
  write_bytes(path, bytes);
  EXPECT_NE(damage_of(path).find("checksum mismatch"), std::string::npos) << damage_of(path);
}

TEST(SafetensorsChecksum, FilesWithoutOneStillLoad) {
  TempDir dir("checksum_none");
  const std::string path = dir.file("plain.safetensors");
  write_bytes(path, encode_safetensors(sample_tensors()));  // as other tools write it
  EXPECT_EQ(load_safetensors(path).size(), 2u);
}

}  // namespace
}  // namespace te
