// Linear: hand-computed forward/backward, finite-difference gradients, accumulate mode,
// shape and config errors, parameter declarations.
#include "tests/layers_spatial/spatial_util.h"

namespace te::testing {
namespace {

TEST(Linear, HandComputedForwardAndBackward) {
  auto fc = make_layer("linear", "{out_features: 2}");
  const Tensor x = Tensor::from_vector_f64(Shape{2, 3}, {1, 2, 3, -1, 0, 2});
  fc->build({x.shape()});
  fc->allocate_unbound(DType::F64);
  fc->params()[0].value.copy_from(Tensor::from_vector_f64(Shape{2, 3}, {1, 0, -1, 2, 1, 0.5}));
  fc->params()[1].value.copy_from(Tensor::from_vector_f64(Shape{2}, {0.5, -1}));
  const Tensor y = run_forward(*fc, x);
  // Row 0: [1-3, 2+2+1.5] + b = [-1.5, 4.5]; row 1: [-1-2, -2+0+1] + b = [-2.5, -2].
  expect_values(y, {-1.5, 4.5, -2.5, -2});
  const Tensor dy = Tensor::from_vector_f64(Shape{2, 2}, {1, 2, -1, 0});
  const Tensor dx = run_backward(*fc, x, y, dy);
  // dx = dy W: [1*[1,0,-1] + 2*[2,1,0.5], -1*[1,0,-1]].
  expect_values(dx, {5, 2, 0, -1, 0, 1});
  // dW = dy^T x: row 0 = 1*[1,2,3] - 1*[-1,0,2]; row 1 = 2*[1,2,3]. db = column sums.
  expect_values(fc->params()[0].grad, {2, 2, 1, 2, 4, 6});
  expect_values(fc->params()[1].grad, {0, 2});
}

TEST(Linear, GradientsMatchFiniteDifferences) {
  struct Case {
    const char* yaml;
    Shape input;
  };
  // 300 outputs and 260 inputs span several parallel column blocks.
  for (const Case& c :
       {Case{"{out_features: 4}", Shape{3, 5}}, Case{"{out_features: 1, bias: false}", Shape{1, 7}},
        Case{"{out_features: 300}", Shape{3, 260}}}) {
    SCOPED_TRACE(c.yaml);
    auto fc = make_layer("linear", c.yaml);
    const Tensor x = random_tensor(c.input, 21);
    prepare_layer_f64(*fc, {x}, 22);
    GradCheckOptions o;
    o.max_checks_per_tensor = 150;
    expect_gradients_match(*fc, {x}, o);
  }
}

TEST(Linear, AccumulateModeAdds) {
  auto fc = make_layer("linear", "{out_features: 3}");
  const Tensor x = random_tensor(Shape{4, 5}, 23);
  prepare_layer_f64(*fc, {x});
  expect_accumulate_mode_adds(*fc, {x});
}

TEST(Linear, DeclaresPyTorchParameters) {
  auto fc = make_layer("linear", "{out_features: 10}");
  fc->build({Shape{4, 512}});
  ASSERT_EQ(fc->params().size(), 2u);
  EXPECT_EQ(fc->params()[0].name, "weight");
  EXPECT_EQ(fc->params()[0].shape, (Shape{10, 512}));
  EXPECT_EQ(fc->params()[0].init, Init::UniformFanIn);
  EXPECT_EQ(fc->params()[0].fan_in, 512);
  EXPECT_EQ(fc->params()[1].name, "bias");
  EXPECT_EQ(fc->params()[1].fan_in, 512);
  EXPECT_EQ(fc->output_shape({Shape{7, 512}}), (Shape{7, 10}));
}

TEST(Linear, ShapeErrorsNameTheLayer) {
  auto fc = make_layer("linear", "{out_features: 10}", "fcA");
  try {
    fc->output_shape({Shape{2, 3, 4, 4}});
    ADD_FAILURE() << "rank-4 input accepted";
  } catch (const ShapeError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'fcA'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[2, 3, 4, 4]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("flatten"), std::string::npos) << msg;
  }
  fc->build({Shape{2, 8}});
  EXPECT_THROW(fc->output_shape({Shape{2, 9}}), ShapeError);
  EXPECT_THROW(fc->output_shape({Shape{2, 8}, Shape{2, 8}}), ShapeError);
  EXPECT_THROW(make_layer("linear", "{}"), ConfigError);
  EXPECT_THROW(make_layer("linear", "{out_features: 0}"), ConfigError);
  EXPECT_THROW(make_layer("linear", "{out_features: 3, in_features: 2}"), ConfigError);
}

}  // namespace
}  // namespace te::testing
