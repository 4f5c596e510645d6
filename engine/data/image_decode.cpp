#include "engine/data/image_decode.h"

#include <cstring>

namespace te {

ImageFormat detect_image_format(const uint8_t* data, size_t size) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return ImageFormat::Jpeg;
  if (size >= 8 && std::memcmp(data, kPng, 8) == 0) return ImageFormat::Png;
  return ImageFormat::Unknown;
}

const char* image_format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::Jpeg: return "JPEG";
    case ImageFormat::Png: return "PNG";
    case ImageFormat::Unknown: break;
  }
  return "unknown";
}

namespace {
[[noreturn]] void throw_not_image(const uint8_t* data, size_t size) {
  if (size == 0) throw BadImageError("empty file");
  throw BadImageError("not a JPEG or PNG image (unrecognised magic bytes, " + std::to_string(size) +
                      " bytes)");
}
}  // namespace

DecodedImage decode_image(const uint8_t* data, size_t size, int64_t channels,
                          const DecodeLimits& limits) {
  switch (detect_image_format(data, size)) {
    case ImageFormat::Jpeg: return decode_jpeg(data, size, channels, limits, nullptr, 0, 0);
    case ImageFormat::Png: return decode_png(data, size, channels, limits);
    case ImageFormat::Unknown: break;
  }
  throw_not_image(data, size);
}

DecodedImage decode_image_crop(const uint8_t* data, size_t size, int64_t channels,
                               const DecodeLimits& limits, const CropPlanner& plan,
                               int64_t out_w, int64_t out_h) {
  switch (detect_image_format(data, size)) {
    case ImageFormat::Jpeg: return decode_jpeg(data, size, channels, limits, &plan, out_w, out_h);
    case ImageFormat::Png: {
      DecodedImage img = decode_png(data, size, channels, limits);
      img.crop = plan(img.width, img.height);
      return img;
    }
    case ImageFormat::Unknown: break;
  }
  throw_not_image(data, size);
}

std::vector<uint8_t> convert_channels(const uint8_t* src, int64_t pixels, int64_t src_channels,
                                      int64_t dst_channels, bool cmyk_inverted) {
  if (dst_channels != 1 && dst_channels != 3)
    throw DataError("images can have 1 or 3 channels, not " + std::to_string(dst_channels));
  std::vector<uint8_t> out(static_cast<size_t>(pixels * dst_channels));
  if (src_channels == dst_channels) {
    std::memcpy(out.data(), src, out.size());
    return out;
  }
  for (int64_t i = 0; i < pixels; ++i) {
    const uint8_t* s = src + i * src_channels;
    int r, g, b;
    if (src_channels == 1) {
      r = g = b = s[0];
    } else if (src_channels == 4) {
      // Adobe CMYK JPEGs store inverted values (255 = no ink), so R = C * K / 255.
      const int c = cmyk_inverted ? s[0] : 255 - s[0], m = cmyk_inverted ? s[1] : 255 - s[1];
      const int y = cmyk_inverted ? s[2] : 255 - s[2], k = cmyk_inverted ? s[3] : 255 - s[3];
      r = (c * k + 127) / 255;
      g = (m * k + 127) / 255;
      b = (y * k + 127) / 255;
    } else {
      r = s[0], g = s[1], b = s[2];
    }
    uint8_t* d = out.data() + i * dst_channels;
    if (dst_channels == 1) {
      d[0] = static_cast<uint8_t>((299 * r + 587 * g + 114 * b + 500) / 1000);
    } else {
      d[0] = static_cast<uint8_t>(r), d[1] = static_cast<uint8_t>(g), d[2] = static_cast<uint8_t>(b);
    }
  }
  return out;
}

}  // namespace te
