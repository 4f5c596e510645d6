#include "fuzz_util.h"

#include <spdlog/spdlog.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

namespace te::fuzz {
namespace fs = std::filesystem;

std::vector<std::string> split_input(const uint8_t* data, size_t size, size_t n) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string sep = kSeparator;
  std::vector<std::string> parts;
  size_t at = 0;
  while (parts.size() + 1 < n) {
    const size_t next = text.find(sep, at);
    if (next == std::string::npos) break;
    parts.push_back(text.substr(at, next - at));
    at = next + sep.size();
  }
  parts.push_back(text.substr(std::min(at, text.size())));
  parts.resize(n);
  return parts;
}

std::string join_parts(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? std::string(kSeparator) : "") + parts[i];
  return out;
}

// The scratch directory, removed when the fuzzer exits normally (-max_total_time, -runs).
struct ScratchDir {
  std::string path = (fs::exists("/dev/shm") ? std::string("/dev/shm") : fs::temp_directory_path().string()) +
                     "/te_fuzz_" + std::to_string(::getpid());
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string fresh_scratch_dir() {
  static const ScratchDir dir;
  std::error_code ec;
  fs::remove_all(dir.path, ec);
  fs::create_directories(dir.path);
  return dir.path;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string gzip(const std::string& bytes) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // +16: gzip framing
  std::string out(deflateBound(&z, bytes.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void quiet_logs() { spdlog::set_level(spdlog::level::off); }

}  // namespace te::fuzz
