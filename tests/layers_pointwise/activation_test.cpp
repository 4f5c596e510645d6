#include <gtest/gtest.h>

#include <cmath>

#include "engine/layers/activation.h"
#include "tests/layers_pointwise/make_layer.h"

namespace te::testing {
namespace {

const std::vector<Shape> kShapes = {Shape{2, 3, 4, 5}, Shape{1, 7}, Shape{3, 1, 5, 2}, Shape{1, 1, 1, 1}};

// Random values whose magnitude is at least `gap`, so finite differences never cross ReLU's kink.
Tensor away_from_zero(const Shape& shape, uint64_t seed, double gap) {
  Tensor t = random_tensor(shape, seed, -2.0, 2.0);
  for (int64_t i = 0; i < t.numel(); ++i) {
    double& v = t.data<double>()[i];
    v = v < 0 ? v - gap : v + gap;
  }
  return t;
}

TEST(Activation, ReluForwardAndKinkByHand) {
  auto relu = make_layer("relu");
  EXPECT_EQ(relu->type(), "relu");
  const Tensor x = Tensor::from_vector_f64({5}, {-2, -0.5, 0, 0.5, 3});
  const Tensor y = run_forward(*relu, {x});
  expect_all_near(y.to_f64_vector(), {0, 0, 0, 0.5, 3}, 0, "relu y");
  const Tensor dy = Tensor::from_vector_f64({5}, {1, 2, 3, 4, 5});
  // The element exactly at 0 gets gradient 0, like PyTorch.
  expect_all_near(run_backward1(*relu, x, y, dy).to_f64_vector(), {0, 0, 0, 4, 5}, 0, "relu dx");
}

TEST(Activation, GeluAndSiluForwardByHand) {
  const Tensor x = Tensor::from_vector_f64({4}, {1, -1, 0, 2});
  // Phi(1) = 0.8413447460685429, Phi(2) = 0.9772498680518208 (standard normal CDF).
  expect_all_near(run_forward(*make_layer("gelu"), {x}).to_f64_vector(),
                  {0.8413447460685429, -(1 - 0.8413447460685429), 0, 2 * 0.9772498680518208}, 1e-12,
                  "gelu");
  // 0.5 * (1 + tanh(sqrt(2/pi) * 1.044715)), PyTorch's approximate='tanh' at 1.
  const Tensor y1 = run_forward(*make_layer("gelu", "{approximate: tanh}"), {x});
  EXPECT_NEAR(y1.to_f64_vector()[0], 0.8411919906082768, 1e-12);
  EXPECT_NEAR(y1.to_f64_vector()[2], 0.0, 1e-15);
  // silu(1) = 1 / (1 + e^-1), silu(-1) = -1 / (1 + e), silu(2) = 2 / (1 + e^-2).
  expect_all_near(run_forward(*make_layer("silu"), {x}).to_f64_vector(),
                  {0.7310585786300049, -0.2689414213699951, 0, 1.7615941559557649}, 1e-12, "silu");
}

TEST(Activation, GradientsMatchFiniteDifferences) {
  uint64_t seed = 10;
  for (const std::string& yaml : {"relu|{}", "gelu|{}", "gelu|{approximate: tanh}", "silu|{}"}) {
    const auto bar = std::string(yaml).find('|');
    const std::string type = std::string(yaml).substr(0, bar), args = std::string(yaml).substr(bar + 1);
    for (const Shape& shape : kShapes) {
      SCOPED_TRACE(type + " " + args + " " + shape.str());
      auto layer = make_layer(type, args);
      Tensor x = away_from_zero(shape, seed++, 0.05);
      // A lone negative input has ReLU gradient 0, which the check cannot tell from a missing
      // gradient; the negative side is covered by the hand-computed test and larger shapes.
      if (type == "relu" && x.numel() == 1) x.data<double>()[0] = std::fabs(x.data<double>()[0]);
      expect_gradients_match(*layer, {x});
      expect_accumulate_mode_adds(*layer, {x});
    }
  }
}

TEST(Activation, FloatMatchesDouble) {
  for (const char* type : {"relu", "gelu", "silu"}) {
    auto layer = make_layer(type);
    const Tensor x64 = random_tensor({3, 4, 50, 50}, 3, -4, 4);  // large enough to use threads
    const Tensor x32 = x64.to_dtype(DType::F32);
    const auto y64 = run_forward(*layer, {x64}).to_f64_vector();
    const auto y32 = run_forward(*layer, {x32}).to_f64_vector();
    for (size_t i = 0; i < y64.size(); i += 97) EXPECT_NEAR(y32[i], y64[i], 1e-5) << type << " " << i;
  }
}

TEST(Activation, BadArgumentsAreConfigErrors) {
  EXPECT_THROW(make_layer("gelu", "{approximate: fast}"), ConfigError);
  EXPECT_THROW(make_layer("relu", "{inplace: true}"), ConfigError);  // unknown key
  EXPECT_THROW(make_layer("relu")->output_shape({Shape{2}, Shape{2}}), ShapeError);
}

}  // namespace
}  // namespace te::testing
