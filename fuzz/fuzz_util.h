#pragma once
// Shared pieces of the fuzz targets: splitting one input into parts, reading parameters off
// its front, and a scratch directory for parsers that read paths.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace te::fuzz {

// Parts of a multi-file input are separated by this line (the seed corpora use it too).
inline constexpr const char* kSeparator = "\n#--8<--\n";

// Splits at kSeparator into exactly `n` parts (the last takes the rest; missing ones empty).
std::vector<std::string> split_input(const uint8_t* data, size_t size, size_t n);
std::string join_parts(const std::vector<std::string>& parts);

// Reads small parameters off the front of an input; zeros once it runs out.
class Params {
 public:
  Params(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  double unit() { return byte() / 255.0; }  // in [0, 1]
  const uint8_t* rest() const { return data_ + pos_; }
  size_t rest_size() const { return size_ - pos_; }

 private:
  const uint8_t* data_;
  size_t size_, pos_ = 0;
};

// An empty directory of this process (in /dev/shm when it exists), emptied on every call.
std::string fresh_scratch_dir();
void write_bytes(const std::string& path, const std::string& bytes);
// gzip of `bytes` (zlib's gz writer, as `gzip` makes it).
std::string gzip(const std::string& bytes);

// Silences the engine's log (warnings per bad input would flood the output).
void quiet_logs();

}  // namespace te::fuzz
