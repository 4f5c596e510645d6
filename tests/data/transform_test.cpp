// Resize, crop, flip, pad-crop and normalisation against hand-computed pixels.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "engine/data/resize.h"
#include "engine/data/transform.h"
#include "kernels/normalize.h"

namespace te {
namespace {

SampleData pixels_sample(std::vector<uint8_t> px, int64_t w, int64_t h, int64_t c) {
  SampleData s;
  s.kind = SampleData::Kind::Pixels;
  s.storage = std::move(px);
  s.own();
  s.width = w, s.height = h, s.channels = c;
  return s;
}

TEST(Resize, IdentityCopiesPixels) {
  const std::vector<uint8_t> src = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
  std::vector<uint8_t> dst(src.size());
  resize_region(src.data(), 3, 2, 3, PixelRect{0, 0, 3, 2}, dst.data(), 3, 2);
  EXPECT_EQ(dst, src);
}

TEST(Resize, DownscaleAveragesWithWidenedTriangle) {
  // 4 -> 2: output 0 centre 1.0, taps 0..2 weights .75 .75 .25 (/1.75);
  //         output 1 centre 3.0, taps 1..3 weights .25 .75 .75 (/1.75).
  const std::vector<uint8_t> src = {10, 20, 40, 80};
  std::vector<uint8_t> dst(2);
  resize_region(src.data(), 4, 1, 1, PixelRect{0, 0, 4, 1}, dst.data(), 2, 1);
  EXPECT_EQ(dst[0], 19);  // 32.5 / 1.75 = 18.57
  EXPECT_EQ(dst[1], 54);  // 95 / 1.75 = 54.29
}

TEST(Resize, UpscaleIsBilinearWithClampedEdges) {
  const std::vector<uint8_t> src = {0, 100};
  std::vector<uint8_t> dst(4);
  resize_region(src.data(), 2, 1, 1, PixelRect{0, 0, 2, 1}, dst.data(), 4, 1);
  EXPECT_EQ(dst, (std::vector<uint8_t>{0, 25, 75, 100}));
}

TEST(Resize, CropOffsetSelectsTheRegion) {
  std::vector<uint8_t> src(6 * 4);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(10 + i);
  std::vector<uint8_t> dst(2 * 2);
  resize_region(src.data(), 6, 4, 1, PixelRect{3, 1, 2, 2}, dst.data(), 2, 2);
  EXPECT_EQ(dst, (std::vector<uint8_t>{10 + 9, 10 + 10, 10 + 15, 10 + 16}));
}

TEST(Transform, EvalResizesShorterSideAndCentreCrops) {
  // 6 x 4 grey image, image_size 4, resize_ratio 1: the centre 4 x 4 (columns 1..4) unchanged.
  std::vector<uint8_t> px(6 * 4);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(3 * i + 1);
  TransformConfig cfg;
  cfg.image_size = 4;
  cfg.channels = 1;
  cfg.train = false;
  cfg.resize_ratio = 1.0;
  Transform t(cfg);
  std::vector<uint8_t> out(16);
  CounterRng rng = sample_rng(1, 0, 0);
  t.apply(pixels_sample(px, 6, 4, 1), rng, out.data());
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) EXPECT_EQ(out[y * 4 + x], px[y * 6 + x + 1]);
  // Rows [10 20 40 80] shrink to [19 54] (see Resize.DownscaleAveragesWithWidenedTriangle).
  const uint8_t row[4] = {10, 20, 40, 80};
  std::vector<uint8_t> rows(16);
  for (int i = 0; i < 16; ++i) rows[i] = row[i % 4];
  cfg.image_size = 2;
  Transform half(cfg);
  std::vector<uint8_t> out2(4);
  half.apply(pixels_sample(rows, 4, 4, 1), rng, out2.data());
  EXPECT_EQ(out2, (std::vector<uint8_t>{19, 54, 19, 54}));
}

TEST(Transform, FlipMirrorsAndBothOutcomesOccur) {
  std::vector<uint8_t> px(4 * 4 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(5 * i + 2);
  TransformConfig cfg;
  cfg.image_size = 4;
  cfg.resize_ratio = 1.0;
  cfg.augment.random_resized_crop = false;
  Transform t(cfg);
  int flipped = 0, kept = 0;
  for (int i = 0; i < 40; ++i) {
    std::vector<uint8_t> out(px.size());
    CounterRng rng = sample_rng(3, 0, i);
    t.apply(pixels_sample(px, 4, 4, 3), rng, out.data());
    if (out == px) {
      ++kept;
      continue;
    }
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x)
        for (int c = 0; c < 3; ++c) ASSERT_EQ(out[(y * 4 + x) * 3 + c], px[(y * 4 + 3 - x) * 3 + c]);
    ++flipped;
  }
  EXPECT_GT(flipped, 5);
  EXPECT_GT(kept, 5);
}

TEST(Transform, PadCropShiftsWithZeroPadding) {
  std::vector<uint8_t> px(5 * 5);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i + 1);
  TransformConfig cfg;
  cfg.image_size = 5;
  cfg.channels = 1;
  cfg.augment.pad_crop = 2;
  cfg.augment.hflip = false;
  Transform t(cfg);
  std::set<std::pair<int, int>> shifts;
  for (int i = 0; i < 60; ++i) {
    std::vector<uint8_t> out(25);
    CounterRng rng = sample_rng(9, 1, i);
    t.apply(pixels_sample(px, 5, 5, 1), rng, out.data());
    bool matched = false;
    for (int dy = -2; dy <= 2 && !matched; ++dy)
      for (int dx = -2; dx <= 2 && !matched; ++dx) {
        bool ok = true;
        for (int y = 0; y < 5; ++y)
          for (int x = 0; x < 5; ++x) {
            const int sy = y + dy, sx = x + dx;
            const uint8_t want = (sy < 0 || sy >= 5 || sx < 0 || sx >= 5) ? 0 : px[sy * 5 + sx];
            ok &= out[y * 5 + x] == want;
          }
        if (ok) {
          matched = true;
          shifts.insert({dy, dx});
        }
      }
    EXPECT_TRUE(matched) << "draw " << i;
  }
  EXPECT_GT(shifts.size(), 10u);
}

TEST(Transform, RandomResizedCropStaysInRange) {
  TransformConfig cfg;
  Transform t(cfg);
  double min_frac = 1, max_frac = 0;
  for (int i = 0; i < 2000; ++i) {
    CounterRng rng = sample_rng(5, 2, i);
    const PixelRect r = t.plan_crop(500, 375, rng);
    ASSERT_GE(r.x, 0);
    ASSERT_GE(r.y, 0);
    ASSERT_LE(r.x + r.w, 500);
    ASSERT_LE(r.y + r.h, 375);
    const double frac = r.w * r.h / (500.0 * 375.0);
    min_frac = std::min(min_frac, frac);
    max_frac = std::max(max_frac, frac);
    const double ratio = r.w / r.h;
    ASSERT_GT(ratio, 0.7);
    ASSERT_LT(ratio, 1.42);
  }
  EXPECT_GT(min_frac, 0.075);
  EXPECT_LT(min_frac, 0.15);
  EXPECT_GT(max_frac, 0.7);
}

TEST(Transform, SameRngSameOutputDifferentIndexDifferentOutput) {
  std::vector<uint8_t> px(40 * 30 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i * 37) % 251);
  TransformConfig cfg;
  cfg.image_size = 16;
  cfg.augment.color_jitter = 0.4;
  cfg.augment.random_erasing = 0.5;
  Transform t(cfg);
  std::vector<uint8_t> a(16 * 16 * 3), b(a.size()), c(a.size());
  CounterRng ra = sample_rng(1, 0, 4), rb = sample_rng(1, 0, 4), rc = sample_rng(1, 0, 5);
  t.apply(pixels_sample(px, 40, 30, 3), ra, a.data());
  t.apply(pixels_sample(px, 40, 30, 3), rb, b.data());
  t.apply(pixels_sample(px, 40, 30, 3), rc, c.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Normalize, MatchesHandComputedValues) {
  // 1 image, 1 x 2 pixels, 3 channels: out[c, 0, x] = (v / 255 - mean[c]) / std[c].
  const std::vector<float> v = {0, 51, 255, 102, 204, 153};
  Tensor x = Tensor::from_vector(Shape{1, 1, 2, 3}, v, DType::U8);
  Tensor y;
  const std::vector<float> mean = {0.5f, 0.2f, 0.4f}, std = {0.25f, 0.5f, 0.2f};
  ops::normalize_images(x, y, mean, std);
  ASSERT_EQ(y.shape(), (Shape{1, 3, 1, 2}));
  const std::vector<float> out = y.to_vector();
  const float want[6] = {(0 / 255.f - 0.5f) / 0.25f,   (102 / 255.f - 0.5f) / 0.25f,
                         (51 / 255.f - 0.2f) / 0.5f,   (204 / 255.f - 0.2f) / 0.5f,
                         (255 / 255.f - 0.4f) / 0.2f,  (153 / 255.f - 0.4f) / 0.2f};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(out[i], want[i], 1e-5) << i;
  Tensor wrong = Tensor::empty(Shape{1, 3, 2, 1});
  EXPECT_THROW(ops::normalize_images(x, wrong, mean, std), ShapeError);
  const std::vector<float> two_means(2, 0.5f);
  EXPECT_THROW(ops::normalize_images(x, y, two_means, std), ShapeError);
}

}  // namespace
}  // namespace te
