#include "engine/data/jpeg_encode.h"

#include <cstddef>
#include <cstdio>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>

#include <csetjmp>
#include <cstdlib>
#include <memory>
#include <string>

#include "engine/core/error.h"

namespace te {
namespace {

struct EncodeState {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
};

void on_encode_error(j_common_ptr cinfo) {
  auto* st = reinterpret_cast<EncodeState*>(cinfo->client_data);
  (*cinfo->err->format_message)(cinfo, st->message);
  longjmp(st->jump, 1);
}

}  // namespace

std::vector<uint8_t> encode_jpeg(const uint8_t* pixels, int64_t width, int64_t height,
                                 int64_t channels, const JpegEncodeOptions& options) {
  if (channels != 1 && channels != 3 && channels != 4)
    throw DataError("encode_jpeg: channels must be 1, 3 or 4, got " + std::to_string(channels));
  auto st = std::make_unique<EncodeState>();
  jpeg_compress_struct* cinfo = &st->cinfo;
  cinfo->err = jpeg_std_error(&st->err);
  st->err.error_exit = on_encode_error;
  jpeg_create_compress(cinfo);
  cinfo->client_data = st.get();
  if (setjmp(st->jump)) {
    jpeg_destroy_compress(cinfo);
    std::free(st->buffer);
    throw DataError(std::string("JPEG encoding failed: ") + st->message);
  }
  jpeg_mem_dest(cinfo, &st->buffer, &st->size);
  cinfo->image_width = static_cast<JDIMENSION>(width);
  cinfo->image_height = static_cast<JDIMENSION>(height);
  cinfo->input_components = static_cast<int>(channels);
  cinfo->in_color_space = channels == 1 ? JCS_GRAYSCALE : channels == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(cinfo);
  jpeg_set_quality(cinfo, options.quality, TRUE);
  if (options.progressive) jpeg_simple_progression(cinfo);
  jpeg_start_compress(cinfo, TRUE);
  const size_t row = static_cast<size_t>(width * channels);
  while (cinfo->next_scanline < cinfo->image_height) {
    JSAMPROW r = const_cast<uint8_t*>(pixels) + cinfo->next_scanline * row;
    jpeg_write_scanlines(cinfo, &r, 1);
  }
  jpeg_finish_compress(cinfo);
  std::vector<uint8_t> out(st->buffer, st->buffer + st->size);
  jpeg_destroy_compress(cinfo);
  std::free(st->buffer);
  return out;
}

}  // namespace te
