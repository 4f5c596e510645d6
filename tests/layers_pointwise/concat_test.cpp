#include <gtest/gtest.h>

#include "engine/layers/concat.h"
#include "tests/layers_pointwise/make_layer.h"

namespace te::testing {
namespace {

TEST(Concat, ChannelsByHand) {
  auto cat = make_layer("concat");
  // a [2, 2, 1, 2], b [2, 1, 1, 2]: per sample, a's two channels then b's one.
  const Tensor a = Tensor::from_vector_f64({2, 2, 1, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  const Tensor b = Tensor::from_vector_f64({2, 1, 1, 2}, {-1, -2, -3, -4});
  const Tensor y = run_forward(*cat, {a, b});
  EXPECT_EQ(y.shape(), (Shape{2, 3, 1, 2}));
  expect_all_near(y.to_f64_vector(), {1, 2, 3, 4, -1, -2, 5, 6, 7, 8, -3, -4}, 0, "y");
  // The last axis, counted from the end.
  auto last = make_layer("concat", "{axis: -1}");
  const Tensor z = run_forward(*last, {a, b.reshape({2, 2, 1, 1})});
  EXPECT_EQ(z.shape(), (Shape{2, 2, 1, 3}));
  expect_all_near(z.to_f64_vector(), {1, 2, -1, 3, 4, -2, 5, 6, -3, 7, 8, -4}, 0, "z");
}

TEST(Concat, GradientsAndModes) {
  uint64_t seed = 1;
  for (int64_t n : {1, 3}) {
    auto cat = make_layer("concat");
    const std::vector<Tensor> xs = {random_tensor({n, 2, 3, 5}, seed++), random_tensor({n, 1, 3, 5}, seed++),
                                    random_tensor({n, 4, 3, 5}, seed++)};
    expect_gradients_match(*cat, xs);
    expect_accumulate_mode_adds(*cat, xs);
  }
  auto mid = make_layer("concat", "{axis: 2}");
  const std::vector<Tensor> xs = {random_tensor({2, 3, 1, 4}, 8), random_tensor({2, 3, 5, 4}, 9)};
  expect_gradients_match(*mid, xs);
}

TEST(Concat, SkipsInputsWithoutGradient) {
  auto cat = make_layer("concat");
  const Tensor a = random_tensor({2, 1, 2, 2}, 1), b = random_tensor({2, 3, 2, 2}, 2);
  const Tensor y = run_forward(*cat, {a, b});
  const Tensor dy = random_tensor(y.shape(), 3);
  Tensor gb = Tensor::zeros(b.shape(), DType::F64);
  BackwardArgs args;
  args.inputs = {&a, &b};
  args.output = &y;
  args.grad_output = &dy;
  args.grad_inputs = {nullptr, &gb};
  args.modes = {GradMode::Overwrite, GradMode::Overwrite};
  cat->backward(args);
  // gb is dy's channels 1..3 of each sample.
  const auto d = dy.to_f64_vector(), g = gb.to_f64_vector();
  for (int64_t s = 0; s < 2; ++s)
    for (int64_t i = 0; i < 12; ++i) ASSERT_EQ(g[s * 12 + i], d[s * 16 + 4 + i]) << s << " " << i;
}

TEST(Concat, ShapeErrors) {
  auto cat = make_layer("concat", "{}", "cat1");
  try {
    cat->output_shape({Shape{2, 3, 4, 4}, Shape{2, 3, 5, 4}});
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("cat1"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3, 5, 4]"), std::string::npos) << m;
  }
  EXPECT_THROW(make_layer("concat", "{axis: 0}")->output_shape({Shape{2, 3}, Shape{2, 3}}), ShapeError);
  EXPECT_THROW(make_layer("concat", "{axis: 4}")->output_shape({Shape{2, 3, 4, 4}}), ShapeError);
  EXPECT_THROW(cat->output_shape({Shape{2, 3, 4, 4}, Shape{2, 3, 4}}), ShapeError);
}

}  // namespace
}  // namespace te::testing
