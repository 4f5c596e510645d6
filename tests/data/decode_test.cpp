// Decoding: formats by magic bytes, unusual valid images, partial JPEG decoding, and every
// kind of bad input rejected with a reason.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "engine/data/image_decode.h"
#include "engine/data/resize.h"
#include "tests/data/image_files.h"

namespace te {
namespace {

double mean_abs_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  EXPECT_EQ(a.size(), b.size());
  double s = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) s += std::abs(int(a[i]) - int(b[i]));
  return a.empty() ? 0 : s / a.size();
}

TEST(Decode, FormatComesFromMagicBytes) {
  const auto px = test::pattern(7, 5, 3);
  const auto png = test::png_bytes(px, 7, 5, 3);
  const auto jpg = test::jpeg_bytes(px, 7, 5, 3);
  EXPECT_EQ(detect_image_format(png.data(), png.size()), ImageFormat::Png);
  EXPECT_EQ(detect_image_format(jpg.data(), jpg.size()), ImageFormat::Jpeg);
  const std::string text = "hello";
  EXPECT_EQ(detect_image_format(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
            ImageFormat::Unknown);
}

TEST(Decode, PngIsExactIncludingSevenByFive) {
  const auto px = test::pattern(7, 5, 3, 1);
  const auto png = test::png_bytes(px, 7, 5, 3);
  const DecodedImage img = decode_image(png.data(), png.size(), 3, {});
  EXPECT_EQ(img.width, 7);
  EXPECT_EQ(img.height, 5);
  EXPECT_EQ(img.pixels, px);
}

TEST(Decode, RgbaPngIsCompositedOntoBlack) {
  std::vector<uint8_t> px = {200, 100, 50, 255, 200, 100, 50, 0, 10, 20, 30, 255, 40, 80, 120, 255};
  const auto png = test::png_bytes(px, 2, 2, 4);
  const DecodedImage img = decode_image(png.data(), png.size(), 3, {});
  const std::vector<uint8_t> want = {200, 100, 50, 0, 0, 0, 10, 20, 30, 40, 80, 120};
  EXPECT_EQ(img.pixels, want);
}

TEST(Decode, GreyPngToThreeChannelsAndRgbToGrey) {
  const auto g = test::pattern(6, 4, 1, 2);
  const auto png = test::png_bytes(g, 6, 4, 1);
  const DecodedImage rgb = decode_image(png.data(), png.size(), 3, {});
  for (size_t i = 0; i < g.size(); ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(rgb.pixels[i * 3 + c], g[i]);
  // RGB -> grey uses 0.299 R + 0.587 G + 0.114 B.
  const std::vector<uint8_t> px = {255, 0, 0, 0, 255, 0, 0, 0, 255, 100, 100, 100};
  const auto png2 = test::png_bytes(px, 4, 1, 3);
  const DecodedImage grey = decode_image(png2.data(), png2.size(), 1, {});
  EXPECT_EQ(grey.pixels, (std::vector<uint8_t>{76, 150, 29, 100}));
}

TEST(Decode, JpegBaselineProgressiveAndGrey) {
  const auto px = test::pattern(40, 30, 3, 3);
  for (bool progressive : {false, true}) {
    const auto jpg = test::jpeg_bytes(px, 40, 30, 3, 98, progressive);
    const DecodedImage img = decode_image(jpg.data(), jpg.size(), 3, {});
    ASSERT_EQ(img.width, 40);
    ASSERT_EQ(img.height, 30);
    EXPECT_LT(mean_abs_diff(img.pixels, px), 4.0) << "progressive=" << progressive;
  }
  const auto g = test::pattern(40, 30, 1, 4);
  const auto gj = test::jpeg_bytes(g, 40, 30, 1, 98);
  const DecodedImage rgb = decode_image(gj.data(), gj.size(), 3, {});
  std::vector<uint8_t> red(g.size());
  for (size_t i = 0; i < g.size(); ++i) {
    EXPECT_EQ(rgb.pixels[i * 3], rgb.pixels[i * 3 + 1]);
    EXPECT_EQ(rgb.pixels[i * 3], rgb.pixels[i * 3 + 2]);
    red[i] = rgb.pixels[i * 3];
  }
  EXPECT_LT(mean_abs_diff(red, g), 4.0);
}

TEST(Decode, CmykJpegBecomesRgb) {
  // Adobe CMYK stores inverted ink: (C, M, Y, K) = (200, 100, 50, 255) is RGB (200, 100, 50).
  std::vector<uint8_t> px;
  for (int i = 0; i < 16 * 16; ++i) px.insert(px.end(), {200, 100, 50, 255});
  const auto jpg = test::jpeg_bytes(px, 16, 16, 4, 100);
  const DecodedImage img = decode_image(jpg.data(), jpg.size(), 3, {});
  ASSERT_EQ(img.pixels.size(), 16u * 16 * 3);
  EXPECT_NEAR(img.pixels[0], 200, 3);
  EXPECT_NEAR(img.pixels[1], 100, 3);
  EXPECT_NEAR(img.pixels[2], 50, 3);
}

TEST(Decode, PartialJpegDecodeMatchesFullDecode) {
  const auto px = test::pattern(160, 120, 3, 5);
  const auto jpg = test::jpeg_bytes(px, 160, 120, 3, 95);
  const DecodedImage full = decode_image(jpg.data(), jpg.size(), 3, {});
  // Crop 50x40 at (70, 44), output 50x40: no DCT scaling, so pixels must be identical.
  CropPlanner plan = [](int64_t, int64_t) { return PixelRect{70, 44, 50, 40}; };
  const DecodedImage part = decode_image_crop(jpg.data(), jpg.size(), 3, {}, plan, 50, 40);
  EXPECT_LT(part.width, 160);
  EXPECT_LT(part.height, 120);
  const int64_t ox = static_cast<int64_t>(part.crop.x), oy = static_cast<int64_t>(part.crop.y);
  EXPECT_DOUBLE_EQ(part.crop.w, 50);
  int64_t differing = 0;
  for (int64_t y = 0; y < 40; ++y)
    for (int64_t x = 0; x < 50 * 3; ++x)
      differing += part.pixels[(oy + y) * part.width * 3 + ox * 3 + x] !=
                   full.pixels[(44 + y) * 160 * 3 + 70 * 3 + x];
  EXPECT_EQ(differing, 0);
  // A small output lets the decoder use a DCT scale: the crop is then smaller than 50x40 but
  // still at least the output size.
  const DecodedImage scaled = decode_image_crop(jpg.data(), jpg.size(), 3, {}, plan, 20, 16);
  EXPECT_LT(scaled.crop.w, 50);
  EXPECT_GE(scaled.crop.w, 20);
  EXPECT_GE(scaled.crop.h, 16);
}

TEST(Decode, ScaledPartialDecodeResamplesLikeTheFullImage) {
  // The crop mapped through a 3/8 DCT scale must land on the same picture content: resizing it
  // must match resizing the same rectangle of the full-resolution decode.
  const auto px = test::pattern(400, 300, 3, 8);
  const auto jpg = test::jpeg_bytes(px, 400, 300, 3, 95);
  const PixelRect rect{123, 67, 200, 150};
  CropPlanner plan = [&](int64_t w, int64_t h) {
    EXPECT_EQ(w, 400);
    EXPECT_EQ(h, 300);
    return rect;
  };
  const DecodedImage part = decode_image_crop(jpg.data(), jpg.size(), 3, {}, plan, 50, 38);
  EXPECT_NEAR(part.crop.w, 75, 0.5);  // 200 * 3/8
  std::vector<uint8_t> a(50 * 38 * 3), b(a.size());
  resize_region(part.pixels.data(), part.width, part.height, 3, part.crop, a.data(), 50, 38);
  const DecodedImage full = decode_image(jpg.data(), jpg.size(), 3, {});
  resize_region(full.pixels.data(), 400, 300, 3, rect, b.data(), 50, 38);
  // DCT-domain scaling filters differently from the triangle filter: a few levels apart.
  EXPECT_LT(mean_abs_diff(a, b), 5.0);
  // A rectangle shifted by 4 output pixels differs clearly: the comparison has teeth.
  std::vector<uint8_t> c(a.size());
  resize_region(full.pixels.data(), 400, 300, 3, PixelRect{rect.x + 16, rect.y, rect.w, rect.h},
                c.data(), 50, 38);
  EXPECT_GT(mean_abs_diff(a, c), 3 * mean_abs_diff(a, b));
}

struct BadCase {
  std::string name;
  std::vector<uint8_t> bytes;
  std::string reason;  // substring of the message
};

std::vector<BadCase> bad_cases() {
  const auto px = test::pattern(64, 48, 3, 6);
  const auto jpg = test::jpeg_bytes(px, 64, 48, 3, 90);
  const auto png = test::png_bytes(px, 64, 48, 3);
  const std::string text = "this is a text file, not an image\n";
  return {
      {"truncated jpeg", test::truncated(jpg, 0.6), "truncated"},
      {"truncated png", test::truncated(png, 0.6), "PNG"},
      {"empty", {}, "empty"},
      {"random bytes", test::random_bytes(4096, 1), "not a JPEG or PNG"},
      {"text", std::vector<uint8_t>(text.begin(), text.end()), "not a JPEG or PNG"},
      {"jpeg header only", test::header_only(jpg), "truncated"},
      {"jpeg header only with end marker",
       [&] { auto h = test::header_only(jpg); h.push_back(0xFF); h.push_back(0xD9); return h; }(),
       "corrupt JPEG"},
      {"huge jpeg", test::with_huge_size(jpg), "exceeds the limit"},
      {"huge png", test::png_with_huge_size(png), "exceeds the limit"},
      {"flipped jpeg", test::flipped_middle(jpg), "corrupt JPEG"},
      {"flipped png", test::flipped_middle(png), "PNG"},
  };
}

TEST(Decode, BadInputIsRejectedWithAReason) {
  for (const BadCase& c : bad_cases()) {
    for (int64_t channels : {1, 3}) {
      try {
        decode_image(c.bytes.data(), c.bytes.size(), channels, {});
        ADD_FAILURE() << c.name << ": decoded without error";
      } catch (const BadImageError& e) {
        EXPECT_NE(std::string(e.what()).find(c.reason), std::string::npos)
            << c.name << ": message '" << e.what() << "' lacks '" << c.reason << "'";
      }
    }
  }
}

TEST(Decode, CorruptionBelowTheCropIsStillFound) {
  // Only the top quarter is wanted, but the damage near the end of the data must still be seen,
  // so whether a file is bad does not depend on the crop.
  const auto px = test::pattern(64, 256, 3, 9);
  auto jpg = test::jpeg_bytes(px, 64, 256, 3, 90);
  for (size_t i = jpg.size() * 85 / 100; i < jpg.size() * 85 / 100 + 48; ++i) jpg[i] ^= 0xA5;
  CropPlanner top = [](int64_t, int64_t) { return PixelRect{0, 0, 64, 64}; };
  EXPECT_THROW(decode_image_crop(jpg.data(), jpg.size(), 3, {}, top, 64, 64), BadImageError);
  EXPECT_THROW(decode_image_crop(jpg.data(), jpg.size(), 3, {}, top, 16, 16), BadImageError);
}

TEST(Decode, SizeLimitIsConfigurable) {
  const auto px = test::pattern(64, 48, 3, 7);
  const auto jpg = test::jpeg_bytes(px, 64, 48, 3);
  EXPECT_THROW(decode_image(jpg.data(), jpg.size(), 3, DecodeLimits{32}), BadImageError);
  EXPECT_NO_THROW(decode_image(jpg.data(), jpg.size(), 3, DecodeLimits{64}));
}

}  // namespace
}  // namespace te
