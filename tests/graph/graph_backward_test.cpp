// End-to-end gradients of a residual graph against finite differences (f64), gradient
// accumulation, buffer reuse, and overfitting one small batch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "tests/graph/test_layers.h"

namespace te::testing {
namespace {

// Two residual branches share a1's output (s2 and sum both read it), and `sum` is read by fc:
// backward must overwrite a1's gradient once and accumulate the second.
const char* kResidual = R"(
in_channels: 3
layers:
  - {name: s1, type: t_scale}
  - {name: a1, type: t_tanh}
  - {name: s2, type: t_scale}
  - {name: a2, type: t_tanh}
  - {name: sum, type: t_add, inputs: [a1, a2]}
  - {name: s3, type: t_scale, bias: false, inputs: sum}
  - {name: sum2, type: t_add, inputs: [s3, sum]}
  - {name: fc, type: t_dense, out_features: 5}
)";

TEST(GraphBackward, ResidualGraphMatchesFiniteDifferencesInDouble) {
  auto g = Graph::build(yaml(kResidual), "m.yaml", {3, 2, 3}, test_options(DType::F64));
  g->parameters().copy_from(random_tensor({g->num_parameters()}, 3, -0.9, 0.9));
  const Tensor x = random_tensor({2, 3, 2, 3}, 4, -1.5, 1.5);
  const Tensor r = random_tensor({2, 5}, 5);
  RunContext ctx;
  g->zero_grad();
  g->forward(x, ctx);
  g->backward(r, ctx);
  const std::vector<double> analytic = g->gradients().to_f64_vector();

  double* p = g->parameters().data<double>();
  const double h = 1e-6;
  int checked = 0;
  for (int64_t i = 0; i < g->num_parameters(); ++i) {
    const double saved = p[i];
    p[i] = saved + h;
    const double up = weighted_sum(g->forward(x, ctx), r);
    p[i] = saved - h;
    const double down = weighted_sum(g->forward(x, ctx), r);
    p[i] = saved;
    const double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(analytic[i], numeric, 1e-6 * std::max(1.0, std::fabs(numeric))) << "param " << i;
    checked += std::fabs(numeric) > 1e-3;
  }
  EXPECT_GT(checked, g->num_parameters() / 2);  // the check is not vacuous
}

// The gradients-ready hook (data parallelism starts reducing on it): once per layer with
// parameters, in backward order (reverse listing, so from the end of the flat buffer), the
// ranges tile the flat gradients, and each range already holds its final values when reported.
TEST(GraphBackward, GradientsReadyHookReportsEachLayersFinalRangeOnce) {
  auto g = Graph::build(yaml(kResidual), "m.yaml", {3, 2, 3}, test_options(DType::F64));
  const Tensor x = random_tensor({2, 3, 2, 3}, 8);
  const Tensor r = random_tensor({2, 5}, 9);
  RunContext ctx;
  struct Report {
    int64_t offset, count;
    std::vector<double> values;  // the range at report time
  };
  std::vector<Report> reports;
  g->set_gradients_ready_hook([&](int64_t offset, int64_t count) {
    const std::vector<double> all = g->gradients().to_f64_vector();
    reports.push_back({offset, count, std::vector<double>(all.begin() + offset, all.begin() + offset + count)});
  });
  g->zero_grad();
  g->forward(x, ctx);
  g->backward(r, ctx);
  const std::vector<double> final_grads = g->gradients().to_f64_vector();
  ASSERT_EQ(reports.size(), 4u);  // s1, s2, s3, fc have parameters
  int64_t end = g->num_parameters();
  for (const Report& rep : reports) {
    EXPECT_EQ(rep.offset + rep.count, end) << "not the next range from the end";
    end = rep.offset;
    EXPECT_EQ(rep.values, std::vector<double>(final_grads.begin() + rep.offset,
                                              final_grads.begin() + rep.offset + rep.count));
  }
  EXPECT_EQ(end, 0);
  g->set_gradients_ready_hook({});  // unset: no more calls
  g->forward(x, ctx);
  g->backward(r, ctx);
  EXPECT_EQ(reports.size(), 4u);
}

TEST(GraphBackward, ParameterGradientsAccumulateAndZeroGradClears) {
  auto g = Graph::build(yaml(kResidual), "m.yaml", {3, 2, 3}, test_options(DType::F64));
  const Tensor x = random_tensor({2, 3, 2, 3}, 6);
  const Tensor r = random_tensor({2, 5}, 7);
  g->zero_grad();
  g->forward(x, {});
  g->backward(r, {});
  const std::vector<double> once = g->gradients().to_f64_vector();
  g->forward(x, {});
  g->backward(r, {});
  const std::vector<double> twice = g->gradients().to_f64_vector();
  double norm = 0;
  for (size_t i = 0; i < once.size(); ++i) {
    EXPECT_NEAR(twice[i], 2 * once[i], 1e-12);
    norm += std::fabs(once[i]);
  }
  EXPECT_GT(norm, 0.0);
  g->zero_grad();
  for (double v : g->gradients().to_f64_vector()) EXPECT_EQ(v, 0.0);
}

TEST(GraphBackward, ActivationBuffersAreReusedAcrossStepsAndSmallerBatches) {
  auto g = Graph::build(yaml(kResidual), "m.yaml", {3, 2, 3}, test_options());
  const Tensor x4 = random_tensor({4, 3, 2, 3}, 8, -1, 1, DType::F32);
  const Tensor x2 = x4.narrow0(0, 2);
  const Tensor x6 = random_tensor({6, 3, 2, 3}, 9, -1, 1, DType::F32);
  const void* first = g->forward(x4, {}).raw();
  const std::vector<float> out4 = g->forward(x4, {}).to_vector();
  EXPECT_EQ(g->forward(x4, {}).raw(), first);
  // A smaller batch (an epoch's last) runs in the same memory and computes the same rows.
  const Tensor& out2 = g->forward(x2, {});
  EXPECT_EQ(out2.raw(), first);
  EXPECT_EQ(out2.shape(), Shape({2, 5}));
  EXPECT_EQ(out2.to_vector(), std::vector<float>(out4.begin(), out4.begin() + 10));
  g->backward(random_tensor({2, 5}, 1, -1, 1, DType::F32), {});
  EXPECT_THROW(g->backward(random_tensor({4, 5}, 1, -1, 1, DType::F32), {}), ShapeError);
  EXPECT_EQ(g->forward(x6, {}).shape(), Shape({6, 5}));
}

TEST(GraphBackward, UnplannedBytesCountEveryOutputAndGradient) {
  auto g = Graph::build(yaml(kResidual), "m.yaml", {3, 2, 3}, test_options());
  auto aligned = [](int64_t bytes) { return (bytes + 255) / 256 * 256; };
  for (int64_t batch : {1, 2, 8, 64}) {
    const GraphMemory m = g->memory_at(batch);
    // 7 outputs of 18 floats and their 7 gradients, plus fc's output [batch, 5] (its
    // gradient is the caller's), each rounded up to 256 bytes.
    EXPECT_EQ(m.unplanned_bytes, 14 * aligned(batch * 18 * 4) + aligned(batch * 5 * 4)) << batch;
    EXPECT_EQ(m.buffers, 15);
    EXPECT_LE(m.arena_bytes, m.unplanned_bytes);
    EXPECT_EQ(g->activation_bytes(batch), m.arena_bytes + m.saved_bytes);
  }
}

// Softmax cross-entropy over logits [N, K]; writes dL/dlogits (mean over the batch).
double softmax_cross_entropy(const Tensor& logits, const std::vector<int>& labels, Tensor& grad) {
  const int64_t n = logits.dim(0), k = logits.dim(1);
  const float* z = logits.data<float>();
  float* g = grad.data<float>();
  double loss = 0;
  for (int64_t i = 0; i < n; ++i) {
    double m = z[i * k];
    for (int64_t j = 1; j < k; ++j) m = std::max<double>(m, z[i * k + j]);
    double sum = 0;
    for (int64_t j = 0; j < k; ++j) sum += std::exp(z[i * k + j] - m);
    for (int64_t j = 0; j < k; ++j) {
      const double p = std::exp(z[i * k + j] - m) / sum;
      g[i * k + j] = static_cast<float>((p - (j == labels[i] ? 1.0 : 0.0)) / n);
    }
    loss -= (z[i * k + labels[i]] - m - std::log(sum)) / n;
  }
  return loss;
}

TEST(GraphBackward, TinyModelOverfitsOneBatchWithPlainSgd) {
  auto g = Graph::build(yaml(R"(
layers:
  - {name: fc1, type: t_dense, out_features: 16}
  - {name: act, type: t_tanh}
  - {name: fc2, type: t_dense, out_features: 3}
)"),
                        "m.yaml", {3, 4, 4}, test_options());
  const Tensor x = random_tensor({8, 3, 4, 4}, 10, -1, 1, DType::F32);
  const std::vector<int> labels = {0, 1, 2, 0, 1, 2, 0, 1};
  Tensor grad = Tensor::zeros({8, 3});
  double first = 0, loss = 0;
  for (int step = 0; step < 300; ++step) {
    g->zero_grad();
    loss = softmax_cross_entropy(g->forward(x, {}), labels, grad);
    if (step == 0) first = loss;
    g->backward(grad, {});
    float* p = g->parameters().data<float>();
    const float* d = g->gradients().data<float>();
    for (int64_t i = 0; i < g->num_parameters(); ++i) p[i] -= 0.5f * d[i];
  }
  EXPECT_GT(first, 0.5);
  EXPECT_LT(loss, 0.01) << "started at " << first;
}

}  // namespace
}  // namespace te::testing
