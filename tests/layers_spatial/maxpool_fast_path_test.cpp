// Max pooling's unclipped-window fast path (kernels/cpu/pool.cpp: 2x2 unrolled, any other
// undilated window with fixed bounds) against a direct reference that clips every window, on
// inputs with ties, NaN and -inf, for shapes mixing inside and border windows.
#include <cmath>
#include <limits>

#include "engine/core/philox.h"
#include "tests/layers_spatial/spatial_util.h"

namespace te::testing {
namespace {

struct PoolCase {
  const char* yaml;
  int64_t k, s, p;
  bool ceil;
};

int64_t out_size(int64_t in, const PoolCase& c) {
  const int64_t span = in + 2 * c.p - c.k;
  int64_t o = (c.ceil ? (span + c.s - 1) / c.s : span / c.s) + 1;
  if (c.ceil && (o - 1) * c.s >= in + c.p) --o;  // PyTorch: the last window starts inside
  return o;
}

// Values from a small set (ties are common), with a few NaN and -inf.
Tensor special_input(const Shape& shape, uint64_t seed) {
  Tensor x = Tensor::empty(shape);
  CounterRng rng(seed, 0, 0);
  float* v = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    const uint64_t r = rng.below(40);
    v[i] = r == 0   ? std::numeric_limits<float>::quiet_NaN()
           : r == 1 ? -std::numeric_limits<float>::infinity()
                    : static_cast<float>(static_cast<int64_t>(r % 7) - 3);
  }
  return x;
}

TEST(MaxPool2dFastPath, MatchesClippedReferenceWithTiesNanAndInfinity) {
  const PoolCase cases[] = {{"{kernel: 2, stride: 2}", 2, 2, 0, false},
                            {"{kernel: 2, stride: 2, ceil_mode: true}", 2, 2, 0, true},
                            {"{kernel: 3, stride: 2, padding: 1}", 3, 2, 1, false},
                            {"{kernel: 2, stride: 1, padding: 1}", 2, 1, 1, false}};
  const Shape shape{2, 3, 9, 11};
  for (const PoolCase& c : cases) {
    SCOPED_TRACE(c.yaml);
    auto pool = make_layer("maxpool2d", c.yaml);
    const Tensor x = special_input(shape, 5);
    const Tensor y = run_forward(*pool, x);
    const int64_t oh = out_size(shape[2], c), ow = out_size(shape[3], c);
    ASSERT_EQ(y.shape(), (Shape{2, 3, oh, ow}));
    const float* xv = x.data<float>();
    const float* yv = y.data<float>();
    for (int64_t plane = 0; plane < 6; ++plane)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          float best = -std::numeric_limits<float>::infinity();
          for (int64_t a = std::max<int64_t>(0, i * c.s - c.p);
               a < std::min<int64_t>(shape[2], i * c.s - c.p + c.k); ++a)
            for (int64_t b = std::max<int64_t>(0, j * c.s - c.p);
                 b < std::min<int64_t>(shape[3], j * c.s - c.p + c.k); ++b) {
              const float v = xv[plane * 99 + a * 11 + b];
              if (v > best || std::isnan(v)) best = v;
            }
          const float got = yv[(plane * oh + i) * ow + j];
          if (std::isnan(best))
            EXPECT_TRUE(std::isnan(got)) << "plane " << plane << " at " << i << "," << j;
          else
            EXPECT_EQ(got, best) << "plane " << plane << " at " << i << "," << j;
        }
  }
}

}  // namespace
}  // namespace te::testing
