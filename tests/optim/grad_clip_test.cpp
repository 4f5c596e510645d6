// Global gradient norm, clipping (torch.nn.utils.clip_grad_norm_) and the finiteness check.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "engine/core/parallel.h"
#include "engine/optim/grad_clip.h"

namespace te {
namespace {

TEST(GradClip, NormOfAHandCase) {
  // 3-4-12: sqrt(9 + 16 + 144) = 13
  EXPECT_DOUBLE_EQ(global_grad_norm(Tensor::from_vector({4}, {3, -4, 0, 12})), 13.0);
  EXPECT_DOUBLE_EQ(global_grad_norm(Tensor::from_vector({2}, {6, 8}, DType::F64)), 10.0);
}

TEST(GradClip, ClipScalesByMaxNormOverNormPlusEpsilon) {
  Tensor g = Tensor::from_vector({4}, {3, -4, 0, 12});
  EXPECT_DOUBLE_EQ(clip_grad_norm(g, 6.5), 13.0);  // returns the norm before clipping
  const double coef = 6.5 / (13.0 + 1e-6);          // ~0.5
  const std::vector<float> got = g.to_vector();
  const double want[4] = {3 * coef, -4 * coef, 0, 12 * coef};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(got[i], want[i], 1e-6);
  EXPECT_NEAR(global_grad_norm(g), 6.5, 1e-5);
}

TEST(GradClip, BelowTheLimitLeavesGradientsUntouched) {
  Tensor g = Tensor::from_vector({4}, {3, -4, 0, 12});
  EXPECT_DOUBLE_EQ(clip_grad_norm(g, 20.0), 13.0);
  EXPECT_EQ(g.to_vector(), (std::vector<float>{3, -4, 0, 12}));
  EXPECT_THROW(clip_grad_norm(g, 0.0), ConfigError);
}

TEST(GradClip, NormIsAccumulatedInDoubleAndIndependentOfThreads) {
  // 2^20 elements of 1e-3 and one of 1: a float accumulator would lose the small terms.
  const int64_t n = (1 << 20) + 1;
  std::vector<float> v(n, 1e-3f);
  v[n / 2] = 1.0f;
  const Tensor g = Tensor::from_vector({n}, v);
  const double small = static_cast<double>(1e-3f);
  const double want = std::sqrt(1.0 + static_cast<double>(n - 1) * small * small);
  struct RestoreThreads {
    int saved = num_threads();
    ~RestoreThreads() { set_num_threads(saved); }
  } restore;
  set_num_threads(1);
  const double one = global_grad_norm(g);
  set_num_threads(3);
  const double three = global_grad_norm(g);
  EXPECT_NEAR(one, want, 1e-12);
  EXPECT_EQ(one, three);  // bit-identical
}

TEST(GradClip, AllFiniteFindsNanAndInf) {
  const int64_t n = 70000;  // more than one parallel block
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = 0.5f - static_cast<float>(i % 7) * 0.1f;
  EXPECT_TRUE(all_finite(Tensor::from_vector({n}, v)));
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    for (int64_t at : {int64_t{0}, n - 1, int64_t{40000}}) {
      std::vector<float> w = v;
      w[at] = bad;
      EXPECT_FALSE(all_finite(Tensor::from_vector({n}, w))) << bad << " at " << at;
    }
  }
  Tensor g = Tensor::from_vector({3}, {1, std::numeric_limits<float>::quiet_NaN(), 2});
  EXPECT_TRUE(std::isnan(clip_grad_norm(g, 1.0)));
  EXPECT_EQ(g.to_vector()[0], 1.0f);  // left untouched
}

}  // namespace
}  // namespace te
