#include <gtest/gtest.h>

#include "engine/core/parallel.h"
#include "engine/core/philox.h"
#include "engine/layers/dropout.h"
#include "tests/layers_pointwise/make_layer.h"

namespace te::testing {
namespace {

RunContext at(uint64_t seed, uint64_t step, bool training = true) {
  RunContext c;
  c.seed = seed;
  c.step = step;
  c.training = training;
  return c;
}

// Inputs in [0.5, 1.5): never zero, so a zero output means "dropped".
Tensor positive(const Shape& shape, uint64_t seed) { return random_tensor(shape, seed, 0.5, 1.5); }

std::vector<bool> mask_of(const Tensor& y) {
  std::vector<bool> m;
  for (double v : y.to_f64_vector()) m.push_back(v != 0.0);
  return m;
}

TEST(Dropout, KeptValuesAreScaledAndFractionIsOneMinusP) {
  auto drop = make_layer("dropout", "{p: 0.3}");
  const Tensor x = positive({4, 5, 50, 100}, 1);
  const Tensor y = run_forward(*drop, {x}, at(7, 3));
  const auto xv = x.to_f64_vector(), yv = y.to_f64_vector();
  int64_t kept = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0.0) continue;
    ++kept;
    ASSERT_NEAR(yv[i], xv[i] / 0.7, 1e-12) << i;
  }
  // 100000 Bernoulli(0.7) draws: standard deviation 0.00145 of the fraction.
  EXPECT_NEAR(static_cast<double>(kept) / xv.size(), 0.7, 0.006);
}

TEST(Dropout, MaskDependsOnlyOnSeedStepAndLayer) {
  auto drop = make_layer("dropout", "{p: 0.5}", "drop1");
  const Tensor x = positive({3, 7, 33, 67}, 2);  // odd sizes; several tasks; blocks of 4 straddle rows
  set_num_threads(1);
  const auto a = mask_of(run_forward(*drop, {x}, at(1, 5)));
  set_num_threads(3);
  const auto b = mask_of(run_forward(*drop, {x}, at(1, 5)));
  set_num_threads(2);
  EXPECT_EQ(a, b) << "same (seed, step) must give the same mask with any thread count";
  EXPECT_NE(a, mask_of(run_forward(*drop, {x}, at(1, 6)))) << "another step, another mask";
  EXPECT_NE(a, mask_of(run_forward(*drop, {x}, at(2, 5)))) << "another seed, another mask";
  auto other = make_layer("dropout", "{p: 0.5}", "drop2");
  EXPECT_NE(a, mask_of(run_forward(*other, {x}, at(1, 5)))) << "another layer, another mask";
  // The documented definition (kernels/dropout.h), which the CUDA kernel must reproduce:
  // element i keeps iff draw (i % 4) of CounterRng(key, step, i / 4) is >= p.
  const uint64_t key = static_cast<Dropout&>(*drop).mask_key(1);
  for (size_t i = 0; i < a.size(); i += (i < 64 ? 1 : 37)) {
    CounterRng rng(key, 5, i / 4);
    float u = 0;
    for (size_t k = 0; k <= i % 4; ++k) u = rng.uniform();
    ASSERT_EQ(a[i], u >= 0.5f) << i;
  }
  // Float tensors get the same mask as double ones.
  EXPECT_EQ(a, mask_of(run_forward(*drop, {x.to_dtype(DType::F32)}, at(1, 5))));
}

TEST(Dropout, EvalAndZeroProbabilityAreIdentity) {
  const Tensor x = positive({2, 3, 4, 5}, 3);
  auto drop = make_layer("dropout");
  EXPECT_EQ(static_cast<Dropout&>(*drop).p(), 0.5);
  EXPECT_EQ(run_forward(*drop, {x}, at(1, 1, false)).to_f64_vector(), x.to_f64_vector());
  auto none = make_layer("dropout", "{p: 0.0}");
  EXPECT_EQ(run_forward(*none, {x}, at(1, 1)).to_f64_vector(), x.to_f64_vector());
  const Tensor dy = random_tensor(x.shape(), 4);
  EXPECT_EQ(run_backward1(*drop, x, x, dy, at(1, 1, false)).to_f64_vector(), dy.to_f64_vector());
}

TEST(Dropout, BackwardUsesTheForwardMask) {
  auto drop = make_layer("dropout", "{p: 0.25}");
  for (const Shape& shape : {Shape{2, 3, 4, 5}, Shape{1, 9}, Shape{3, 1, 7, 3}}) {
    SCOPED_TRACE(shape.str());
    const Tensor x = positive(shape, 5);
    const Tensor y = run_forward(*drop, {x}, at(11, 2));
    const Tensor dy = random_tensor(shape, 6);
    const auto dx = run_backward1(*drop, x, y, dy, at(11, 2)).to_f64_vector();
    const auto yv = y.to_f64_vector(), dyv = dy.to_f64_vector();
    for (size_t i = 0; i < yv.size(); ++i)
      ASSERT_NEAR(dx[i], yv[i] != 0.0 ? dyv[i] / 0.75 : 0.0, 1e-12) << i;
    // The forward is deterministic for a fixed context, so finite differences apply.
    GradCheckOptions o;
    o.ctx = at(11, 2);
    expect_gradients_match(*drop, {random_tensor(shape, 7)}, o);
    expect_accumulate_mode_adds(*drop, {x}, o.ctx);
  }
}

TEST(Dropout, ProbabilityOutOfRangeIsAConfigError) {
  EXPECT_THROW(make_layer("dropout", "{p: 1.0}"), ConfigError);
  EXPECT_THROW(make_layer("dropout", "{p: -0.1}"), ConfigError);
  EXPECT_THROW(make_layer("dropout", "{p: high}"), ConfigError);
  EXPECT_NO_THROW(make_layer("dropout", "{p: 0.99}"));
}

}  // namespace
}  // namespace te::testing
