// Batch-norm + ReLU (+ residual add) fusion (engine/graph/fusion.h): which chains are fused,
// that names, layout and initial values do not change, and that a fused graph computes what
// the unfused one does.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "tests/graph/test_layers.h"

namespace te::testing {
namespace {

std::unique_ptr<Graph> build(const std::string& model, const Shape& chw, bool fuse,
                             DType dtype = DType::F32) {
  GraphOptions o;
  o.fuse = fuse;
  o.dtype = dtype;
  o.init_seed = 11;
  return Graph::build(yaml(model), "m.yaml", chw, o);
}

std::vector<std::string> types(Graph& g) {
  std::vector<std::string> t;
  for (size_t i = 0; i < g.num_layers(); ++i) t.push_back(g.layer(i).type());
  return t;
}

TEST(Fusion, Resnet18KeepsNamesLayoutAndInitialValues) {
  const std::string model = "{preset: resnet18, num_classes: 10, in_channels: 3}";
  auto plain = build(model, {3, 32, 32}, false);
  auto fused = build(model, {3, 32, 32}, true);
  // Every relu follows a batch norm (8 blocks x 2 + the stem) and each block's add is folded in.
  EXPECT_EQ(plain->num_layers(), 68u);
  EXPECT_EQ(fused->num_layers(), 68u - 17 - 8);
  const std::vector<std::string> t = types(*fused);
  EXPECT_EQ(std::count(t.begin(), t.end(), "batchnorm2d_act"), 17);
  EXPECT_EQ(std::count(t.begin(), t.end(), "relu"), 0);
  EXPECT_EQ(std::count(t.begin(), t.end(), "add"), 0);
  EXPECT_EQ(std::count(t.begin(), t.end(), "batchnorm2d"), 3);  // the projection shortcuts' BNs

  const std::vector<NamedTensor> a = plain->state_dict(), b = fused->state_dict();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].tensor.shape(), b[i].tensor.shape());
  }
  EXPECT_EQ(plain->parameters().to_vector(), fused->parameters().to_vector());
  EXPECT_EQ(plain->no_decay_ranges(), fused->no_decay_ranges());
}

TEST(Fusion, Resnet18NeedsNoMoreActivationMemory) {
  const std::string model = "{preset: resnet18, num_classes: 1000, in_channels: 3}";
  const GraphMemory plain = build(model, {3, 64, 64}, false)->memory_at(16);
  const GraphMemory fused = build(model, {3, 64, 64}, true)->memory_at(16);
  // The planned unfused graph already frees BN(x) and BN(x) + r as soon as the ReLU has
  // read them (ReLU's backward reads only its output), so fusion saves passes over memory,
  // not peak memory. It may cost one small tensor: the fused backward reads y while it
  // writes both input gradients, where relu -> add -> bn did that in two steps.
  EXPECT_LE(fused.arena_bytes, plain.arena_bytes * 101 / 100)
      << "fused " << fused.arena_bytes << " (at least " << fused.lower_bound_bytes << ") vs "
      << plain.arena_bytes << " (at least " << plain.lower_bound_bytes << ")";
  EXPECT_LT(fused.buffers, plain.buffers);
}

TEST(Fusion, OnlyChainsWhoseIntermediatesHaveNoOtherReader) {
  // bn_a feeds relu_a and the add: not fusable with relu_a. The add's output feeds relu_b and
  // fc's path through `gap2`: not fusable either. bn_c -> relu_c is.
  const char* model = R"(
in_channels: 2
layers:
  - {name: conv, type: conv2d, out_channels: 3, kernel: 1}
  - {name: bn_a, type: batchnorm2d}
  - {name: relu_a, type: relu}
  - {name: bn_b, type: batchnorm2d, inputs: conv}
  - {name: add, type: add, inputs: [bn_b, bn_a]}
  - {name: relu_b, type: relu}
  - {name: sum, type: add, inputs: [relu_b, add]}
  - {name: sum2, type: add, inputs: [sum, relu_a]}
  - {name: bn_c, type: batchnorm2d}
  - {name: relu_c, type: relu}
  - {name: gap, type: global_avg_pool}
)";
  auto g = build(model, {2, 4, 4}, true);
  std::vector<std::string> names;
  for (size_t i = 0; i < g->num_layers(); ++i) names.push_back(g->layer_name(i) + ":" + g->layer(i).type());
  EXPECT_EQ(names, (std::vector<std::string>{"conv:conv2d", "bn_a:batchnorm2d", "relu_a:relu",
                                              "bn_b:batchnorm2d", "add:add", "relu_b:relu", "sum:add",
                                              "sum2:add", "bn_c:batchnorm2d_act", "gap:global_avg_pool"}));
}

// A miniature ResNet in which both fusion patterns occur, with a consumer of a fused relu
// (the identity shortcut) elsewhere in the graph.
const char* kBlock = R"(
in_channels: 3
layers:
  - {name: conv1, type: conv2d, out_channels: 4, kernel: 3, padding: 1, bias: false}
  - {name: bn1, type: batchnorm2d, momentum: 0.2}
  - {name: relu, type: relu}
  - {name: b.conv1, type: conv2d, out_channels: 4, kernel: 3, padding: 1, bias: false}
  - {name: b.bn1, type: batchnorm2d, eps: 0.001}
  - {name: b.relu1, type: relu}
  - {name: b.conv2, type: conv2d, out_channels: 4, kernel: 3, padding: 1, bias: false}
  - {name: b.bn2, type: batchnorm2d}
  - {name: b.add, type: add, inputs: [relu, b.bn2]}
  - {name: b.relu2, type: relu}
  - {name: gap, type: global_avg_pool}
  - {name: fc, type: linear, out_features: 3}
)";

TEST(Fusion, FusedGraphMatchesUnfusedInTrainingAndEval) {
  for (DType dtype : {DType::F64, DType::F32}) {
    auto plain = build(kBlock, {3, 5, 6}, false, dtype);
    auto fused = build(kBlock, {3, 5, 6}, true, dtype);
    ASSERT_EQ(fused->num_layers(), 12u - 3 - 1);
    const double tol = dtype == DType::F64 ? 1e-12 : 2e-5;
    for (int step = 0; step < 3; ++step) {
      const Tensor x = random_tensor({4, 3, 5, 6}, 30 + step, -2, 2, dtype);
      const Tensor r = random_tensor({4, 3}, 40 + step, -1, 1, dtype);
      RunContext ctx;
      ctx.training = step < 2;
      plain->zero_grad();
      fused->zero_grad();
      const std::vector<double> ya = plain->forward(x, ctx).to_f64_vector();
      const std::vector<double> yb = fused->forward(x, ctx).to_f64_vector();
      for (size_t i = 0; i < ya.size(); ++i) EXPECT_NEAR(ya[i], yb[i], tol) << "step " << step;
      plain->backward(r, ctx);
      fused->backward(r, ctx);
      const std::vector<double> ga = plain->gradients().to_f64_vector();
      const std::vector<double> gb = fused->gradients().to_f64_vector();
      double largest = 0;
      for (size_t i = 0; i < ga.size(); ++i) {
        EXPECT_NEAR(ga[i], gb[i], tol * std::max(1.0, std::fabs(ga[i]))) << "step " << step << " grad " << i;
        largest = std::max(largest, std::fabs(ga[i]));
      }
      EXPECT_GT(largest, 1e-3);  // the comparison is not vacuous
    }
    const std::vector<NamedTensor> ba = plain->named_buffers(), bb = fused->named_buffers();
    ASSERT_EQ(ba.size(), bb.size());
    for (size_t i = 0; i < ba.size(); ++i) {
      const std::vector<double> va = ba[i].tensor.to_f64_vector(), vb = bb[i].tensor.to_f64_vector();
      for (size_t j = 0; j < va.size(); ++j) EXPECT_NEAR(va[j], vb[j], tol) << ba[i].name;
    }
  }
}

}  // namespace
}  // namespace te::testing
