// safetensors: exact bytes, round trips over dtypes and shapes, and every kind of corruption.
#include <gtest/gtest.h>

#include <cstring>

#include "engine/core/error.h"
#include "engine/io/safetensors.h"
#include "temp_dir.h"

namespace te {
namespace {

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

// A file from a header text (padded here like a writer would) and raw data bytes.
std::string make_file(std::string header, const std::string& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return le64(header.size()) + header + data;
}

std::string bytes_of(const Tensor& t) { return std::string(static_cast<const char*>(t.raw()), t.nbytes()); }

TEST(Safetensors, TinyFileIsByteExact) {
  const std::string json = R"({"a":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}})";  // 54 chars
  ASSERT_EQ(json.size(), 54u);
  std::string want = std::string("\x38\0\0\0\0\0\0\0", 8) + json + "  ";  // padded to 56 = 0x38
  want += std::string("\x00\x00\x80\x3f", 4);  // 1.0f little-endian
  want += std::string("\x00\x00\x00\x40", 4);  // 2.0f
  EXPECT_EQ(encode_safetensors({{"a", Tensor::from_vector({2}, {1.0f, 2.0f})}}), want);
}

TEST(Safetensors, MetadataIsStoredAsStrings) {
  const std::string bytes =
      encode_safetensors({{"w", Tensor::from_vector({1}, {3.0f})}}, {{"epoch", "7"}});
  EXPECT_NE(bytes.find(R"("__metadata__":{"epoch":"7"})"), std::string::npos);
  std::map<std::string, std::string> meta;
  decode_safetensors(bytes, "mem", &meta);
  EXPECT_EQ(meta, (std::map<std::string, std::string>{{"epoch", "7"}}));
}

TEST(Safetensors, RoundTripsDtypesAndShapes) {
  testing::TempDir dir("safetensors_roundtrip");
  std::vector<NamedTensor> in;
  in.push_back({"layer1.0.conv1.weight", Tensor::from_vector({2, 3}, {1.5f, -2, 3, 4.25f, -5, 6})});
  in.push_back({"fc.bias", Tensor::from_vector_f64({4}, {0.1, -0.2, 1e300, -7})});
  in.push_back({"bn1.num_batches_tracked", Tensor::from_vector({}, {12345}, DType::I64)});  // rank 0
  in.push_back({"labels", Tensor::from_vector({3, 1, 2}, {1, -2, 3, 4, -5, 6}, DType::I32)});
  in.push_back({"image", Tensor::from_vector({5}, {0, 17, 128, 200, 255}, DType::U8)});
  in.push_back({"empty", Tensor::zeros({0, 4})});
  Tensor bf16 = Tensor::empty({3}, DType::BF16);
  const uint16_t bf16_bits[3] = {0x3F80, 0xC000, 0x7F80};  // 1, -2, +inf
  std::memcpy(bf16.raw(), bf16_bits, sizeof(bf16_bits));
  in.push_back({"half.bf16", bf16});
  Tensor f16 = Tensor::empty({2, 1}, DType::F16);
  const uint16_t f16_bits[2] = {0x3C00, 0xBC00};  // 1, -1
  std::memcpy(f16.raw(), f16_bits, sizeof(f16_bits));
  in.push_back({"half.f16", f16});

  const std::string path = dir.file("model.safetensors");
  save_safetensors(path, in, {{"format", "pt"}});
  std::map<std::string, std::string> meta;
  const std::vector<NamedTensor> out = load_safetensors(path, &meta);
  EXPECT_EQ(meta.at("format"), "pt");
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 1; i < out.size(); ++i) EXPECT_LT(out[i - 1].name, out[i].name);  // sorted
  for (const NamedTensor& want : in) {
    const auto it = std::find_if(out.begin(), out.end(),
                                 [&](const NamedTensor& t) { return t.name == want.name; });
    ASSERT_NE(it, out.end()) << want.name;
    EXPECT_EQ(it->tensor.dtype(), want.tensor.dtype()) << want.name;
    EXPECT_EQ(it->tensor.shape(), want.tensor.shape()) << want.name;
    EXPECT_EQ(bytes_of(it->tensor), bytes_of(want.tensor)) << want.name;
  }
  const auto scalar = std::find_if(out.begin(), out.end(), [](const NamedTensor& t) {
    return t.name == "bn1.num_batches_tracked";
  });
  EXPECT_EQ(scalar->tensor.rank(), 0u);
  EXPECT_EQ(scalar->tensor.data<int64_t>()[0], 12345);
}

TEST(Safetensors, ViewsAreSavedFromTheirOffset) {
  Tensor flat = Tensor::from_vector({6}, {1, 2, 3, 4, 5, 6});
  const std::string bytes = encode_safetensors({{"v", flat.slice_flat(2, {2, 2})}});
  const auto out = decode_safetensors(bytes, "mem");
  EXPECT_EQ(out[0].tensor.to_vector(), (std::vector<float>{3, 4, 5, 6}));
}

TEST(Safetensors, BadNamesAreRejected) {
  const Tensor t = Tensor::from_vector({1}, {1});
  EXPECT_THROW(encode_safetensors({{"x", t}, {"x", t}}), Error);
  EXPECT_THROW(encode_safetensors({{"", t}}), Error);
  EXPECT_THROW(encode_safetensors({{"__metadata__", t}}), Error);
}

// decode must throw IoError whose message names the source and contains `fragment`.
void expect_corrupt(const std::string& bytes, const std::string& fragment) {
  try {
    decode_safetensors(bytes, "corrupt.safetensors");
    ADD_FAILURE() << "no error; expected one mentioning '" << fragment << "'";
  } catch (const IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("corrupt.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
  }
}

TEST(Safetensors, CorruptionIsAnIoError) {
  const std::string good = encode_safetensors(
      {{"a", Tensor::from_vector({2}, {1, 2})}, {"b", Tensor::from_vector({3}, {4, 5, 6})}});
  ASSERT_NO_THROW(decode_safetensors(good, "good"));
  uint64_t header_len = 0;
  std::memcpy(&header_len, good.data(), 8);

  // Truncated header: too short for the length field, or cut inside the JSON.
  expect_corrupt(good.substr(0, 5), "shorter than the 8-byte header length");
  expect_corrupt(good.substr(0, 8 + header_len / 2), "exceeds");
  // Truncated data: the last tensor runs past the end.
  expect_corrupt(good.substr(0, good.size() - 3), "beyond");
  // Every possible truncation is an error, never a crash.
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_THROW(decode_safetensors(good.substr(0, n), "cut"), IoError) << n;

  const std::string data8(8, '\x11');
  expect_corrupt(make_file(R"({"a":{"dtype":"F32",)", data8), "not valid JSON");
  expect_corrupt(make_file(R"([1,2])", data8), "not a JSON object");
  expect_corrupt(le64(1ull << 40) + "{}", "header length");
  // Offsets out of range.
  expect_corrupt(make_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data8),
                 "beyond the 8 data bytes");
  expect_corrupt(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data8),
                 "end before they begin");
  // Unknown dtype (a real safetensors dtype we do not load).
  expect_corrupt(make_file(R"({"a":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}})", data8),
                 "dtype \"F8_E4M3\" is not supported");
  // Shape does not match the byte count.
  expect_corrupt(make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8),
                 "needs 12 bytes");
  expect_corrupt(make_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data8),
                 "non-negative");
  // Not contiguous: a gap, an overlap, trailing bytes.
  expect_corrupt(make_file(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                           R"("b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}})", data8),
                 "contiguous");
  expect_corrupt(make_file(R"({"a":{"dtype":"U8","shape":[6],"data_offsets":[0,6]},)"
                           R"("b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})", data8),
                 "contiguous");
  expect_corrupt(make_file(R"({"a":{"dtype":"U8","shape":[6],"data_offsets":[0,6]}})", data8),
                 "trailing bytes");
  // Malformed entries and metadata.
  expect_corrupt(make_file(R"({"a":{"dtype":"U8","shape":[8]}})", data8), "data_offsets");
  expect_corrupt(make_file(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8],"x":1}})", data8),
                 "unknown key \"x\"");
  expect_corrupt(make_file(R"({"__metadata__":{"epoch":7},"a":{"dtype":"U8","shape":[8],)"
                           R"("data_offsets":[0,8]}})", data8),
                 "not a string");
}

TEST(Safetensors, TruncatedFileOnDiskNamesThePath) {
  testing::TempDir dir("safetensors_truncated");
  const std::string path = dir.file("cut.safetensors");
  save_safetensors(path, {{"w", Tensor::from_vector({4}, {1, 2, 3, 4})}});
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 4);
  try {
    load_safetensors(path);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_safetensors(dir.file("missing.safetensors")), IoError);
}

}  // namespace
}  // namespace te
