// The graph with the real layers: a residual conv net's gradients against finite differences
// (f64), and overfitting one small batch with SGD and the real loss.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/layers/softmax_cross_entropy.h"
#include "tests/graph/test_layers.h"

namespace te::testing {
namespace {

// A miniature ResNet: stem conv-bn-relu, one residual block with a projection shortcut, a
// strided max-pool, global pool and linear.
const char* kMiniResNet = R"(
in_channels: 2
num_classes: 3
layers:
  - {name: conv1, type: conv2d, out_channels: 4, kernel: 3, padding: 1, bias: false}
  - {name: bn1, type: batchnorm2d}
  - {name: relu, type: relu}
  - {name: block.conv1, type: conv2d, out_channels: 6, kernel: 3, padding: 1, stride: 2}
  - {name: block.bn1, type: batchnorm2d}
  - {name: block.act, type: gelu}
  - {name: block.conv2, type: conv2d, out_channels: 6, kernel: 3, padding: 1}
  - {name: block.down, type: conv2d, out_channels: 6, kernel: 1, stride: 2, inputs: relu}
  - {name: block.add, type: add, inputs: [block.conv2, block.down]}
  - {name: block.relu, type: relu}
  - {name: pool, type: maxpool2d, kernel: 2, stride: 1}
  - {name: gap, type: global_avg_pool}
  - {name: fc, type: linear, out_features: 3}
)";

TEST(RealLayers, ResidualConvNetMatchesFiniteDifferencesInDouble) {
  GraphOptions o;
  o.dtype = DType::F64;
  o.init_seed = 3;
  auto g = Graph::build(yaml(kMiniResNet), "m.yaml", {2, 6, 5}, o);
  // Non-trivial batch-norm affine parameters (they start at 1 and 0).
  for (const auto& p : g->named_parameters())
    if (p.name.find("bn") != std::string::npos)
      Tensor(p.tensor).copy_from(random_tensor(p.tensor.shape(), 17, 0.5, 1.5));
  const Tensor x = random_tensor({3, 2, 6, 5}, 11, -2, 2);
  const Tensor r = random_tensor({3, 3}, 12);
  RunContext ctx;  // training: batch statistics
  g->zero_grad();
  g->forward(x, ctx);
  g->backward(r, ctx);
  const std::vector<double> analytic = g->gradients().to_f64_vector();
  double* p = g->parameters().data<double>();
  const double h = 1e-6;
  int bad = 0, nontrivial = 0;
  for (int64_t i = 0; i < g->num_parameters(); ++i) {
    const double saved = p[i];
    p[i] = saved + h;
    const double up = weighted_sum(g->forward(x, ctx), r);
    p[i] = saved - h;
    const double down = weighted_sum(g->forward(x, ctx), r);
    p[i] = saved;
    const double numeric = (up - down) / (2 * h);
    const double err = std::fabs(analytic[i] - numeric) / std::max(1.0, std::fabs(numeric));
    if (err > 1e-5 && ++bad <= 10)
      ADD_FAILURE() << "param " << i << ": analytic " << analytic[i] << ", numeric " << numeric;
    nontrivial += std::fabs(numeric) > 1e-4;
  }
  EXPECT_EQ(bad, 0);
  EXPECT_GT(nontrivial, g->num_parameters() / 2);
}

TEST(RealLayers, SmallConvNetOverfitsOneBatch) {
  GraphOptions o;
  o.init_seed = 1;
  auto g = Graph::build(yaml(kMiniResNet), "m.yaml", {2, 6, 5}, o);
  const Tensor x = random_tensor({8, 2, 6, 5}, 21, -1, 1, DType::F32);
  const Tensor labels = Tensor::from_vector({8}, {0, 1, 2, 0, 1, 2, 1, 0}, DType::I32);
  SoftmaxCrossEntropy loss_fn;
  Tensor grad = Tensor::zeros({8, 3});
  RunContext ctx;
  double first = 0, loss = 0;
  for (int step = 0; step < 200; ++step) {
    ctx.step = step;
    g->zero_grad();
    loss = loss_fn.forward(g->forward(x, ctx), labels);
    if (step == 0) first = loss;
    loss_fn.backward(grad);
    g->backward(grad, ctx);
    float* p = g->parameters().data<float>();
    const float* d = g->gradients().data<float>();
    for (int64_t i = 0; i < g->num_parameters(); ++i) p[i] -= 0.1f * d[i];
  }
  EXPECT_GT(first, 0.5);
  EXPECT_LT(loss, 0.02) << "started at " << first;
  EXPECT_EQ(count_correct(g->forward(x, ctx), labels), 8);
}

}  // namespace
}  // namespace te::testing
