#include "engine/io/metrics_writer.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/core/error.h"

namespace te {
namespace {

// Drops bytes after the last newline of an existing file (a record cut short by a crash).
void cut_torn_line(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size == 0) return;
  std::ifstream in(path, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!content.empty() && content.back() == '\n') return;
  const size_t last_newline = content.rfind('\n');
  const size_t keep = last_newline == std::string::npos ? 0 : last_newline + 1;
  std::filesystem::resize_file(path, keep, ec);
  if (ec) throw IoError("cannot repair '" + path + "' (torn last line): " + ec.message());
}

}  // namespace

MetricsWriter::MetricsWriter(const std::string& path, bool append) : path_(path) {
  const auto parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) throw IoError("cannot create the directory of '" + path + "': " + ec.message());
  if (append) cut_torn_line(path);
  file_ = std::fopen(path.c_str(), append ? "ab" : "wb");
  if (!file_) throw IoError("cannot open '" + path + "' for writing: " + std::strerror(errno));
}

MetricsWriter::~MetricsWriter() {
  if (file_) std::fclose(file_);
}

void MetricsWriter::write(const nlohmann::json& record) {
  if (!record.is_object())
    throw Error("MetricsWriter::write: a metrics record must be a JSON object, got " +
                std::string(record.type_name()));
  // NaN/Inf become null (JSON has no such numbers); replace_invalid keeps odd UTF-8 writable.
  const std::string line =
      record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    throw IoError("cannot write to '" + path_ + "': " + std::strerror(errno));
}

}  // namespace te
