// Unreadable training files are counted where a user looks (issue 14): the epoch log line, the
// epoch record in metrics.jsonl and the end-of-run summary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/train/run_dir.h"
#include "train_fixture.h"

namespace te {
namespace {
using namespace te::testing;

int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(BadFiles, EpochLineMetricsAndSummaryCountThem) {
  const std::string dir = fresh_dir("bad_files");
  make_color_dataset(dir, 16, 4, 16, 5);
  write_text(dir + "/train/red/broken1.jpg", "not an image\n");
  write_text(dir + "/train/blue/broken2.jpg", std::string(300, '\xff'));
  const std::string cfg = dir + "/tiny.yaml";
  // tiny_config's data section is written already: its extra keys go through --set.
  write_text(cfg, tiny_config(dir, "train: {epochs: 2}\n"));
  const std::string run = dir + "/run";
  const CommandResult r = run_command({trainer_binary(), "--config", cfg, "--out", run, "--device",
                                       "cpu", "--set", "data.max_skipped_fraction=0.2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(count_of(r.output, "| 2 unreadable files skipped this epoch"), 2) << r.output;
  EXPECT_EQ(count_of(r.output, "2 unreadable files skipped (named in the warnings above)"), 1)
      << r.output;

  std::istringstream metrics(read_text(RunPaths{run}.metrics()));
  int epochs = 0;
  for (std::string line; std::getline(metrics, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j.at("type") != "epoch") continue;
    ++epochs;
    EXPECT_EQ(j.at("skipped_files").get<int64_t>(), 2) << line;
  }
  EXPECT_EQ(epochs, 2);
}

}  // namespace
}  // namespace te
