// MaxPool2d, AvgPool2d, GlobalAvgPool, Flatten: hand-computed forward/backward (ties, padding,
// ceil_mode, dilation, count_include_pad), finite-difference gradients, accumulate mode,
// shape and config errors.
#include "tests/layers_spatial/spatial_util.h"

namespace te::testing {
namespace {

Tensor image(const Shape& s, const std::vector<double>& v) { return Tensor::from_vector_f64(s, v); }

Tensor one_to_nine(double sign = 1) {
  std::vector<double> v;
  for (int i = 1; i <= 9; ++i) v.push_back(sign * i);
  return image(Shape{1, 1, 3, 3}, v);
}

TEST(MaxPool2d, HandComputedWithTiesGoingToTheFirstMaximum) {
  auto pool = make_layer("maxpool2d", "{kernel: 2}");
  const Tensor x = image(Shape{1, 1, 4, 4}, {1, 3, 2, 0,  //
                                             5, 4, 6, 1,  //
                                             0, 2, 9, 9,  //
                                             3, 1, 9, 8});
  const Tensor y = run_forward(*pool, x);
  expect_values(y, {5, 6, 3, 9});
  const Tensor dx = run_backward(*pool, x, y, image(Shape{1, 1, 2, 2}, {1, 2, 3, 4}));
  // The bottom-right window holds three 9s: the first in scan order, (2, 2), gets it all.
  expect_values(dx, {0, 0, 0, 0,  //
                     1, 0, 2, 0,  //
                     0, 0, 4, 0,  //
                     3, 0, 0, 0});
}

TEST(MaxPool2d, OverlappingWindowsWithEqualValues) {
  auto pool = make_layer("maxpool2d", "{kernel: [1, 2], stride: 1}");
  const Tensor x = image(Shape{1, 1, 1, 3}, {7, 7, 7});
  const Tensor y = run_forward(*pool, x);
  expect_values(y, {7, 7});
  // Each window's first maximum: positions 0 and 1.
  expect_values(run_backward(*pool, x, y, image(Shape{1, 1, 1, 2}, {1, 10})), {1, 10, 0});
}

TEST(MaxPool2d, PaddingNeverWins) {
  auto pool = make_layer("maxpool2d", "{kernel: 3, stride: 2, padding: 1}");
  // All inputs negative: zero padding would win every window, -inf padding never does.
  expect_values(run_forward(*pool, one_to_nine(-1)), {-1, -2, -4, -5});
}

TEST(MaxPool2d, CeilModeKeepsThePartialWindow) {
  auto floor_pool = make_layer("maxpool2d", "{kernel: 2, stride: 2}");
  expect_values(run_forward(*floor_pool, one_to_nine()), {5});
  auto ceil_pool = make_layer("maxpool2d", "{kernel: 2, stride: 2, ceil_mode: true}");
  const Tensor x = one_to_nine();
  const Tensor y = run_forward(*ceil_pool, x);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  expect_values(y, {5, 6, 8, 9});
  expect_values(run_backward(*ceil_pool, x, y, image(Shape{1, 1, 2, 2}, {1, 2, 3, 4})),
                {0, 0, 0, 0, 1, 2, 0, 3, 4});
  // PyTorch drops a last window that would start in the bottom/right padding: 5 rows with
  // padding 1 would give 4 windows, but the 4th starts at row 6 >= 5 + 1, so 3 remain.
  auto padded = make_layer("maxpool2d", "{kernel: 2, stride: 2, padding: 1, ceil_mode: true}");
  EXPECT_EQ(padded->output_shape({Shape{1, 1, 5, 6}}), (Shape{1, 1, 3, 4}));
}

TEST(MaxPool2d, DilationSkipsPixels) {
  auto pool = make_layer("maxpool2d", "{kernel: 2, dilation: 2, stride: 1}");
  // Taps at the corners 1, 3, 7, 5; the 100 in the centre is skipped.
  expect_values(run_forward(*pool, image(Shape{1, 1, 3, 3}, {1, 2, 3, 4, 100, 6, 7, 8, 5})), {7});
}

TEST(MaxPool2d, SavesArgmaxBytes) {
  auto pool = make_layer("maxpool2d", "{kernel: 3, stride: 2, padding: 1}");
  EXPECT_EQ(pool->saved_bytes({Shape{8, 64, 112, 112}}), 8 * 64 * 56 * 56 * 4);
}

TEST(AvgPool2d, HandComputed) {
  auto pool = make_layer("avgpool2d", "{kernel: 2, stride: 1}");
  expect_values(run_forward(*pool, one_to_nine()), {3, 4, 6, 7});
}

TEST(AvgPool2d, CountIncludePad) {
  auto with_pad = make_layer("avgpool2d", "{kernel: 3, stride: 2, padding: 1}");
  expect_values(run_forward(*with_pad, one_to_nine()), {12.0 / 9, 16.0 / 9, 24.0 / 9, 28.0 / 9});
  auto without =
      make_layer("avgpool2d", "{kernel: 3, stride: 2, padding: 1, count_include_pad: false}");
  const Tensor x = one_to_nine();
  const Tensor y = run_forward(*without, x);
  expect_values(y, {3, 4, 6, 7});
  // Each corner window has 4 real pixels: gradient 1/4 of dy to each; the centre gets all four.
  expect_values(run_backward(*without, x, y, image(Shape{1, 1, 2, 2}, {4, 8, 12, 16})),
                {1, 1 + 2, 2, 1 + 3, 1 + 2 + 3 + 4, 2 + 4, 3, 3 + 4, 4});
}

TEST(AvgPool2d, CeilModeDividesByTheClippedWindow) {
  auto pool = make_layer("avgpool2d", "{kernel: 2, stride: 2, ceil_mode: true}");
  expect_values(run_forward(*pool, one_to_nine()), {3, 4.5, 7.5, 9});
}

TEST(GlobalAvgPool, HandComputed) {
  auto pool = make_layer("global_avg_pool", "{}");
  const Tensor x = image(Shape{2, 2, 1, 2}, {1, 3, 10, 20, -2, 4, 0, 1});
  const Tensor y = run_forward(*pool, x);
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  expect_values(y, {2, 15, 1, 0.5});
  expect_values(run_backward(*pool, x, y, image(Shape{2, 2}, {2, 4, 6, 8})),
                {1, 1, 2, 2, 3, 3, 4, 4});
}

TEST(Flatten, HandComputed) {
  auto flat = make_layer("flatten", "{}");
  const Tensor x = random_tensor(Shape{2, 3, 2, 2}, 31);
  const Tensor y = run_forward(*flat, x);
  EXPECT_EQ(y.shape(), (Shape{2, 12}));
  expect_values(y, x.to_f64_vector(), 0);
  const Tensor dy = random_tensor(Shape{2, 12}, 32);
  const Tensor dx = run_backward(*flat, x, y, dy);
  EXPECT_EQ(dx.shape(), x.shape());
  expect_values(dx, dy.to_f64_vector(), 0);
}

struct PoolCase {
  const char* type;
  const char* yaml;
  Shape input;
};

std::vector<PoolCase> pool_cases() {
  return {
      {"maxpool2d", "{kernel: 3, stride: 2, padding: 1}", Shape{3, 2, 7, 6}},
      {"maxpool2d", "{kernel: [2, 3], stride: [1, 2], dilation: 2, padding: [1, 2]}",
       Shape{1, 3, 6, 8}},
      {"maxpool2d", "{kernel: 2, ceil_mode: true}", Shape{3, 2, 5, 7}},
      {"avgpool2d", "{kernel: 2}", Shape{3, 2, 6, 4}},
      {"avgpool2d", "{kernel: [3, 2], stride: [2, 1], padding: 1}", Shape{1, 2, 7, 5}},
      {"avgpool2d", "{kernel: 3, stride: 2, padding: 1, count_include_pad: false, ceil_mode: true}",
       Shape{3, 2, 6, 6}},
      {"global_avg_pool", "{}", Shape{3, 4, 3, 5}},
      {"global_avg_pool", "{}", Shape{1, 2, 1, 1}},
      {"flatten", "{}", Shape{3, 2, 3, 2}},
      {"flatten", "{}", Shape{1, 5}},
  };
}

TEST(Pooling, GradientsMatchFiniteDifferences) {
  uint64_t seed = 40;
  for (const PoolCase& c : pool_cases()) {
    SCOPED_TRACE(std::string(c.type) + " " + c.yaml);
    auto layer = make_layer(c.type, c.yaml);
    const Tensor x = random_tensor(c.input, seed++);
    prepare_layer_f64(*layer, {x});
    GradCheckOptions o;
    o.max_checks_per_tensor = 200;
    expect_gradients_match(*layer, {x}, o);
  }
}

TEST(Pooling, AccumulateModeAdds) {
  uint64_t seed = 60;
  for (const PoolCase& c : pool_cases()) {
    SCOPED_TRACE(std::string(c.type) + " " + c.yaml);
    auto layer = make_layer(c.type, c.yaml);
    const Tensor x = random_tensor(c.input, seed++);
    prepare_layer_f64(*layer, {x});
    expect_accumulate_mode_adds(*layer, {x});
  }
}

void expect_named_shape_error(const char* type, const char* yaml, const std::vector<Shape>& in) {
  auto layer = make_layer(type, yaml, "poolA");
  try {
    layer->output_shape(in);
    ADD_FAILURE() << type << " accepted " << (in.empty() ? "nothing" : in[0].str());
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("'poolA'"), std::string::npos) << e.what();
  }
}

TEST(Pooling, ShapeErrorsNameTheLayer) {
  expect_named_shape_error("maxpool2d", "{kernel: 2}", {Shape{2, 3, 4}});
  expect_named_shape_error("maxpool2d", "{kernel: 5}", {Shape{2, 3, 4, 4}});
  expect_named_shape_error("avgpool2d", "{kernel: 2}", {Shape{2, 3, 4, 4, 1}});
  expect_named_shape_error("avgpool2d", "{kernel: 3}", {Shape{2, 3, 2, 9}});
  expect_named_shape_error("global_avg_pool", "{}", {Shape{2, 3}});
  expect_named_shape_error("global_avg_pool", "{}", {Shape{2, 3, 4, 4}, Shape{2, 3, 4, 4}});
  expect_named_shape_error("flatten", "{}", {Shape{5}});
}

TEST(Pooling, ConfigErrors) {
  EXPECT_THROW(make_layer("maxpool2d", "{}"), ConfigError);                       // no kernel
  EXPECT_THROW(make_layer("maxpool2d", "{kernel: 2, padding: 2}"), ConfigError);  // > half
  EXPECT_THROW(make_layer("avgpool2d", "{kernel: 3, stride: 0}"), ConfigError);
  EXPECT_THROW(make_layer("avgpool2d", "{kernel: 3, dilation: 2}"), ConfigError);  // max only
  EXPECT_THROW(make_layer("global_avg_pool", "{kernel: 3}"), ConfigError);
  EXPECT_THROW(make_layer("flatten", "{start_dim: 1}"), ConfigError);
}

}  // namespace
}  // namespace te::testing
