#pragma once
// metrics.jsonl: one JSON object per line, flushed after every record so a crash loses nothing
// already reported and `tail -f` shows progress.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace te {

class MetricsWriter {
 public:
  // `append`: continue an existing file (a resumed run); otherwise start it empty. In append
  // mode a torn last line (a crash in the middle of a write) is cut off, so every line parses.
  // Creates the parent directory. Throws te::IoError naming the path and the reason.
  explicit MetricsWriter(const std::string& path, bool append);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  // Writes `record` (must be a JSON object) as one line and flushes it.
  void write(const nlohmann::json& record);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace te
