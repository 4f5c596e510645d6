// metrics.jsonl: one parseable JSON object per line, append mode for resumed runs.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "engine/core/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/metrics_writer.h"
#include "temp_dir.h"

namespace te {
namespace {

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(MetricsWriter, LinesParseBackAndAppendContinues) {
  testing::TempDir dir("metrics");
  const std::string path = dir.file("run/metrics.jsonl");  // parent created by the writer
  {
    MetricsWriter w(path, false);
    w.write({{"step", 1}, {"loss", 2.5}, {"split", "train"}});
    w.write({{"step", 2}, {"loss", 1.25}, {"lr", 0.1}});
    // Flushed per record: visible before the writer closes.
    EXPECT_EQ(read_lines(path).size(), 2u);
  }
  {
    MetricsWriter w(path, true);
    w.write({{"step", 3}, {"loss", std::nan("")}});
  }
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["split"], "train");
  EXPECT_DOUBLE_EQ(lines[1]["loss"].get<double>(), 1.25);
  EXPECT_EQ(lines[2]["step"], 3);
  EXPECT_TRUE(lines[2]["loss"].is_null());  // NaN has no JSON form
  {
    MetricsWriter w(path, false);  // a fresh run starts the file over
    w.write({{"step", 1}});
  }
  EXPECT_EQ(read_lines(path).size(), 1u);
}

TEST(MetricsWriter, AppendCutsATornLastLine) {
  testing::TempDir dir("metrics_torn");
  const std::string path = dir.file("metrics.jsonl");
  write_file_atomic(path, "{\"step\":1}\n{\"step\":2,\"lo");
  {
    MetricsWriter w(path, true);
    w.write({{"step", 2}});
  }
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["step"], 2);
}

TEST(MetricsWriter, ErrorsAreClear) {
  testing::TempDir dir("metrics_errors");
  std::filesystem::create_directories(dir.path() / "a_directory");
  EXPECT_THROW(MetricsWriter(dir.file("a_directory"), false), IoError);
  MetricsWriter w(dir.file("m.jsonl"), false);
  EXPECT_THROW(w.write(nlohmann::json::array({1, 2})), Error);
}

}  // namespace
}  // namespace te
