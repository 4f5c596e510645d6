// CPU-vs-CUDA: softmax cross-entropy (separate and fused), accuracy, optimizer steps and the
// gradient reductions, several shapes including batch 1 and odd class counts.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/core/philox.h"
#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda/cuda_test_util.h"

namespace te::cuda_test {
namespace {

class LossOptimOps : public CudaTest {};

Tensor random_labels(int64_t n, int64_t k, uint64_t seed) {
  CounterRng rng(seed, 3, 0);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<float>(rng.below(static_cast<uint32_t>(k)));
  return Tensor::from_vector(Shape{n}, v, DType::I32);
}

TEST_F(LossOptimOps, SoftmaxCrossEntropyMatchesCpu) {
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 1}, {1, 10}, {7, 3}, {33, 1000}, {256, 10}};
  uint64_t seed = 1;
  for (auto [n, k] : shapes)
    for (double eps : {0.0, 0.1}) {
      const std::string what = "softmax_xent [" + std::to_string(n) + ", " + std::to_string(k) +
                               "] eps " + std::to_string(eps);
      const Tensor logits = rand_cpu({n, k}, seed++, -8, 8);
      const Tensor labels = random_labels(n, k, seed++);
      Tensor probs_cpu = Tensor::empty({n, k});
      const double loss_cpu = ops::cpu::softmax_xent_forward(logits, labels, eps, probs_cpu);
      Guarded probs({n, k}, DType::F32);
      const double loss_gpu = ops::cuda::softmax_xent_forward(to_gpu(logits), to_gpu(labels), eps, probs.view);
      probs.expect_guards_intact(what);
      EXPECT_NEAR(loss_gpu, loss_cpu, 1e-6 * std::max(1.0, std::fabs(loss_cpu))) << what;
      expect_close(probs.view, probs_cpu, 1e-5, 1e-7, what + " probs");

      const double scale = 0.75;
      Tensor grad_cpu = Tensor::empty({n, k});
      ops::cpu::softmax_xent_backward(probs_cpu, labels, eps, scale, grad_cpu);
      Guarded grad({n, k}, DType::F32);
      ops::cuda::softmax_xent_backward(to_gpu(probs_cpu), to_gpu(labels), eps, scale, grad.view);
      grad.expect_guards_intact(what + " backward");
      expect_close(grad.view, grad_cpu, 1e-5, 1e-7, what + " backward");

      Guarded probs2({n, k}, DType::F32), grad2({n, k}, DType::F32);
      const double fused = ops::cuda::softmax_xent_forward_backward(
          to_gpu(logits), to_gpu(labels), eps, scale, probs2.view, grad2.view);
      EXPECT_NEAR(fused, loss_cpu, 1e-6 * std::max(1.0, std::fabs(loss_cpu))) << what << " fused";
      grad2.expect_guards_intact(what + " fused");
      expect_close(grad2.view, grad_cpu, 1e-5, 1e-6, what + " fused gradient");

      Guarded probs3({n, k}, DType::F32), grad3({n, k}, DType::F32);
      Tensor loss_sum = Tensor::zeros({1}, DType::F64, gpu());
      ops::cuda::softmax_xent_fused_async(to_gpu(logits), to_gpu(labels), eps, scale, probs3.view,
                                          grad3.view, loss_sum);
      EXPECT_NEAR(loss_sum.to_f64_vector()[0] / static_cast<double>(n), loss_cpu,
                  1e-6 * std::max(1.0, std::fabs(loss_cpu)))
          << what << " async";
      grad3.expect_guards_intact(what + " async");
      expect_close(grad3.view, grad_cpu, 1e-5, 1e-6, what + " async gradient");

      Tensor sm_cpu = Tensor::empty({n, k});
      ops::cpu::softmax_rows(logits, sm_cpu);
      Guarded sm({n, k}, DType::F32);
      ops::cuda::softmax_rows(to_gpu(logits), sm.view);
      expect_close(sm.view, sm_cpu, 1e-5, 1e-7, what + " softmax_rows");

      EXPECT_EQ(ops::cuda::count_correct(to_gpu(logits), to_gpu(labels)),
                ops::cpu::count_correct(logits, labels))
          << what;
    }
}

TEST_F(LossOptimOps, CountCorrectBreaksTiesLikeCpu) {
  // Rows with repeated maxima: the first maximal index counts.
  const Tensor logits = Tensor::from_vector({3, 4}, {1, 5, 5, 0, 2, 2, 2, 2, -1, -3, -1, -2});
  const Tensor labels = Tensor::from_vector({3}, {1, 0, 2}, DType::I32);
  EXPECT_EQ(ops::cpu::count_correct(logits, labels), 2);
  EXPECT_EQ(ops::cuda::count_correct(to_gpu(logits), to_gpu(labels)), 2);
}

// With every label at its row's maximum, every row counts, wherever the maximum lies (any lane
// and warp of the reduction); moved one place off, none does. (Random labels, as above, match
// the argmax too rarely to notice a reduction that misses part of the row.)
TEST_F(LossOptimOps, CountCorrectFindsTheMaximumAnywhereInTheRow) {
  uint64_t seed = 500;
  for (int64_t k : {1, 7, 17, 33, 100, 129, 1000}) {
    const int64_t n = std::min<int64_t>(k, 96);
    Tensor logits = rand_cpu({n, k}, seed++);
    std::vector<float> at(static_cast<size_t>(n)), off(static_cast<size_t>(n));
    for (int64_t r = 0; r < n; ++r) {
      const int64_t pos = (r * 37 + r / 3) % k;
      logits.data<float>()[r * k + pos] = 2.0f;  // random logits lie in [-1, 1)
      at[static_cast<size_t>(r)] = static_cast<float>(pos);
      off[static_cast<size_t>(r)] = static_cast<float>((pos + 1) % k);
    }
    const Tensor labels = Tensor::from_vector({n}, at, DType::I32);
    const Tensor wrong = Tensor::from_vector({n}, off, DType::I32);
    EXPECT_EQ(ops::cpu::count_correct(logits, labels), n) << "k " << k;
    EXPECT_EQ(ops::cuda::count_correct(to_gpu(logits), to_gpu(labels)), n) << "k " << k;
    EXPECT_EQ(ops::cuda::count_correct(to_gpu(logits), to_gpu(wrong)), k == 1 ? n : 0) << "k " << k;
  }
}

TEST_F(LossOptimOps, BadLabelIsReportedWithItsRow) {
  const Tensor logits = rand_cpu({4, 5}, 9);
  const Tensor labels = Tensor::from_vector({4}, {0, 4, 7, 1}, DType::I32);
  Tensor probs = Tensor::empty({4, 5}, DType::F32, gpu());
  try {
    ops::cuda::softmax_xent_forward(to_gpu(logits), to_gpu(labels), 0.0, probs);
    FAIL() << "expected an error for label 7";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("label 7 at index 2"), std::string::npos) << e.what();
  }
}

Tensor mask_of(int64_t n, uint64_t seed) {
  CounterRng rng(seed, 5, 0);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = rng.uniform() < 0.3f ? 0.0f : 1.0f;
  return Tensor::from_vector(Shape{n}, v, DType::U8);
}

TEST_F(LossOptimOps, SgdMatchesCpu) {
  uint64_t seed = 50;
  for (int64_t n : {int64_t(1), int64_t(1000), int64_t(123457)})
    for (float momentum : {0.0f, 0.9f})
      for (bool nesterov : {false, true})
        for (bool first : {false, true})
          for (bool masked : {false, true}) {
            ops::SgdHyper h;
            h.lr = 0.05f;
            h.momentum = momentum;
            h.weight_decay = 5e-4f;
            h.nesterov = nesterov && momentum != 0;
            h.first_step = first;
            const Tensor p0 = rand_cpu({n}, seed++), g = rand_cpu({n}, seed++);
            const Tensor b0 = rand_cpu({n}, seed++);
            const Tensor mask = masked ? mask_of(n, seed++) : Tensor();
            Tensor p_cpu = p0.clone(), b_cpu = b0.clone();
            ops::cpu::sgd_step(p_cpu, g, b_cpu, mask, h);
            Guarded p({n}, DType::F32, &p0), b({n}, DType::F32, &b0);
            Tensor mask_gpu = masked ? to_gpu(mask) : Tensor();
            ops::cuda::sgd_step(p.view, to_gpu(g), b.view, mask_gpu, h);
            p.expect_guards_intact("sgd params");
            b.expect_guards_intact("sgd momentum");
            const std::string what = "sgd n=" + std::to_string(n) + " momentum " +
                                     std::to_string(momentum) + (nesterov ? " nesterov" : "") +
                                     (first ? " first" : "") + (masked ? " masked" : "");
            expect_close(p.view, p_cpu, 1e-6, 1e-7, what + " params");
            if (momentum != 0) expect_close(b.view, b_cpu, 1e-6, 1e-7, what + " buffer");
          }
}

TEST_F(LossOptimOps, AdamwMatchesCpu) {
  uint64_t seed = 80;
  for (int64_t n : {int64_t(1), int64_t(777), int64_t(100003)})
    for (bool masked : {false, true})
      for (int t : {1, 10}) {
        ops::AdamwHyper h;
        const double lr = 1e-3, wd = 0.05, b1 = 0.9, b2 = 0.999;
        h.decay_factor = static_cast<float>(1.0 - lr * wd);
        h.one_minus_beta1 = static_cast<float>(1.0 - b1);
        h.beta2 = static_cast<float>(b2);
        h.one_minus_beta2 = static_cast<float>(1.0 - b2);
        h.eps = 1e-8f;
        h.step_size = static_cast<float>(lr / (1.0 - std::pow(b1, t)));
        h.bias_correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(b2, t)));
        const Tensor p0 = rand_cpu({n}, seed++), g = rand_cpu({n}, seed++);
        const Tensor m0 = rand_cpu({n}, seed++, -0.1, 0.1), v0 = rand_cpu({n}, seed++, 0.0, 0.01);
        const Tensor mask = masked ? mask_of(n, seed++) : Tensor();
        Tensor p_cpu = p0.clone(), m_cpu = m0.clone(), v_cpu = v0.clone();
        ops::cpu::adamw_step(p_cpu, g, m_cpu, v_cpu, mask, h);
        Guarded p({n}, DType::F32, &p0), m({n}, DType::F32, &m0), v({n}, DType::F32, &v0);
        Tensor mask_gpu = masked ? to_gpu(mask) : Tensor();
        ops::cuda::adamw_step(p.view, to_gpu(g), m.view, v.view, mask_gpu, h);
        p.expect_guards_intact("adamw params");
        m.expect_guards_intact("adamw exp_avg");
        v.expect_guards_intact("adamw exp_avg_sq");
        const std::string what = "adamw n=" + std::to_string(n) + " t=" + std::to_string(t);
        expect_close(p.view, p_cpu, 1e-6, 1e-7, what + " params");
        expect_close(m.view, m_cpu, 1e-6, 1e-8, what + " exp_avg");
        expect_close(v.view, v_cpu, 1e-6, 1e-10, what + " exp_avg_sq");
      }
}

TEST_F(LossOptimOps, ReductionsMatchCpu) {
  uint64_t seed = 120;
  for (int64_t n : {int64_t(1), int64_t(513), int64_t(1234567)}) {
    const Tensor x = rand_cpu({n}, seed++, -2, 2);
    const Tensor xg = to_gpu(x);
    const double want = ops::cpu::sum_of_squares(x);
    EXPECT_NEAR(ops::cuda::sum_of_squares(xg), want, 1e-9 * want) << "n=" << n;
    EXPECT_EQ(ops::cuda::sum_of_squares(xg), ops::cuda::sum_of_squares(xg)) << "repeatable";
    EXPECT_TRUE(ops::cuda::all_finite(xg));
    Tensor scaled_cpu = x.clone();
    ops::cpu::scale_inplace(scaled_cpu, 0.37);
    Guarded scaled({n}, DType::F32, &x);
    ops::cuda::scale_inplace(scaled.view, 0.37);
    scaled.expect_guards_intact("scale_inplace");
    expect_close(scaled.view, scaled_cpu, 1e-6, 0, "scale_inplace");
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      Tensor y = x.clone();
      y.data<float>()[n / 2] = bad;
      EXPECT_FALSE(ops::cuda::all_finite(to_gpu(y))) << "n=" << n << " value " << bad;
    }
  }
}

}  // namespace
}  // namespace te::cuda_test
