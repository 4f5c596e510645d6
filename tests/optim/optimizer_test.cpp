// SGD and AdamW against hand-computed torch.optim updates on a 3-element buffer.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/core/parallel.h"
#include "engine/optim/optimizer.h"

namespace te {
namespace {

// p0 and the gradients of three steps, shared by the SGD cases.
const std::vector<float> kP0 = {1.0f, -2.0f, 0.5f};
const std::vector<std::vector<float>> kGrads = {
    {0.5f, -1.0f, 2.0f}, {0.25f, 0.5f, -1.0f}, {-0.5f, 1.0f, 0.5f}};

std::vector<float> run_three_steps(const OptimizerConfig& cfg, double lr,
                                   std::vector<std::pair<int64_t, int64_t>> no_decay = {}) {
  auto opt = make_optimizer(cfg, 3, Device::cpu(), std::move(no_decay));
  Tensor p = Tensor::from_vector({3}, kP0);
  for (const auto& g : kGrads) opt->step(p, Tensor::from_vector({3}, g), lr);
  EXPECT_EQ(opt->step_count(), 3);
  return p.to_vector();
}

void expect_near(const std::vector<float>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

OptimizerConfig sgd(double momentum, double wd, bool nesterov = false) {
  OptimizerConfig c;
  c.type = "sgd";
  c.momentum = momentum;
  c.weight_decay = wd;
  c.nesterov = nesterov;
  return c;
}

TEST(Sgd, PlainIsPMinusLrTimesSumOfGradients) {
  // p3 = p0 - 0.1 * (g1 + g2 + g3); g sums: 0.25, 0.5, 1.5
  expect_near(run_three_steps(sgd(0, 0), 0.1),
              {1.0 - 0.1 * 0.25, -2.0 - 0.1 * 0.5, 0.5 - 0.1 * 1.5}, 1e-6);
}

TEST(Sgd, MomentumBufferStartsAtTheFirstGradient) {
  // buf1 = g1, buf2 = 0.9 g1 + g2, buf3 = 0.81 g1 + 0.9 g2 + g3; p3 = p0 - 0.1 (buf1+buf2+buf3)
  // buf sum = 2.71 g1 + 1.9 g2 + g3:
  //   e0: 2.71*0.5 + 1.9*0.25 - 0.5 = 1.33   e1: -2.71 + 0.95 + 1 = -0.76
  //   e2: 5.42 - 1.9 + 0.5 = 4.02
  expect_near(run_three_steps(sgd(0.9, 0), 0.1), {1.0 - 0.133, -2.0 + 0.076, 0.5 - 0.402}, 1e-6);
}

TEST(Sgd, NesterovAddsMomentumTimesBuffer) {
  // d_t = g_t + 0.9 buf_t; sum d = (g1+g2+g3) + 0.9 * (buf sum above)
  //   e0: 0.25 + 0.9*1.33 = 1.447   e1: 0.5 - 0.9*0.76 = -0.184   e2: 1.5 + 0.9*4.02 = 5.118
  expect_near(run_three_steps(sgd(0.9, 0, true), 0.1),
              {1.0 - 0.1447, -2.0 + 0.0184, 0.5 - 0.5118}, 1e-6);
}

TEST(Sgd, WeightDecayIsAddedToTheGradient) {
  // p_t = p_{t-1} - 0.1 (g_t + 0.1 p_{t-1}) = 0.99 p_{t-1} - 0.1 g_t
  //   e0: 0.99 - 0.05 = 0.94;  0.9306 - 0.025 = 0.9056;  0.896544 + 0.05 = 0.946544
  //   e1: -1.98 + 0.1 = -1.88; -1.8612 - 0.05 = -1.9112; -1.892088 - 0.1 = -1.992088
  //   e2: 0.495 - 0.2 = 0.295; 0.29205 + 0.1 = 0.39205;  0.3881295 - 0.05 = 0.3381295
  expect_near(run_three_steps(sgd(0, 0.1), 0.1), {0.946544, -1.992088, 0.3381295}, 1e-6);
}

TEST(Sgd, NoDecayRangesAreHonoured) {
  // Element 1 excluded: it follows plain SGD (-2.05); elements 0 and 2 as in the decay case.
  expect_near(run_three_steps(sgd(0, 0.1), 0.1, {{1, 1}}), {0.946544, -2.05, 0.3381295}, 1e-6);
}

TEST(Sgd, MomentumZeroKeepsNoState) {
  auto opt = make_optimizer(sgd(0, 0), 3, Device::cpu());
  EXPECT_TRUE(opt->state_tensors().empty());
  auto with_momentum = make_optimizer(sgd(0.9, 0), 3, Device::cpu());
  ASSERT_EQ(with_momentum->state_tensors().size(), 1u);
  EXPECT_EQ(with_momentum->state_tensors()[0].first, "momentum");
}

OptimizerConfig adamw(double wd) {
  OptimizerConfig c;
  c.type = "adamw";
  c.weight_decay = wd;
  return c;
}

TEST(AdamW, ConstantGradientMovesByLrTimesSignAfterBiasCorrection) {
  // With g constant, m_t = (1 - 0.9^t) g and v_t = (1 - 0.999^t) g^2, so the bias-corrected
  // update is lr * g / |g| (eps 1e-8 is below f32 resolution here). Decoupled decay first:
  // p_t = (1 - 0.1*0.1) p_{t-1} - 0.1 * sign(g)
  //   e0 (g= 0.5): 0.99 - 0.1 = 0.89;   0.8811 - 0.1 = 0.7811;   0.773289 - 0.1 = 0.673289
  //   e1 (g=-1.0): -1.98 + 0.1 = -1.88; -1.8612 + 0.1 = -1.7612; -1.743588 + 0.1 = -1.643588
  //   e2 (g= 2.0): 0.495 - 0.1 = 0.395; 0.39105 - 0.1 = 0.29105; 0.2881395 - 0.1 = 0.1881395
  auto opt = make_optimizer(adamw(0.1), 3, Device::cpu());
  Tensor p = Tensor::from_vector({3}, kP0);
  const Tensor g = Tensor::from_vector({3}, {0.5f, -1.0f, 2.0f});
  for (int t = 0; t < 3; ++t) opt->step(p, g, 0.1);
  expect_near(p.to_vector(), {0.673289, -1.643588, 0.1881395}, 2e-6);
  // Moments: m3 = (1 - 0.729) g = 0.271 g; v3 = (1 - 0.999^3) g^2 = 0.002997001 g^2
  auto state = opt->state_tensors();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[0].first, "exp_avg");
  EXPECT_EQ(state[1].first, "exp_avg_sq");
  expect_near(state[0].second->to_vector(), {0.271 * 0.5, -0.271, 0.271 * 2}, 1e-6);
  expect_near(state[1].second->to_vector(), {0.002997001 * 0.25, 0.002997001, 0.002997001 * 4},
              1e-8);
}

TEST(AdamW, NoDecayRangeSkipsOnlyTheDecay) {
  // Element 1 without decay: -2 + 3 * 0.1 = -1.7; the others as with decay.
  auto opt = make_optimizer(adamw(0.1), 3, Device::cpu(), {{1, 1}});
  Tensor p = Tensor::from_vector({3}, kP0);
  const Tensor g = Tensor::from_vector({3}, {0.5f, -1.0f, 2.0f});
  for (int t = 0; t < 3; ++t) opt->step(p, g, 0.1);
  expect_near(p.to_vector(), {0.673289, -1.7, 0.1881395}, 2e-6);
}

TEST(AdamW, ChangingGradientFollowsTheMomentRecursions) {
  // One element, p0 = 1, lr 0.05, wd 0.2, g = 0.5, -0.25, 1.0, written out step by step.
  const double lr = 0.05, wd = 0.2, eps = 1e-8;
  double p = 1.0, m = 0, v = 0;
  const double g[3] = {0.5, -0.25, 1.0};
  // step 1: m1 = 0.05, v1 = 0.00025, m^ = 0.05/0.1 = 0.5, v^ = 0.00025/0.001 = 0.25,
  //         p1 = 1*(1-0.01) - 0.05 * 0.5/(0.5+eps) = 0.94
  // step 2: m2 = 0.045 - 0.025 = 0.02, v2 = 0.00024975 + 0.0000625 = 0.00031225,
  //         m^ = 0.02/0.19, v^ = 0.00031225/0.001999
  // step 3: m3 = 0.018 + 0.1 = 0.118, v3 = 0.00031193775 + 0.001 = 0.00131193775,
  //         m^ = 0.118/0.271, v^ = 0.00131193775/0.002997001
  const double m_t[3] = {0.05, 0.02, 0.118};
  const double v_t[3] = {0.00025, 0.00031225, 0.00131193775};
  const double bc1[3] = {0.1, 0.19, 0.271};
  const double bc2[3] = {0.001, 0.001999, 0.002997001};
  for (int t = 0; t < 3; ++t) {
    m = 0.9 * m + 0.1 * g[t];
    v = 0.999 * v + 0.001 * g[t] * g[t];
    ASSERT_NEAR(m, m_t[t], 1e-12);
    ASSERT_NEAR(v, v_t[t], 1e-12);
    p = p * (1 - lr * wd) - lr * (m_t[t] / bc1[t]) / (std::sqrt(v_t[t] / bc2[t]) + eps);
  }
  auto opt = make_optimizer(adamw(wd), 1, Device::cpu());
  Tensor pt = Tensor::from_vector({1}, {1.0f});
  for (double gt : g) opt->step(pt, Tensor::from_vector({1}, {static_cast<float>(gt)}), lr);
  EXPECT_NEAR(pt.to_vector()[0], p, 1e-6);
}

// Three steps straight equal two steps, a state copy into a fresh optimizer, and one more step:
// what a checkpoint restores.
void expect_resume_is_exact(const OptimizerConfig& cfg) {
  auto straight = make_optimizer(cfg, 3, Device::cpu());
  Tensor p = Tensor::from_vector({3}, kP0);
  for (const auto& g : kGrads) straight->step(p, Tensor::from_vector({3}, g), 0.1);

  auto first = make_optimizer(cfg, 3, Device::cpu());
  Tensor q = Tensor::from_vector({3}, kP0);
  for (int t = 0; t < 2; ++t) first->step(q, Tensor::from_vector({3}, kGrads[t]), 0.1);
  auto resumed = make_optimizer(cfg, 3, Device::cpu());
  auto src = first->state_tensors();
  auto dst = resumed->state_tensors();
  ASSERT_EQ(src.size(), dst.size());
  for (size_t i = 0; i < src.size(); ++i) dst[i].second->copy_from(*src[i].second);
  resumed->set_step_count(first->step_count());
  resumed->step(q, Tensor::from_vector({3}, kGrads[2]), 0.1);
  EXPECT_EQ(q.to_vector(), p.to_vector());
}

TEST(Optimizer, ResumeFromStateIsExact) {
  expect_resume_is_exact(sgd(0.9, 0.1, true));
  expect_resume_is_exact(adamw(0.1));
}

TEST(Optimizer, LargeBufferMatchesSmallCaseOnEveryThreadCount) {
  // 100003 elements span several parallel blocks; each repeats the 3-element momentum case.
  const int64_t n = 100003;
  std::vector<float> p0(n);
  std::vector<std::vector<float>> grads(3, std::vector<float>(n));
  for (int64_t i = 0; i < n; ++i) {
    p0[i] = kP0[i % 3];
    for (int t = 0; t < 3; ++t) grads[t][i] = kGrads[t][i % 3];
  }
  struct RestoreThreads {
    int saved = num_threads();
    ~RestoreThreads() { set_num_threads(saved); }
  } restore;
  for (int threads : {1, 3}) {
    set_num_threads(threads);
    auto opt = make_optimizer(sgd(0.9, 0), n, Device::cpu());
    Tensor p = Tensor::from_vector({n}, p0);
    for (int t = 0; t < 3; ++t) opt->step(p, Tensor::from_vector({n}, grads[t]), 0.1);
    const std::vector<float> got = p.to_vector();
    const double want[3] = {0.867, -1.924, 0.098};
    for (int64_t i = 0; i < n; i += 997) ASSERT_NEAR(got[i], want[i % 3], 1e-6) << i;
    ASSERT_NEAR(got[n - 1], want[(n - 1) % 3], 1e-6);
  }
}

TEST(Optimizer, BadConfigAndBuffersAreClearErrors) {
  OptimizerConfig c;
  c.type = "adamm";
  try {
    make_optimizer(c, 3, Device::cpu());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("adamw, sgd"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("did you mean 'adamw'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_optimizer(sgd(0, 0, true), 3, Device::cpu()), ConfigError);
  EXPECT_THROW(make_optimizer(sgd(-0.1, 0), 3, Device::cpu()), ConfigError);
  EXPECT_THROW(make_optimizer(sgd(0.9, 0), 3, Device::cpu(), {{2, 2}}), Error);
  auto opt = make_optimizer(sgd(0.9, 0), 3, Device::cpu());
  Tensor p = Tensor::from_vector({3}, kP0);
  EXPECT_THROW(opt->step(p, Tensor::from_vector({4}, {1, 2, 3, 4}), 0.1), Error);
  EXPECT_THROW(opt->step(p, Tensor::from_vector({3}, kGrads[0], DType::F64), 0.1), Error);
  EXPECT_THROW(opt->step(p, Tensor::from_vector({3}, kGrads[0]), std::nan("")), Error);
  EXPECT_EQ(opt->step_count(), 0);
}

}  // namespace
}  // namespace te
