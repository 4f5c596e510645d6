#include "engine/data/dataset.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/core/error.h"
#include "engine/data/idx_format.h"
#include "engine/data/shard_format.h"

namespace te {

Dataset::~Dataset() = default;

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw DataError("cannot read '" + path + "': " + std::strerror(errno));
  // One read of the size the file has now, then a check for more (the file may grow).
  std::vector<uint8_t> bytes;
  struct stat st {};
  if (::fstat(::fileno(f), &st) == 0 && st.st_size > 0) bytes.resize(static_cast<size_t>(st.st_size));
  size_t used = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), f);
  bytes.resize(used);
  uint8_t chunk[16384];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
  const bool failed = std::ferror(f);
  const int err = errno;
  std::fclose(f);
  if (failed) throw DataError("error reading '" + path + "': " + std::strerror(err));
  return bytes;
}

std::shared_ptr<Dataset> open_dataset(const std::string& path, const DatasetOptions& opts) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st))
    throw DataError("data set '" + path + "' does not exist (expected a folder of class folders, "
                    "a shard folder, an IDX folder or a list file)");
  if (fs::is_directory(st)) {
    if (fs::exists(fs::path(path) / kShardMetaFile)) return open_shards(path);
    if (has_idx_files(path)) return open_idx(path, opts.split);
    return open_image_folder(path);
  }
  // An IDX images file named directly: its folder, with the split from its name.
  const std::string name = fs::path(path).filename().string();
  const size_t idx_at = name.find("-images-idx3-ubyte");
  if (idx_at != std::string::npos) {
    const std::string dir = fs::path(path).parent_path().string();
    return open_idx(dir.empty() ? "." : dir, name.substr(0, idx_at));
  }
  return open_list_file(path);
}

}  // namespace te
