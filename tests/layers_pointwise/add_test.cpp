#include <gtest/gtest.h>

#include "engine/layers/add.h"
#include "tests/layers_pointwise/make_layer.h"

namespace te::testing {
namespace {

TEST(Add, ThreeInputsByHand) {
  auto add = make_layer("add");
  const Tensor a = Tensor::from_vector_f64({2, 2}, {1, 2, 3, 4});
  const Tensor b = Tensor::from_vector_f64({2, 2}, {10, 20, 30, 40});
  const Tensor c = Tensor::from_vector_f64({2, 2}, {-0.5, 0.25, 100, -4});
  expect_all_near(run_forward(*add, {a, b, c}).to_f64_vector(), {10.5, 22.25, 133, 40}, 0, "sum");
  const Tensor a32 = a.to_dtype(DType::F32), b32 = b.to_dtype(DType::F32);
  expect_all_near(run_forward(*add, {a32, b32}).to_f64_vector(), {11, 22, 33, 44}, 0, "f32");
}

TEST(Add, GradientsAndModes) {
  uint64_t seed = 1;
  for (const Shape& shape : {Shape{2, 3, 4, 5}, Shape{1, 3}, Shape{3, 1, 1, 7}}) {
    SCOPED_TRACE(shape.str());
    auto add = make_layer("add");
    const std::vector<Tensor> xs = {random_tensor(shape, seed++), random_tensor(shape, seed++),
                                    random_tensor(shape, seed++)};
    expect_gradients_match(*add, xs);
    expect_accumulate_mode_adds(*add, xs);
  }
}

TEST(Add, SkipsInputsWithoutGradientAndMixesModes) {
  auto add = make_layer("add");
  const Tensor a = random_tensor({2, 3}, 1), b = random_tensor({2, 3}, 2), c = random_tensor({2, 3}, 3);
  const Tensor y = run_forward(*add, {a, b, c});
  const Tensor dy = random_tensor({2, 3}, 4);
  Tensor ga = Tensor::empty({2, 3}, DType::F64), gc = Tensor::empty({2, 3}, DType::F64);
  ga.fill(7.0);
  gc.fill(-1.0);
  BackwardArgs args;
  args.inputs = {&a, &b, &c};
  args.output = &y;
  args.grad_output = &dy;
  args.grad_inputs = {&ga, nullptr, &gc};
  args.modes = {GradMode::Overwrite, GradMode::Overwrite, GradMode::Accumulate};
  add->backward(args);
  const auto d = dy.to_f64_vector();
  std::vector<double> want_c;
  for (double v : d) want_c.push_back(v - 1.0);
  expect_all_near(ga.to_f64_vector(), d, 0, "overwritten");
  expect_all_near(gc.to_f64_vector(), want_c, 1e-15, "accumulated");
}

TEST(Add, ShapeErrorNamesLayerAndEveryShape) {
  auto add = make_layer("add", "{}", "res_join");
  try {
    add->output_shape({Shape{2, 3}, Shape{2, 3}, Shape{2, 4}});
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("res_join"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3], [2, 3], [2, 4]"), std::string::npos) << m;
  }
  EXPECT_THROW(add->output_shape({Shape{2, 3}}), ShapeError);
}

}  // namespace
}  // namespace te::testing
