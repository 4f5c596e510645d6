#pragma once
// Resampling of 8-bit interleaved images with a triangle (bilinear) filter whose support
// widens when shrinking, so downscaling averages every source pixel (antialiasing), the way
// PIL's resize(BILINEAR, box=...) does and torchvision's transforms inherit.
#include <cstdint>

#include "engine/data/image_decode.h"

namespace te {

// Resizes the rectangle `rect` of `src` (width x height x channels, rows contiguous) to
// out_w x out_h into `dst`. Filter taps stay inside the source image; weights are
// renormalised at its borders.
void resize_region(const uint8_t* src, int64_t width, int64_t height, int64_t channels,
                   const PixelRect& rect, uint8_t* dst, int64_t out_w, int64_t out_h);

}  // namespace te
