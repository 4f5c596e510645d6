// TensorBoard event files: CRC32C, the protobuf bytes, TFRecord framing, and a read-back by
// TensorBoard itself (when TE_PYTHON names a python with tensorboard installed).
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "engine/io/atomic_file.h"
#include "engine/io/crc32c.h"
#include "engine/io/event_encoding.h"
#include "engine/io/tensorboard_writer.h"
#include "temp_dir.h"

namespace te {
namespace {

TEST(Crc32c, KnownAnswers) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);  // the standard check value
  const std::string zeros(32, '\0'), ones(32, '\xff');
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);  // RFC 3720 B.4 test vectors
  EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
  // Continuing a CRC over two pieces equals one pass.
  EXPECT_EQ(crc32c("56789", 5, crc32c("1234", 4)), 0xE3069283u);
  // Masked: ((c >> 15) | (c << 17)) + 0xa282ead8 with c = 0xE3069283:
  // c >> 15 = 0x0001C60D, c << 17 = 0x25060000 (mod 2^32), or-ed 0x2507C60D,
  // + 0xA282EAD8 = 0xC78AB0E5 (mod 2^32)
  EXPECT_EQ(masked_crc32c("123456789", 9), 0xC78AB0E5u);
}

TEST(EventEncoding, ScalarEventBytesAreTheProtobufWireFormat) {
  const std::string got = tfevent::scalar_event(1.5, 300, "loss", 0.5f);
  const std::string want = std::string(
      "\x09" "\x00\x00\x00\x00\x00\x00\xf8\x3f"  // field 1 fixed64: wall_time 1.5
      "\x10" "\xac\x02"                          // field 2 varint: step 300
      "\x2a" "\x0d"                              // field 5 (summary), 13 bytes
      "\x0a" "\x0b"                              //   field 1 (value), 11 bytes
      "\x0a" "\x04" "loss"                       //     field 1: tag
      "\x15" "\x00\x00\x00\x3f",                 //     field 2 fixed32: simple_value 0.5
      27);
  EXPECT_EQ(got, want);
  const std::string version = tfevent::file_version_event(0.0);
  EXPECT_EQ(version, std::string("\x09\0\0\0\0\0\0\0\0\x1a\x0d" "brain.Event:2", 24));
  // A negative step is a 10-byte two's-complement varint, as protobuf encodes int64.
  const std::string neg = tfevent::scalar_event(0.0, -1, "t", 1.0f);
  EXPECT_EQ(neg.substr(9, 11), std::string("\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11));
}

TEST(EventEncoding, TfrecordFraming) {
  const std::string data = "some event bytes";
  const std::string rec = tfevent::tfrecord(data);
  ASSERT_EQ(rec.size(), 8 + 4 + data.size() + 4);
  uint64_t len = 0;
  uint32_t len_crc = 0, data_crc = 0;
  std::memcpy(&len, rec.data(), 8);
  std::memcpy(&len_crc, rec.data() + 8, 4);
  std::memcpy(&data_crc, rec.data() + 12 + data.size(), 4);
  EXPECT_EQ(len, data.size());
  EXPECT_EQ(len_crc, masked_crc32c(rec.data(), 8));
  EXPECT_EQ(rec.substr(12, data.size()), data);
  EXPECT_EQ(data_crc, masked_crc32c(data.data(), data.size()));
}

// The records of an event file, with their CRCs checked.
std::vector<std::string> read_records(const std::string& path) {
  const std::string bytes = read_file(path);
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    EXPECT_LE(pos + 12, bytes.size());
    uint64_t len = 0;
    uint32_t crc = 0;
    std::memcpy(&len, bytes.data() + pos, 8);
    std::memcpy(&crc, bytes.data() + pos + 8, 4);
    EXPECT_EQ(crc, masked_crc32c(bytes.data() + pos, 8));
    std::string data = bytes.substr(pos + 12, len);
    std::memcpy(&crc, bytes.data() + pos + 12 + len, 4);
    EXPECT_EQ(crc, masked_crc32c(data.data(), data.size()));
    out.push_back(std::move(data));
    pos += 16 + len;
  }
  return out;
}

TEST(TensorBoardWriter, WritesFramedEventsUnderTheLogDir) {
  testing::TempDir dir("tb_frames");
  std::string path;
  {
    TensorBoardWriter tb(dir.file("logs/train"));
    path = tb.path();
    tb.add_scalar("loss", 2.5, 1);
    tb.add_scalar("loss", 1.75, 2);
    tb.flush();
  }
  EXPECT_EQ(std::filesystem::path(path).parent_path(), dir.path() / "logs/train");
  EXPECT_EQ(std::filesystem::path(path).filename().string().rfind("events.out.tfevents.", 0), 0u);
  const auto records = read_records(path);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_NE(records[0].find("brain.Event:2"), std::string::npos);
  EXPECT_EQ(records[2].substr(9), tfevent::scalar_event(0, 2, "loss", 1.75f).substr(9));
}

// Runs `command`, returning its stdout; fails the test on a non-zero exit.
std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  std::array<char, 4096> buf;
  for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0;) out.append(buf.data(), n);
  EXPECT_EQ(::pclose(pipe), 0) << command;
  return out;
}

TEST(TensorBoardWriter, TensorBoardReadsTheScalarsBack) {
  const char* python = std::getenv("TE_PYTHON");
  if (!python || !*python)
    GTEST_SKIP() << "set TE_PYTHON to a python with tensorboard installed "
                    "(pip install -r scripts/requirements-test.txt) to run this check";
  if (std::system((std::string("'") + python + "' -c 'import tensorboard' 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "TE_PYTHON=" << python << " cannot import tensorboard";

  testing::TempDir dir("tb_python");
  std::vector<std::pair<int64_t, double>> loss = {{0, 2.302585}, {10, 1.5}, {20, -0.125},
                                                  {1000000, 3.0e-7}};
  {
    TensorBoardWriter tb(dir.file("tb"));
    for (const auto& [step, v] : loss) tb.add_scalar("train/loss", v, step);
    tb.add_scalar("lr", 0.1, 5);
  }
  const std::string script = std::string(TE_SOURCE_DIR) + "/tests/io/read_tensorboard.py";
  const std::string out = run("'" + std::string(python) + "' '" + script + "' '" + dir.file("tb") + "'");
  const nlohmann::json got = nlohmann::json::parse(out);
  ASSERT_TRUE(got.contains("train/loss")) << out;
  ASSERT_EQ(got["train/loss"].size(), loss.size()) << out;
  for (size_t i = 0; i < loss.size(); ++i) {
    EXPECT_EQ(got["train/loss"][i][0].get<int64_t>(), loss[i].first);
    // simple_value is a float: compare with the value rounded to float.
    EXPECT_EQ(got["train/loss"][i][1].get<double>(), static_cast<double>(static_cast<float>(loss[i].second)));
  }
  ASSERT_TRUE(got.contains("lr")) << out;
  ASSERT_EQ(got["lr"].size(), 1u) << out;
  EXPECT_EQ(got["lr"][0][0].get<int64_t>(), 5);
  EXPECT_EQ(got["lr"][0][1].get<double>(), static_cast<double>(0.1f));
}

}  // namespace
}  // namespace te
