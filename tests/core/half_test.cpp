// bfloat16 and binary16 conversions (engine/core/half.h): hand-checked values, rounding ties,
// specials, and exhaustive round trips over every 16-bit pattern.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "engine/core/half.h"
#include "engine/core/philox.h"
#include "engine/core/tensor.h"

namespace te {
namespace {

TEST(Half, Bf16KnownValuesAndTies) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(float_to_bf16(0.0f), 0x0000);
  EXPECT_EQ(float_to_bf16(-0.0f), 0x8000);
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(float_to_bf16(bits_float(0x3f808000u)), 0x3f80);
  // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up, to even.
  EXPECT_EQ(float_to_bf16(bits_float(0x3f818000u)), 0x3f82);
  EXPECT_EQ(float_to_bf16(bits_float(0x3f808001u)), 0x3f81);  // just above a tie: up
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds to inf
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(bits_float(0x7f800001u)))));  // payload in low bits
  EXPECT_EQ(bf16_to_float(0x4049), 3.140625f);
}

TEST(Half, F16KnownValuesTiesAndRange) {
  EXPECT_EQ(float_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(float_to_f16(-2.5f), 0xc100);
  EXPECT_EQ(float_to_f16(65504.0f), 0x7bff);  // the largest finite
  EXPECT_EQ(float_to_f16(65519.0f), 0x7bff);  // below the midpoint to 65536
  EXPECT_EQ(float_to_f16(65520.0f), 0x7c00);  // the midpoint rounds to even: infinity
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -14)), 0x0400);  // the smallest normal
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // the smallest subnormal
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // half of it: a tie to even (0)
  EXPECT_EQ(float_to_f16(std::ldexp(3.0f, -26)), 0x0001);  // 0.75 of it: up
  EXPECT_EQ(float_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 of it: a tie to even (2)
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: even (1.0); 1 + 3 * 2^-11: up to 1 + 2^-9.
  EXPECT_EQ(float_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(float_to_f16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);
  // The largest subnormal rounds up into the smallest normal.
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -30)), 0x0400);
  EXPECT_EQ(float_to_f16(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_TRUE(std::isnan(f16_to_float(float_to_f16(std::nanf("")))));
  EXPECT_EQ(f16_to_float(0x3555), 0.333251953125f);
}

TEST(Half, EveryPatternRoundTrips) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const auto x = static_cast<uint16_t>(h);
    const float b = bf16_to_float(x), f = f16_to_float(x);
    if (std::isnan(b)) EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(b))));
    else ASSERT_EQ(float_to_bf16(b), x) << std::hex << h;
    if (std::isnan(f)) EXPECT_TRUE(std::isnan(f16_to_float(float_to_f16(f))));
    else ASSERT_EQ(float_to_f16(f), x) << std::hex << h;
  }
}

// Random floats round to the nearest representable value (ties aside): checked against the
// neighbours of the result.
TEST(Half, RandomFloatsRoundToANearestNeighbour) {
  CounterRng rng(3, 0, 0);
  for (int i = 0; i < 200000; ++i) {
    const float x = std::ldexp(rng.uniform(-1.0f, 1.0f), static_cast<int>(rng.next_u32() % 40) - 26);
    const uint16_t h = float_to_f16(x);
    const double err = std::fabs(static_cast<double>(f16_to_float(h)) - x);
    if (std::fabs(x) < 65504.0f) {
      const uint16_t up = static_cast<uint16_t>(h + 1), down = static_cast<uint16_t>(h - 1);
      for (uint16_t n : {up, down})
        if ((n & 0x7c00) != 0x7c00 && (n & 0x7fff) != 0x7fff && ((n ^ h) & 0x8000) == 0)
          ASSERT_LE(err, std::fabs(static_cast<double>(f16_to_float(n)) - x)) << x;
    }
    const uint16_t b = float_to_bf16(x);
    const double errb = std::fabs(static_cast<double>(bf16_to_float(b)) - x);
    ASSERT_LE(errb, std::fabs(static_cast<double>(bf16_to_float(static_cast<uint16_t>(b + 1))) - x)) << x;
    ASSERT_LE(errb, std::fabs(static_cast<double>(bf16_to_float(static_cast<uint16_t>(b - 1))) - x)) << x;
  }
}

TEST(Half, TensorConversions) {
  const Tensor x = Tensor::from_vector({4}, {1.0f, -0.333333f, 65504.0f, 3e-7f});
  const Tensor b = x.to_dtype(DType::BF16), h = x.to_dtype(DType::F16);
  EXPECT_EQ(b.dtype(), DType::BF16);
  EXPECT_EQ(b.nbytes(), 8u);
  const std::vector<double> bv = b.to_f64_vector(), hv = h.to_f64_vector();
  EXPECT_EQ(bv[0], 1.0);
  EXPECT_NEAR(bv[1], -0.333333, 0.002);
  EXPECT_EQ(hv[2], 65504.0);
  EXPECT_NEAR(hv[3], 3e-7, 6e-8);  // a subnormal in f16
  EXPECT_EQ(h.to_dtype(DType::F32).to_vector(), std::vector<float>(hv.begin(), hv.end()));
  EXPECT_THROW(x.to_dtype(DType::I32), Error);
}

}  // namespace
}  // namespace te
