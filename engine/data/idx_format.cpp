#include "engine/data/idx_format.h"

#include <zlib.h>

#include <filesystem>
#include <cstddef>

#include "engine/core/error.h"

namespace te {

IdxArray read_idx(const std::string& path) {
  // gzread reads plain files transparently, so one path covers both.
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw DataError("cannot open IDX file '" + path + "'");
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  int n;
  while ((n = gzread(f, chunk, sizeof(chunk))) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
  int zerr = 0;
  const std::string zmsg = n < 0 ? gzerror(f, &zerr) : "";
  gzclose(f);
  if (n < 0) throw DataError("error reading IDX file '" + path + "': " + zmsg);
  auto be32 = [&](size_t at) {
    return (uint32_t(bytes[at]) << 24) | (uint32_t(bytes[at + 1]) << 16) |
           (uint32_t(bytes[at + 2]) << 8) | uint32_t(bytes[at + 3]);
  };
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0)
    throw DataError("'" + path + "' is not an IDX file (bad magic number)");
  if (bytes[2] != 0x08)
    throw DataError("IDX file '" + path + "' has element type 0x" + std::to_string(bytes[2]) +
                    "; only unsigned bytes (0x08) are supported");
  const size_t rank = bytes[3];
  if (rank == 0 || bytes.size() < 4 + 4 * rank)
    throw DataError("IDX file '" + path + "' has a truncated header");
  IdxArray a;
  size_t count = 1;
  for (size_t i = 0; i < rank; ++i) {
    a.dims.push_back(be32(4 + 4 * i));
    // A product that overflows could wrap onto the real data size and pass the check below.
    if (__builtin_mul_overflow(count, static_cast<size_t>(a.dims.back()), &count))
      throw DataError("IDX file '" + path + "' declares dimensions whose product overflows");
  }
  const size_t header = 4 + 4 * rank;
  if (bytes.size() - header != count)
    throw DataError("IDX file '" + path + "' holds " + std::to_string(bytes.size() - header) +
                    " data bytes but its header declares " + std::to_string(count));
  a.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return a;
}

IdxPaths idx_files_for(const std::string& dir, const std::string& split) {
  namespace fs = std::filesystem;
  const std::string prefix = (split == "test" || split == "t10k") ? "t10k" : split;
  IdxPaths p;
  for (const char* ext : {"", ".gz"}) {
    const fs::path images = fs::path(dir) / (prefix + "-images-idx3-ubyte" + ext);
    const fs::path labels = fs::path(dir) / (prefix + "-labels-idx1-ubyte" + ext);
    if (p.images.empty() && fs::exists(images)) p.images = images.string();
    if (p.labels.empty() && fs::exists(labels)) p.labels = labels.string();
  }
  return p;
}

bool has_idx_files(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().filename().string().find("-images-idx3-ubyte") != std::string::npos) return true;
  return false;
}

}  // namespace te
