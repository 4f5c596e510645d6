#pragma once
// Test helpers: temporary folders and image files written with libjpeg / libpng, including
// deliberately broken ones.
#include <cstdint>
#include <string>
#include <vector>

namespace te::test {

// A fresh folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A smooth, non-constant test pattern: height x width x channels, varying with `seed`.
std::vector<uint8_t> pattern(int64_t width, int64_t height, int64_t channels, int seed = 0);

std::vector<uint8_t> png_bytes(const std::vector<uint8_t>& pixels, int64_t width, int64_t height,
                               int64_t channels);  // 1 (grey), 3 (RGB), 4 (RGBA)
std::vector<uint8_t> jpeg_bytes(const std::vector<uint8_t>& pixels, int64_t width, int64_t height,
                                int64_t channels, int quality = 95, bool progressive = false);

void write_file(const std::string& path, const std::vector<uint8_t>& bytes);
void write_text(const std::string& path, const std::string& text);

// Broken variants of a valid JPEG.
std::vector<uint8_t> truncated(const std::vector<uint8_t>& bytes, double keep_fraction);
std::vector<uint8_t> header_only(const std::vector<uint8_t>& jpeg);     // up to the first SOS
std::vector<uint8_t> with_huge_size(const std::vector<uint8_t>& jpeg);  // SOF says 30000x30000
std::vector<uint8_t> flipped_middle(const std::vector<uint8_t>& bytes); // bytes inverted mid-file
std::vector<uint8_t> random_bytes(size_t n, uint32_t seed);
// A PNG whose IHDR declares 100000 x 100000 pixels (CRC fixed up, so only the size is wrong).
std::vector<uint8_t> png_with_huge_size(const std::vector<uint8_t>& png);

}  // namespace te::test
