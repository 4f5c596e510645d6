#include "tests/data/image_files.h"

#include <png.h>
#include <zlib.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include "engine/core/philox.h"
#include "engine/data/jpeg_encode.h"

namespace te::test {

TempDir::TempDir() {
  static int counter = 0;
  const auto base = std::filesystem::temp_directory_path();
  CounterRng rng(static_cast<uint64_t>(::getpid()), static_cast<uint64_t>(++counter),
                 static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  path_ = (base / ("te_data_test_" + std::to_string(rng.next_u32()))).string();
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<uint8_t> pattern(int64_t width, int64_t height, int64_t channels, int seed) {
  std::vector<uint8_t> p(static_cast<size_t>(width * height * channels));
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x)
      for (int64_t c = 0; c < channels; ++c) {
        const double v = 128 + 90 * std::sin(0.11 * x * (c + 1) + 0.07 * y + seed) +
                         30 * std::cos(0.05 * (x + y) * (seed + 1));
        p[(y * width + x) * channels + c] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
      }
  return p;
}

std::vector<uint8_t> png_bytes(const std::vector<uint8_t>& pixels, int64_t width, int64_t height,
                               int64_t channels) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr))
    throw std::runtime_error(std::string("png size: ") + image.message);
  std::vector<uint8_t> out(size);
  if (!png_image_write_to_memory(&image, out.data(), &size, 0, pixels.data(), 0, nullptr))
    throw std::runtime_error(std::string("png write: ") + image.message);
  out.resize(size);
  return out;
}

std::vector<uint8_t> jpeg_bytes(const std::vector<uint8_t>& pixels, int64_t width, int64_t height,
                                int64_t channels, int quality, bool progressive) {
  return encode_jpeg(pixels.data(), width, height, channels, {quality, progressive});
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_text(const std::string& path, const std::string& text) {
  write_file(path, std::vector<uint8_t>(text.begin(), text.end()));
}

std::vector<uint8_t> truncated(const std::vector<uint8_t>& bytes, double keep_fraction) {
  return std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() * keep_fraction));
}

namespace {
// Offset of the first marker `code` (0xFFcode) in a JPEG, walking the marker segments.
size_t find_marker(const std::vector<uint8_t>& j, uint8_t code) {
  size_t i = 2;
  while (i + 4 <= j.size()) {
    if (j[i] != 0xFF) throw std::runtime_error("bad JPEG structure in test helper");
    if (j[i + 1] == code) return i;
    i += 2 + ((j[i + 2] << 8) | j[i + 3]);
  }
  throw std::runtime_error("marker not found in test helper");
}
}  // namespace

std::vector<uint8_t> header_only(const std::vector<uint8_t>& jpeg) {
  return std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(find_marker(jpeg, 0xDA)));
}

std::vector<uint8_t> with_huge_size(const std::vector<uint8_t>& jpeg) {
  std::vector<uint8_t> j = jpeg;
  size_t sof = 0;
  try {
    sof = find_marker(j, 0xC0);
  } catch (const std::exception&) {
    sof = find_marker(j, 0xC2);
  }
  // SOF: FF Cx len(2) precision(1) height(2) width(2)
  const uint16_t big = 30000;
  j[sof + 5] = big >> 8, j[sof + 6] = big & 0xFF, j[sof + 7] = big >> 8, j[sof + 8] = big & 0xFF;
  return j;
}

std::vector<uint8_t> flipped_middle(const std::vector<uint8_t>& bytes) {
  std::vector<uint8_t> b = bytes;
  const size_t mid = b.size() / 2;
  for (size_t i = mid; i < mid + 48 && i < b.size(); ++i) b[i] ^= 0xA5;
  return b;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::vector<uint8_t> b(n);
  CounterRng rng(seed, 7, 0);
  for (auto& v : b) v = static_cast<uint8_t>(rng.next_u32());
  if (n > 0) b[0] = 0x17;  // make sure it is not accidentally a JPEG/PNG magic
  return b;
}

std::vector<uint8_t> png_with_huge_size(const std::vector<uint8_t>& png) {
  std::vector<uint8_t> p = png;
  // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), ... CRC over type+data.
  auto put32 = [&](size_t at, uint32_t v) {
    p[at] = v >> 24, p[at + 1] = (v >> 16) & 0xFF, p[at + 2] = (v >> 8) & 0xFF, p[at + 3] = v & 0xFF;
  };
  put32(16, 100000);
  put32(20, 100000);
  const uint32_t crc = static_cast<uint32_t>(crc32(0, p.data() + 12, 17));
  put32(29, crc);
  return p;
}

}  // namespace te::test
