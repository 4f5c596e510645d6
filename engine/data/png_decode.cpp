// PNG decoding through libpng's simplified API, which converts palette, grey, 16-bit and alpha
// images to the 8-bit layout we ask for. Alpha is composited onto black. libpng's errors
// (CRC mismatch, truncated IDAT, bad zlib data) reject the file; its warnings (e.g. a known
// incorrect sRGB profile) are benign and ignored, as every viewer does.
#include <png.h>

#include <cstring>

#include "engine/data/image_decode.h"

namespace te {

DecodedImage decode_png(const uint8_t* data, size_t size, int64_t channels,
                        const DecodeLimits& limits) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, data, size))
    throw BadImageError(std::string("corrupt PNG: ") + image.message);
  if (image.width > static_cast<uint64_t>(limits.max_side) ||
      image.height > static_cast<uint64_t>(limits.max_side)) {
    const std::string dims = std::to_string(image.width) + "x" + std::to_string(image.height);
    png_image_free(&image);
    throw BadImageError("declared size " + dims + " exceeds the limit of " +
                        std::to_string(limits.max_side) + " pixels a side");
  }
  // Colour images reduced to grey go through convert_channels (ITU-R 601 weights on the stored
  // values, as for JPEG and PIL); libpng's own reduction works in linear light and differs.
  const bool colour = (image.format & PNG_FORMAT_FLAG_COLOR) != 0;
  image.format = (channels == 1 && !colour) ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  DecodedImage img;
  img.width = image.width;
  img.height = image.height;
  img.channels = image.format == PNG_FORMAT_GRAY ? 1 : 3;
  img.pixels.assign(PNG_IMAGE_SIZE(image), 0);  // black background for alpha compositing
  if (!png_image_finish_read(&image, nullptr, img.pixels.data(), 0, nullptr))
    throw BadImageError(std::string("corrupt PNG: ") + image.message);
  if (img.channels != channels) {
    img.pixels = convert_channels(img.pixels.data(), img.width * img.height, img.channels, channels);
    img.channels = channels;
  }
  img.crop = {0, 0, static_cast<double>(img.width), static_cast<double>(img.height)};
  return img;
}

}  // namespace te
