#pragma once
// JPEG encoding through the libjpeg API: used by `trainer pack` (shards store re-encoded,
// pre-resized images) and by the tests to make unusual files (grey, CMYK, progressive).
#include <cstdint>
#include <vector>

namespace te {

struct JpegEncodeOptions {
  int quality = 90;
  bool progressive = false;
};

// `pixels` is height x width x channels: 1 (grey), 3 (RGB) or 4 (CMYK, stored Adobe-inverted).
std::vector<uint8_t> encode_jpeg(const uint8_t* pixels, int64_t width, int64_t height,
                                 int64_t channels, const JpegEncodeOptions& options = {});

}  // namespace te
