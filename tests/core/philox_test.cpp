#include <gtest/gtest.h>

#include <cmath>

#include "engine/core/philox.h"

namespace te {

// Known-answer test from the Random123 distribution (philox4x32-10, kat_vectors):
// counter 0, key 0 -> 6627e8d5 e169c58d bc57ac4c 9b00dbd8.
TEST(Philox, MatchesRandom123KnownAnswer) {
  const Philox4 r = philox4x32(0, 0, 0);
  EXPECT_EQ(r.v[0], 0x6627e8d5u);
  EXPECT_EQ(r.v[1], 0xe169c58du);
  EXPECT_EQ(r.v[2], 0xbc57ac4cu);
  EXPECT_EQ(r.v[3], 0x9b00dbd8u);
}

TEST(CounterRng, SameIdentitySameNumbers) {
  CounterRng a(42, 3, 17), b(42, 3, 17), c(42, 3, 18);
  bool differs = false;
  for (int i = 0; i < 10; ++i) {
    const uint32_t x = a.next_u32();
    EXPECT_EQ(x, b.next_u32());
    differs |= x != c.next_u32();
  }
  EXPECT_TRUE(differs);
}

TEST(CounterRng, UniformAndNormalMoments) {
  CounterRng r(1, 2, 3);
  double su = 0, sn = 0, sn2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const float u = r.uniform();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    su += u;
    const double z = r.normal();
    sn += z;
    sn2 += z * z;
  }
  EXPECT_NEAR(su / n, 0.5, 0.005);
  EXPECT_NEAR(sn / n, 0.0, 0.01);
  EXPECT_NEAR(sn2 / n, 1.0, 0.02);
}

}  // namespace te
