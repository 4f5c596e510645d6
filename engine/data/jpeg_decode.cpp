// JPEG decoding through the libjpeg API (libjpeg-turbo on Debian 12 and Ubuntu 24.04), with
// DCT-domain scaling and partial decoding: jpeg_crop_scanline limits the columns to the iMCU
// columns the crop touches and jpeg_skip_scanlines skips the IDCT of the rows above and below
// it (their entropy-coded data is still decoded, which validates the whole file). libjpeg reports errors through a longjmp; its warnings ("premature end of data
// segment", "bad Huffman code") are treated as errors too, so a corrupt file never passes.
#include <cstddef>
#include <cstdio>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <memory>

#include "engine/data/image_decode.h"

namespace te {
namespace {

struct JpegErrorManager {
  jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

void on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  // A warning means the data is corrupt (libjpeg would otherwise paper over it with grey).
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

// State touched between setjmp and a possible longjmp lives on the heap, behind a pointer that
// is not modified after setjmp, so its contents are well defined after the jump.
struct DecodeState {
  jpeg_decompress_struct cinfo;
  JpegErrorManager err;
  std::vector<uint8_t> rows;
  std::vector<uint8_t> last_row;  // scratch for the final row read while validating
  std::string failure;  // set for our own checks (size limits), reported after cleanup
  int64_t width = 0, height = 0, components = 0, x_offset = 0, y_offset = 0;
  PixelRect crop;
  bool cmyk = false, adobe = false;
};

// A decompressor whose errors and warnings longjmp to st->err.jump; the caller must setjmp
// it before the first libjpeg call that can fail.
std::unique_ptr<DecodeState> new_decoder() {
  auto st = std::make_unique<DecodeState>();
  st->cinfo.err = jpeg_std_error(&st->err.pub);
  st->err.pub.error_exit = on_error;
  st->err.pub.emit_message = on_message;
  jpeg_create_decompress(&st->cinfo);
  return st;
}

bool has_end_marker(const uint8_t* data, size_t size) {
  for (size_t i = size; i >= 2; --i)
    if (data[i - 2] == 0xFF && data[i - 1] == 0xD9) return true;
  return false;
}

}  // namespace

DecodedImage decode_jpeg(const uint8_t* data, size_t size, int64_t channels,
                         const DecodeLimits& limits, const CropPlanner* plan, int64_t out_w,
                         int64_t out_h) {
  // Truncation check that does not depend on which rows a crop needs.
  if (!has_end_marker(data, size)) throw BadImageError("truncated JPEG (no end-of-image marker)");
  auto st = new_decoder();
  jpeg_decompress_struct* cinfo = &st->cinfo;
  if (setjmp(st->err.jump)) {  // here, not in new_decoder: the jump target must stay live
    jpeg_destroy_decompress(cinfo);
    throw BadImageError(std::string("corrupt JPEG: ") + st->err.message);
  }
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, TRUE);
  const int64_t full_w = cinfo->image_width, full_h = cinfo->image_height;
  if (full_w > limits.max_side || full_h > limits.max_side) {
    st->failure = "declared size " + std::to_string(full_w) + "x" + std::to_string(full_h) +
                  " exceeds the limit of " + std::to_string(limits.max_side) + " pixels a side";
  } else {
    st->cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
    st->adobe = cinfo->saw_Adobe_marker;
    cinfo->out_color_space = st->cmyk ? JCS_CMYK : (channels == 1 ? JCS_GRAYSCALE : JCS_RGB);
    PixelRect rect{0, 0, static_cast<double>(full_w), static_cast<double>(full_h)};
    int scale = 8;
    if (plan) {
      rect = (*plan)(full_w, full_h);
      // Largest reduction M/8 that keeps the crop at least the output size on both axes.
      const double need = std::max(out_w / std::max(rect.w, 1e-9), out_h / std::max(rect.h, 1e-9));
      scale = std::clamp(static_cast<int>(std::ceil(8.0 * need - 1e-9)), 1, 8);
      // Any M/8 (not only 1/2, 1/4, 1/8): measured on catdog, the odd-size IDCTs cost no more
      // than decoding a power-of-two scale and resampling the larger result.
    }
    cinfo->scale_num = scale;
    cinfo->scale_denom = 8;
    jpeg_start_decompress(cinfo);
    const int64_t ow = cinfo->output_width, oh = cinfo->output_height;
    const double sx = static_cast<double>(ow) / full_w, sy = static_cast<double>(oh) / full_h;
    const PixelRect scaled{rect.x * sx, rect.y * sy, rect.w * sx, rect.h * sy};
    constexpr int64_t kMargin = 2;  // the resampling filter reads a little beyond the crop
    int64_t x0 = 0, x1 = ow, y0 = 0, y1 = oh;
    if (plan) {
      x0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(scaled.x)) - kMargin);
      x1 = std::min<int64_t>(ow, static_cast<int64_t>(std::ceil(scaled.x + scaled.w)) + kMargin);
      y0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(scaled.y)) - kMargin);
      y1 = std::min<int64_t>(oh, static_cast<int64_t>(std::ceil(scaled.y + scaled.h)) + kMargin);
    }
    JDIMENSION xoff = static_cast<JDIMENSION>(x0), cw = static_cast<JDIMENSION>(x1 - x0);
    if (cw < static_cast<JDIMENSION>(ow)) jpeg_crop_scanline(cinfo, &xoff, &cw);  // widens to iMCUs
    if (y0 > 0) jpeg_skip_scanlines(cinfo, static_cast<JDIMENSION>(y0));
    st->components = cinfo->output_components;
    st->width = cw;
    st->height = y1 - y0;
    st->x_offset = xoff;
    st->y_offset = y0;
    const size_t row_bytes = static_cast<size_t>(cw) * st->components;
    st->rows.resize(row_bytes * st->height);
    while (static_cast<int64_t>(cinfo->output_scanline) < y1) {
      JSAMPROW row = st->rows.data() + (cinfo->output_scanline - y0) * row_bytes;
      jpeg_read_scanlines(cinfo, &row, 1);
    }
    st->crop = {scaled.x - xoff, scaled.y - y0, scaled.w, scaled.h};
    // Validate the rest of the file whatever the crop: entropy-decode the rows below it
    // (jpeg_skip_scanlines skips the IDCT and colour work but not the Huffman decoding; a
    // skip to the very end would skip the decoding too, hence the one row read last), then
    // read to the end-of-image marker. So a file is bad or good independently of its crop,
    // which keeps the loader's skip decisions identical across epochs and resumed runs.
    if (static_cast<int64_t>(cinfo->output_scanline) < oh) {
      if (oh - 1 > y1) jpeg_skip_scanlines(cinfo, static_cast<JDIMENSION>(oh - 1 - y1));
      st->last_row.resize(row_bytes);
      JSAMPROW row = st->last_row.data();
      while (cinfo->output_scanline < cinfo->output_height) jpeg_read_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_decompress(cinfo);
  }
  jpeg_destroy_decompress(cinfo);
  if (!st->failure.empty()) throw BadImageError(st->failure);

  DecodedImage img;
  img.width = st->width;
  img.height = st->height;
  img.channels = channels;
  img.crop = st->crop;
  if (st->components == channels) {
    img.pixels = std::move(st->rows);
  } else {
    img.pixels = convert_channels(st->rows.data(), st->width * st->height, st->components, channels,
                                  !st->cmyk || st->adobe);
  }
  return img;
}

std::pair<int64_t, int64_t> jpeg_dimensions(const uint8_t* data, size_t size) {
  auto st = new_decoder();
  jpeg_decompress_struct* cinfo = &st->cinfo;
  if (setjmp(st->err.jump)) {  // here, not in new_decoder: the jump target must stay live
    jpeg_destroy_decompress(cinfo);
    throw BadImageError(std::string("corrupt JPEG: ") + st->err.message);
  }
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, TRUE);
  st->width = cinfo->image_width;
  st->height = cinfo->image_height;
  jpeg_destroy_decompress(cinfo);
  return {st->width, st->height};
}

}  // namespace te
