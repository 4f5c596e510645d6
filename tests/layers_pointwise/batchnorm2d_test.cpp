#include <gtest/gtest.h>

#include <cmath>

#include "engine/core/parallel.h"
#include "engine/layers/batchnorm2d.h"
#include "tests/layers_pointwise/make_layer.h"

namespace te::testing {
namespace {

Param& named(std::vector<Param>& ps, const std::string& name) {
  for (auto& p : ps)
    if (p.name == name) return p;
  throw Error("no parameter " + name);
}

// x [2, 2, 1, 2]: channel 0 holds {1, 3, 5, 7}, channel 1 holds {-1, 1, 0, 2}.
Tensor hand_input() { return Tensor::from_vector_f64({2, 2, 1, 2}, {1, 3, -1, 1, 5, 7, 0, 2}); }

std::unique_ptr<Layer> hand_layer() {
  auto bn = make_layer("batchnorm2d");
  prepare_layer_f64(*bn, {hand_input()});
  bn->init_params(1, 0);  // torchvision's initial state: running_var ones
  named(bn->params(), "weight").value.copy_from(Tensor::from_vector_f64({2}, {2, 1}));
  named(bn->params(), "bias").value.copy_from(Tensor::from_vector_f64({2}, {0.5, -1}));
  return bn;
}

TEST(BatchNorm2d, DeclaresTorchvisionParameters) {
  auto bn = make_layer("batchnorm2d");
  bn->build({Shape{4, 3, 5, 5}});
  bn->allocate_unbound();
  bn->init_params(1, 0);
  ASSERT_EQ(bn->params().size(), 2u);
  EXPECT_EQ(named(bn->params(), "weight").value.to_f64_vector(), std::vector<double>(3, 1.0));
  EXPECT_EQ(named(bn->params(), "bias").value.to_f64_vector(), std::vector<double>(3, 0.0));
  EXPECT_EQ(named(bn->buffers(), "running_mean").value.to_f64_vector(), std::vector<double>(3, 0.0));
  EXPECT_EQ(named(bn->buffers(), "running_var").value.to_f64_vector(), std::vector<double>(3, 1.0));
  const Tensor& nbt = named(bn->buffers(), "num_batches_tracked").value;
  EXPECT_EQ(nbt.rank(), 0u);
  EXPECT_EQ(nbt.dtype(), DType::I64);
  EXPECT_EQ(nbt.to_f64_vector(), std::vector<double>{0.0});
  EXPECT_EQ(bn->saved_bytes({Shape{4, 3, 5, 5}}), 2 * 3 * 4);

  auto plain = make_layer("batchnorm2d", "{affine: false, eps: 0.001, momentum: 0.2}");
  plain->build({Shape{1, 3, 2, 2}});
  EXPECT_TRUE(plain->params().empty());
  EXPECT_EQ(plain->buffers().size(), 3u);
}

TEST(BatchNorm2d, TrainingForwardAndRunningStatsByHand) {
  auto bn = hand_layer();
  const Tensor x = hand_input();
  const Tensor y = run_forward(*bn, {x});
  // Channel 0: mean 4, biased var (9+1+1+9)/4 = 5; channel 1: mean 0.5, var (2.25+.25+.25+2.25)/4 = 1.25.
  const double s0 = 2 / std::sqrt(5 + 1e-5), s1 = 1 / std::sqrt(1.25 + 1e-5);
  expect_all_near(y.to_f64_vector(),
                  {-3 * s0 + 0.5, -1 * s0 + 0.5, -1.5 * s1 - 1, 0.5 * s1 - 1,
                   1 * s0 + 0.5, 3 * s0 + 0.5, -0.5 * s1 - 1, 1.5 * s1 - 1},
                  1e-12, "y");
  // running = 0.9 * running + 0.1 * batch, with the unbiased variance (M = 4: var * 4/3).
  expect_all_near(named(bn->buffers(), "running_mean").value.to_f64_vector(), {0.4, 0.05}, 1e-12, "rm");
  expect_all_near(named(bn->buffers(), "running_var").value.to_f64_vector(),
                  {0.9 + 0.1 * 20.0 / 3, 0.9 + 0.1 * 5.0 / 3}, 1e-12, "rv");
  EXPECT_EQ(named(bn->buffers(), "num_batches_tracked").value.data<int64_t>()[0], 1);

  run_forward(*bn, {x});  // a second step moves the running stats further
  expect_all_near(named(bn->buffers(), "running_mean").value.to_f64_vector(), {0.76, 0.095}, 1e-12, "rm2");
  expect_all_near(named(bn->buffers(), "running_var").value.to_f64_vector(),
                  {0.9 * (0.9 + 0.1 * 20.0 / 3) + 0.1 * 20.0 / 3, 0.9 * (0.9 + 0.1 * 5.0 / 3) + 0.1 * 5.0 / 3},
                  1e-12, "rv2");
  EXPECT_EQ(named(bn->buffers(), "num_batches_tracked").value.data<int64_t>()[0], 2);
}

TEST(BatchNorm2d, EvalUsesRunningStatsAndLeavesThemAlone) {
  auto bn = hand_layer();
  named(bn->buffers(), "running_mean").value.copy_from(Tensor::from_vector_f64({2}, {1, -2}));
  named(bn->buffers(), "running_var").value.copy_from(Tensor::from_vector_f64({2}, {4, 0.25}));
  RunContext eval;
  eval.training = false;
  const Tensor y = run_forward(*bn, {hand_input()}, eval);
  const double s0 = 2 / std::sqrt(4 + 1e-5), s1 = 1 / std::sqrt(0.25 + 1e-5);
  expect_all_near(y.to_f64_vector(),
                  {0 * s0 + 0.5, 2 * s0 + 0.5, 1 * s1 - 1, 3 * s1 - 1,
                   4 * s0 + 0.5, 6 * s0 + 0.5, 2 * s1 - 1, 4 * s1 - 1},
                  1e-12, "eval y");
  expect_all_near(named(bn->buffers(), "running_mean").value.to_f64_vector(), {1, -2}, 0, "rm");
  EXPECT_EQ(named(bn->buffers(), "num_batches_tracked").value.data<int64_t>()[0], 0);
  // Training on the same input gives a different output (batch statistics).
  const Tensor yt = run_forward(*bn, {hand_input()});
  EXPECT_GT(std::fabs(yt.to_f64_vector()[1] - y.to_f64_vector()[1]), 0.1);
}

TEST(BatchNorm2d, TrainingGradientsMatchFiniteDifferences) {
  uint64_t seed = 20;
  for (const Shape& shape : {Shape{2, 3, 4, 5}, Shape{1, 2, 3, 3}, Shape{3, 1, 2, 5}, Shape{5, 4, 1, 1}}) {
    for (const char* args : {"{}", "{affine: false}"}) {
      SCOPED_TRACE(shape.str() + " " + args);
      auto bn = make_layer("batchnorm2d", args);
      const Tensor x = random_tensor(shape, seed++, -2, 3);
      prepare_layer_f64(*bn, {x}, seed++);
      GradCheckOptions o;
      o.tolerance = 1e-6;
      expect_gradients_match(*bn, {x}, o);
      expect_accumulate_mode_adds(*bn, {x});
    }
  }
}

TEST(BatchNorm2d, EvalGradientsMatchFiniteDifferences) {
  uint64_t seed = 40;
  for (const Shape& shape : {Shape{2, 3, 4, 5}, Shape{1, 2, 1, 1}, Shape{3, 5, 2, 1}}) {
    SCOPED_TRACE(shape.str());
    auto bn = make_layer("batchnorm2d");
    const Tensor x = random_tensor(shape, seed++, -2, 3);
    prepare_layer_f64(*bn, {x}, seed++);
    const int64_t c = shape[1];
    named(bn->buffers(), "running_mean").value.copy_from(random_tensor({c}, seed++, -1, 1));
    named(bn->buffers(), "running_var").value.copy_from(random_tensor({c}, seed++, 0.2, 2));
    GradCheckOptions o;
    o.ctx.training = false;
    expect_gradients_match(*bn, {x}, o);
    expect_accumulate_mode_adds(*bn, {x}, o.ctx);
  }
}

TEST(BatchNorm2d, FloatStatisticsAreAccurateAndThreadIndependent) {
  // A large offset with a small spread: single-precision sums would lose the variance.
  const Tensor x64 = random_tensor({8, 16, 20, 20}, 5, 1000.0, 1000.5);
  const Tensor x32 = x64.to_dtype(DType::F32);
  auto bn64 = make_layer("batchnorm2d");
  auto bn32 = make_layer("batchnorm2d");
  prepare_layer_f64(*bn64, {x64});
  bn32->build({x32.shape()});
  bn32->allocate_unbound(DType::F32);
  bn32->init_params(1, 0);
  // Same float values in both, so only the arithmetic differs.
  named(bn64->params(), "weight").value.fill(1.0);
  named(bn64->params(), "bias").value.fill(0.0);
  const auto ref = run_forward(*bn64, {x32.to_dtype(DType::F64)}).to_f64_vector();
  set_num_threads(1);
  const auto one = run_forward(*bn32, {x32}).to_f64_vector();
  set_num_threads(3);
  const auto three = run_forward(*bn32, {x32}).to_f64_vector();
  set_num_threads(2);
  EXPECT_EQ(one, three);
  for (size_t i = 0; i < ref.size(); i += 101) EXPECT_NEAR(one[i], ref[i], 1e-4) << i;
}

TEST(BatchNorm2d, ErrorsNameTheProblem) {
  auto bn = make_layer("batchnorm2d", "{num_features: 3}", "bn1");
  try {
    bn->output_shape({Shape{2, 4, 5, 5}});
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("bn1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 4, 5, 5]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_layer("batchnorm2d")->output_shape({Shape{2, 4}}), ShapeError);
  EXPECT_THROW(make_layer("batchnorm2d", "{eps: 0}"), ConfigError);
  EXPECT_THROW(make_layer("batchnorm2d", "{momentum: 1.5}"), ConfigError);
  EXPECT_THROW(make_layer("batchnorm2d", "{epsilon: 0.1}"), ConfigError);
  // One value per channel in training: the variance is undefined (PyTorch refuses too).
  auto one = make_layer("batchnorm2d");
  const Tensor x = random_tensor({1, 3, 1, 1}, 1);
  prepare_layer_f64(*one, {x});
  EXPECT_THROW(run_forward(*one, {x}), ShapeError);
}

}  // namespace
}  // namespace te::testing
