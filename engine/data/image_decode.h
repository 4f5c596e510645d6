#pragma once
// Decoding encoded images (JPEG through libjpeg's API, PNG through libpng) into 8-bit pixels,
// rows top to bottom, channels interleaved (HWC). The format is decided by the magic bytes,
// never by the file name. Anything the decoders reject or warn about (truncated data, bad
// Huffman codes, CRC errors), and absurd declared sizes, throw BadImageError with the reason;
// the caller adds the file name.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/error.h"

namespace te {

// The data of one sample cannot be used (corrupt, not an image, absurd size). The loader
// skips such samples; a plain DataError (missing or unreadable file) stops the run.
class BadImageError : public DataError {
 public:
  using DataError::DataError;
};

enum class ImageFormat { Unknown, Jpeg, Png };
ImageFormat detect_image_format(const uint8_t* data, size_t size);
const char* image_format_name(ImageFormat format);

// A rectangle in pixel coordinates (fractional: crops are mapped through scaled decodes).
struct PixelRect {
  double x = 0, y = 0, w = 0, h = 0;
};

struct DecodeLimits {
  int64_t max_side = 16384;  // larger declared width or height: rejected before decoding
};

// Decoded pixels. `crop` is the requested rectangle in this buffer's coordinates (the buffer
// may hold a scaled-down part of the image around it).
struct DecodedImage {
  std::vector<uint8_t> pixels;
  int64_t width = 0, height = 0, channels = 0;
  PixelRect crop;
};

// Given the full image size, returns the rectangle (in full-resolution pixels) that will be
// resized to the output; lets JPEG decoding read the header first and decode only that part.
using CropPlanner = std::function<PixelRect(int64_t width, int64_t height)>;

// Decodes the whole image into `channels` (1 or 3) channels.
DecodedImage decode_image(const uint8_t* data, size_t size, int64_t channels,
                          const DecodeLimits& limits);

// Decodes the part of the image `plan` chooses. For JPEG it picks the largest DCT scale
// (M/8) that keeps the crop at least out_w x out_h and decodes only the rows and iMCU columns
// the crop needs (plus a 2-pixel margin for the resampling filter); other formats decode whole.
DecodedImage decode_image_crop(const uint8_t* data, size_t size, int64_t channels,
                               const DecodeLimits& limits, const CropPlanner& plan,
                               int64_t out_w, int64_t out_h);

// Format-specific entry points (used by the two above). `plan` may be null: whole image.
DecodedImage decode_jpeg(const uint8_t* data, size_t size, int64_t channels,
                         const DecodeLimits& limits, const CropPlanner* plan, int64_t out_w,
                         int64_t out_h);
// Width and height from a JPEG's header, without decoding (BadImageError when unreadable).
std::pair<int64_t, int64_t> jpeg_dimensions(const uint8_t* data, size_t size);
DecodedImage decode_png(const uint8_t* data, size_t size, int64_t channels,
                        const DecodeLimits& limits);

// Converts interleaved pixels between 1, 3 and 4 (CMYK, Adobe-inverted) channel layouts into
// 1 or 3 channels. Gray -> RGB replicates; RGB -> gray uses ITU-R 601 luma weights.
std::vector<uint8_t> convert_channels(const uint8_t* src, int64_t pixels, int64_t src_channels,
                                      int64_t dst_channels, bool cmyk_inverted = true);

}  // namespace te
