// Conv2d: hand-computed forward cases, a naive-convolution reference on random inputs,
// finite-difference gradients over many configurations, accumulate mode, shape and config
// errors, parameter declarations.
#include <cmath>

#include "tests/layers_spatial/spatial_util.h"

namespace te::testing {
namespace {

// 3x3 image 1..9, row-major, as [1, 1, 3, 3].
Tensor one_to_nine() {
  return Tensor::from_vector_f64(Shape{1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
}

void set_params(Layer& layer, const Tensor& x, const std::vector<double>& w,
                const std::vector<double>& b = {}) {
  layer.build({x.shape()});
  layer.allocate_unbound(DType::F64);
  layer.params()[0].value.copy_from(Tensor::from_vector_f64(layer.params()[0].shape, w));
  if (!b.empty())
    layer.params()[1].value.copy_from(Tensor::from_vector_f64(layer.params()[1].shape, b));
}

TEST(Conv2d, HandComputed2x2KernelWithBias) {
  auto conv = make_layer("conv2d", "{out_channels: 1, kernel: 2}");
  const Tensor x = one_to_nine();
  set_params(*conv, x, {1, 2, 3, 4}, {0.5});
  // out[0,0] = 1*1 + 2*2 + 3*4 + 4*5 = 37; then 47, 67, 77; plus bias 0.5.
  expect_values(run_forward(*conv, x), {37.5, 47.5, 67.5, 77.5});
}

TEST(Conv2d, HandComputedStride2Padding1) {
  auto conv =
      make_layer("conv2d", "{out_channels: 1, kernel: 3, stride: 2, padding: 1, bias: false}");
  const Tensor x = one_to_nine();
  set_params(*conv, x, std::vector<double>(9, 1.0));
  // Windows centred on the corners see 2x2 blocks: 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9.
  expect_values(run_forward(*conv, x), {12, 16, 24, 28});
}

TEST(Conv2d, HandComputedDilation2) {
  auto conv = make_layer("conv2d", "{out_channels: 1, kernel: 2, dilation: 2, bias: false}");
  const Tensor x = one_to_nine();
  set_params(*conv, x, {1, 2, 3, 4});
  // Taps at the corners: 1*1 + 2*3 + 3*7 + 4*9 = 64.
  expect_values(run_forward(*conv, x), {64});
}

TEST(Conv2d, HandComputedGroupsPointwise) {
  auto conv = make_layer("conv2d", "{out_channels: 2, kernel: 1, groups: 2}");
  const Tensor x = Tensor::from_vector_f64(Shape{1, 2, 1, 2}, {1, 2, 10, 20});
  set_params(*conv, x, {2, 3}, {1, -1});
  // Channel 0 = 2*x0 + 1, channel 1 = 3*x1 - 1: each group sees only its own channel.
  expect_values(run_forward(*conv, x), {3, 5, 29, 59});
}

TEST(Conv2d, HandComputedBackward) {
  auto conv = make_layer("conv2d", "{out_channels: 1, kernel: 2}");
  const Tensor x = one_to_nine();
  set_params(*conv, x, {1, 2, 3, 4}, {0});
  const Tensor y = run_forward(*conv, x);
  const Tensor dy = Tensor::from_vector_f64(Shape{1, 1, 2, 2}, {1, 0, 0, 2});
  const Tensor dx = run_backward(*conv, x, y, dy);
  // dx: w placed at (0,0) plus 2*w placed at (1,1).
  expect_values(dx, {1, 2, 0, 3, 4 + 2, 4, 0, 6, 8});
  // dw[i,j] = x[i,j] + 2 * x[i+1,j+1]; db = 1 + 2.
  expect_values(conv->params()[0].grad, {1 + 10, 2 + 12, 4 + 16, 5 + 18});
  expect_values(conv->params()[1].grad, {3});
}

struct Config {
  const char* yaml;
  Shape input;
  NaiveConv naive;
};

// Covers stride, padding, dilation, groups (2 and depthwise), non-square kernels and inputs,
// no bias, 1x1 (with and without the pointwise fast path), batches 1, 3 and 8 (several images
// per GEMM on small maps), both weight-gradient schemes, and the per-tap stride-1 scheme.
std::vector<Config> configs() {
  return {
      {"{out_channels: 3, kernel: 3}", Shape{1, 2, 5, 5}, {3, 3}},
      {"{out_channels: 4, kernel: 3, stride: 2, padding: 1}",
       Shape{3, 2, 7, 6},
       {3, 3, 2, 2, 1, 1}},
      {"{out_channels: 2, kernel: [2, 3], padding: [1, 0], bias: false}",
       Shape{3, 3, 5, 7},
       {2, 3, 1, 1, 1, 0}},
      {"{out_channels: 2, kernel: 3, dilation: 2, padding: 2}",
       Shape{1, 2, 6, 5},
       {3, 3, 1, 1, 2, 2, 2, 2}},
      {"{out_channels: 4, kernel: 3, groups: 2, padding: 1}",
       Shape{3, 4, 5, 4},
       {3, 3, 1, 1, 1, 1, 1, 1, 2}},
      {"{out_channels: 4, kernel: 3, groups: 4, padding: 1}",
       Shape{3, 4, 5, 5},
       {3, 3, 1, 1, 1, 1, 1, 1, 4}},
      {"{out_channels: 6, kernel: 3, groups: 3, stride: [1, 2]}",
       Shape{1, 3, 5, 7},
       {3, 3, 1, 2, 0, 0, 1, 1, 3}},
      {"{out_channels: 3, kernel: 1}", Shape{3, 5, 4, 3}, {1, 1}},
      {"{out_channels: 3, kernel: 1, stride: 2, bias: false}", Shape{3, 4, 5, 5}, {1, 1, 2, 2}},
      {"{out_channels: 3, kernel: [3, 1], stride: [2, 1], dilation: [1, 3], padding: [0, 2]}",
       Shape{8, 2, 7, 4},
       {3, 1, 2, 1, 0, 2, 1, 3}},
      {"{out_channels: 5, kernel: 3, padding: 1}", Shape{8, 3, 4, 4}, {3, 3, 1, 1, 1, 1}},
      {"{out_channels: 4, kernel: 1}", Shape{8, 3, 3, 3}, {1, 1}},
      {"{out_channels: 2, kernel: 3, padding: 1, groups: 2}",
       Shape{5, 2, 20, 17},
       {3, 3, 1, 1, 1, 1, 1, 1, 2}},
      // Weight larger than a chunk's column matrix: the blocked weight-gradient scheme.
      {"{out_channels: 12, kernel: 3, padding: 1}", Shape{2, 4, 3, 3}, {3, 3, 1, 1, 1, 1}},
      {"{out_channels: 12, kernel: 2, groups: 2}", Shape{3, 4, 3, 3}, {2, 2, 1, 1, 0, 0, 1, 1, 2}},
      // Stride 1 on wide maps with >= 8 input channels: the per-tap scheme (conv2d_taps.h),
      // with dilation, a non-square kernel, and a padding the input gradient cannot use (it
      // falls back).
      {"{out_channels: 5, kernel: 3, padding: 1}", Shape{3, 8, 10, 12}, {3, 3, 1, 1, 1, 1}},
      {"{out_channels: 4, kernel: 3, dilation: 2, padding: 2}",
       Shape{2, 8, 9, 20},
       {3, 3, 1, 1, 2, 2, 2, 2}},
      {"{out_channels: 3, kernel: [3, 2], padding: [1, 0], bias: false}",
       Shape{1, 8, 6, 11},
       {3, 2, 1, 1, 1, 0}},
      {"{out_channels: 2, kernel: [1, 3], padding: 1}", Shape{2, 8, 4, 10}, {1, 3, 1, 1, 1, 1}},
      // The same wide stride-1 map with few input channels: im2col for forward and weight
      // gradient, per-tap input gradient.
      {"{out_channels: 5, kernel: 3, padding: 1}", Shape{3, 3, 10, 12}, {3, 3, 1, 1, 1, 1}},
  };
}

TEST(Conv2d, MatchesNaiveConvolution) {
  uint64_t seed = 1;
  for (const Config& c : configs()) {
    SCOPED_TRACE(c.yaml);
    auto conv = make_layer("conv2d", c.yaml);
    const Tensor x = random_tensor(c.input, seed++);
    prepare_layer_f64(*conv, {x}, seed++);
    const bool bias = conv->params().size() == 2;
    expect_values(run_forward(*conv, x),
                  naive_conv2d(x, conv->params()[0].value,
                               bias ? &conv->params()[1].value : nullptr, c.naive),
                  1e-12);
  }
}

TEST(Conv2d, GradientsMatchFiniteDifferences) {
  uint64_t seed = 100;
  for (const Config& c : configs()) {
    SCOPED_TRACE(c.yaml);
    auto conv = make_layer("conv2d", c.yaml);
    const Tensor x = random_tensor(c.input, seed++);
    prepare_layer_f64(*conv, {x}, seed++);
    GradCheckOptions o;
    o.max_checks_per_tensor = 150;
    o.seed = seed;
    expect_gradients_match(*conv, {x}, o);
  }
}

TEST(Conv2d, AccumulateModeAdds) {
  for (const char* yaml :
       {"{out_channels: 3, kernel: 3, padding: 1}", "{out_channels: 3, kernel: 1}"}) {
    SCOPED_TRACE(yaml);
    auto conv = make_layer("conv2d", yaml);
    const Tensor x = random_tensor(Shape{2, 2, 5, 4}, 3);
    prepare_layer_f64(*conv, {x});
    expect_accumulate_mode_adds(*conv, {x});
  }
}

TEST(Conv2d, SkipsInputGradientWhenNotRequested) {
  auto conv = make_layer("conv2d", "{out_channels: 2, kernel: 3}");
  const Tensor x = random_tensor(Shape{2, 2, 5, 5}, 4);
  prepare_layer_f64(*conv, {x});
  const Tensor y = run_forward(*conv, x);
  const Tensor dy = random_tensor(y.shape(), 5);
  const Tensor dx_ref = run_backward(*conv, x, y, dy);
  const std::vector<double> dw_ref = conv->params()[0].grad.to_f64_vector();
  conv->params()[0].grad.zero();
  conv->params()[1].grad.zero();
  BackwardArgs args;
  args.inputs = {&x};
  args.output = &y;
  args.grad_output = &dy;
  args.grad_inputs = {nullptr};
  args.modes = {GradMode::Overwrite};
  conv->backward(args);
  expect_values(conv->params()[0].grad, dw_ref, 0);
  // Parameter gradients accumulate: a second backward doubles them.
  conv->backward(args);
  std::vector<double> twice = dw_ref;
  for (double& v : twice) v *= 2;
  expect_values(conv->params()[0].grad, twice, 1e-12);
  (void)dx_ref;
}

TEST(Conv2d, DeclaresTorchvisionParameters) {
  auto conv = make_layer("conv2d", "{out_channels: 8, kernel: [3, 5], groups: 2}");
  conv->build({Shape{2, 4, 9, 9}});
  ASSERT_EQ(conv->params().size(), 2u);
  EXPECT_EQ(conv->params()[0].name, "weight");
  EXPECT_EQ(conv->params()[0].shape, (Shape{8, 2, 3, 5}));
  EXPECT_EQ(conv->params()[0].init, Init::KaimingNormalFanOut);
  EXPECT_EQ(conv->params()[0].fan_out, 8 * 15);
  EXPECT_EQ(conv->params()[0].fan_in, 2 * 15);
  EXPECT_EQ(conv->params()[1].name, "bias");
  EXPECT_EQ(conv->params()[1].shape, (Shape{8}));
  EXPECT_EQ(conv->params()[1].init, Init::UniformFanIn);
  EXPECT_EQ(conv->params()[1].fan_in, 2 * 15);
  auto nobias = make_layer("conv2d", "{out_channels: 8, kernel: 3, bias: false}");
  nobias->build({Shape{2, 4, 9, 9}});
  EXPECT_EQ(nobias->params().size(), 1u);
  EXPECT_EQ(nobias->output_shape({Shape{5, 4, 9, 7}}), (Shape{5, 8, 7, 5}));
}

void expect_shape_error(Layer& layer, const std::vector<Shape>& inputs, const std::string& part) {
  try {
    layer.output_shape(inputs);
    ADD_FAILURE() << "expected a ShapeError mentioning '" << part << "'";
  } catch (const ShapeError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'convA'"), std::string::npos) << msg;
    EXPECT_NE(msg.find(part), std::string::npos) << msg;
  }
}

TEST(Conv2d, ShapeErrorsNameTheLayer) {
  auto conv = make_layer("conv2d", "{out_channels: 4, kernel: 3, groups: 2}", "convA");
  expect_shape_error(*conv, {Shape{2, 4, 8}}, "[2, 4, 8]");                  // wrong rank
  expect_shape_error(*conv, {Shape{2, 3, 8, 8}}, "groups");                  // 3 channels, 2 groups
  expect_shape_error(*conv, {Shape{2, 4, 2, 8}}, "too small");               // 2 rows, kernel 3
  expect_shape_error(*conv, {Shape{2, 4, 8, 8}, Shape{2, 4, 8, 8}}, "one");  // two inputs
  conv->build({Shape{2, 4, 8, 8}});
  expect_shape_error(*conv, {Shape{2, 6, 8, 8}}, "built for 4");
  EXPECT_THROW(conv->output_shape({Shape{2, 4, 2, 2}}), ShapeError);
}

TEST(Conv2d, ConfigErrors) {
  EXPECT_THROW(make_layer("conv2d", "{kernel: 3}"), ConfigError);        // no out_channels
  EXPECT_THROW(make_layer("conv2d", "{out_channels: 4}"), ConfigError);  // no kernel
  EXPECT_THROW(make_layer("conv2d", "{out_channels: 4, kernel: 0}"), ConfigError);
  EXPECT_THROW(make_layer("conv2d", "{out_channels: 4, kernel: 3, stride: 0}"), ConfigError);
  EXPECT_THROW(make_layer("conv2d", "{out_channels: 4, kernel: 3, groups: 3}"), ConfigError);
  EXPECT_THROW(make_layer("conv2d", "{out_channels: 4, kernel: 3, padding: -1}"), ConfigError);
  EXPECT_THROW(make_layer("conv2d", "{out_channels: 4, kernel: 3, strides: 2}"), ConfigError);
}

}  // namespace
}  // namespace te::testing
