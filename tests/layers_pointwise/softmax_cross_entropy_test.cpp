#include <gtest/gtest.h>

#include <cmath>

#include "engine/layers/softmax_cross_entropy.h"
#include "tests/support/gradcheck.h"

namespace te::testing {
namespace {

// log(1 + e^-1 + e^-2): the log-sum-exp of {1, 2, 3} is 3 + this, of {1, 0, -1} is 1 + this.
constexpr double kTail = 0.4076059644443804;

Tensor labels_of(const std::vector<float>& v) {
  return Tensor::from_vector({static_cast<int64_t>(v.size())}, v, DType::I32);
}

TEST(SoftmaxCrossEntropy, TwoByThreeByHand) {
  const Tensor logits = Tensor::from_vector_f64({2, 3}, {1, 2, 3, 1, 0, -1});
  const Tensor labels = labels_of({2, 1});
  SoftmaxCrossEntropy plain;
  // Row 0: lse - x_2 = kTail; row 1: lse - x_1 = 1 + kTail.
  EXPECT_NEAR(plain.forward(logits, labels), (kTail + 1 + kTail) / 2, 1e-14);
  // Smoothing 0.1: loss = lse - 0.9 * x_label - 0.1/3 * sum(x); sums are 6 and 0.
  SoftmaxCrossEntropy smooth(0.1);
  const double row0 = 3 + kTail - 0.9 * 3 - 0.1 / 3 * 6, row1 = 1 + kTail - 0.9 * 0 - 0.0;
  EXPECT_NEAR(smooth.forward(logits, labels), (row0 + row1) / 2, 1e-14);
  // Gradient of row 0, label 2: (p - target) / N with p = e^(x - lse).
  Tensor grad = Tensor::empty({2, 3}, DType::F64);
  smooth.backward(grad);
  const auto g = grad.to_f64_vector();
  const double lse0 = 3 + kTail;
  EXPECT_NEAR(g[0], (std::exp(1 - lse0) - 0.1 / 3) / 2, 1e-14);
  EXPECT_NEAR(g[2], (std::exp(3 - lse0) - 0.9 - 0.1 / 3) / 2, 1e-14);
  double row_sum = 0;
  for (int j = 3; j < 6; ++j) row_sum += g[j];
  EXPECT_NEAR(row_sum, 0.0, 1e-15);  // softmax and target both sum to 1
}

TEST(SoftmaxCrossEntropy, GradientMatchesFiniteDifferences) {
  for (double eps : {0.0, 0.1, 1.0}) {
    for (double scale : {1.0, 0.25}) {
      for (const Shape& shape : {Shape{5, 7}, Shape{1, 3}, Shape{4, 1}}) {
        SCOPED_TRACE(std::to_string(eps) + " " + std::to_string(scale) + " " + shape.str());
        Tensor logits = random_tensor(shape, 3, -3, 3);
        std::vector<float> l;
        for (int64_t i = 0; i < shape[0]; ++i) l.push_back(static_cast<float>((i * 5 + 2) % shape[1]));
        const Tensor labels = labels_of(l);
        SoftmaxCrossEntropy loss(eps);
        loss.forward(logits, labels);
        Tensor grad = Tensor::empty(shape, DType::F64);
        loss.backward(grad, scale);
        const auto g = grad.to_f64_vector();
        double* x = logits.data<double>();
        const double h = 1e-6;
        for (int64_t i = 0; i < logits.numel(); ++i) {
          const double saved = x[i];
          x[i] = saved + h;
          const double up = SoftmaxCrossEntropy(eps).forward(logits, labels);
          x[i] = saved - h;
          const double down = SoftmaxCrossEntropy(eps).forward(logits, labels);
          x[i] = saved;
          EXPECT_NEAR(g[i], scale * (up - down) / (2 * h), 1e-8) << i;
        }
      }
    }
  }
}

TEST(SoftmaxCrossEntropy, StableForHugeLogitsAndFloatAgrees) {
  const Tensor big = Tensor::from_vector_f64({2, 2}, {1000, 0, -1000, 1000});
  SoftmaxCrossEntropy loss;
  EXPECT_NEAR(loss.forward(big, labels_of({0, 0})), 1000.0, 1e-9);  // row 0: ~0, row 1: 2000
  const Tensor x = random_tensor({64, 10}, 9, -5, 5);
  std::vector<float> l;
  for (int i = 0; i < 64; ++i) l.push_back(static_cast<float>(i % 10));
  const double l64 = SoftmaxCrossEntropy(0.1).forward(x, labels_of(l));
  const double l32 = SoftmaxCrossEntropy(0.1).forward(x.to_dtype(DType::F32), labels_of(l));
  EXPECT_NEAR(l32, l64, 1e-6);
  Tensor p;
  softmax_rows(big.to_dtype(DType::F32), p);
  EXPECT_EQ(p.dtype(), DType::F32);
  const auto pv = p.to_f64_vector();
  EXPECT_NEAR(pv[0] + pv[1], 1.0, 1e-6);
  EXPECT_NEAR(pv[0], 1.0, 1e-6);
  EXPECT_NEAR(pv[3], 1.0, 1e-6);
}

TEST(SoftmaxCrossEntropy, ForwardBackwardInOneCallMatchesTheTwoCalls) {
  const Tensor logits = random_tensor({6, 5}, 21, -2, 2, DType::F32);
  Tensor labels = Tensor::empty({6}, DType::I32);
  for (int i = 0; i < 6; ++i) labels.data<int32_t>()[i] = (i * 3) % 5;
  SoftmaxCrossEntropy a(0.2), b(0.2);
  Tensor ga = Tensor::empty({6, 5}), gb = Tensor::empty({6, 5});
  const double mean = a.forward(logits, labels);
  a.backward(ga, 0.25);
  Tensor loss_sum = Tensor::zeros({1}, DType::F64), correct = Tensor::zeros({1}, DType::I64);
  Tensor bad_row = Tensor::empty({1}, DType::I32);
  bad_row.fill(-1);
  correct.data<int64_t>()[0] = 7;  // accumulates
  b.forward_backward(logits, labels, 0.25, gb, loss_sum, correct, bad_row);
  EXPECT_DOUBLE_EQ(loss_sum.data<double>()[0], mean * 6);
  EXPECT_EQ(correct.data<int64_t>()[0], 7 + count_correct(logits, labels));
  EXPECT_EQ(ga.to_vector(), gb.to_vector());
  EXPECT_THROW(b.backward(gb), Error);  // backward pairs with forward only
}

TEST(SoftmaxCrossEntropy, BadLabelsNameLabelAndIndex) {
  const Tensor logits = random_tensor({3, 4}, 1);
  SoftmaxCrossEntropy loss;
  for (float bad : {4.0f, -1.0f}) {
    try {
      loss.forward(logits, labels_of({0, bad, 2}));
      FAIL() << "expected te::Error";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("label " + std::to_string(static_cast<int>(bad)) + " at index 1"), std::string::npos) << m;
    }
  }
  EXPECT_THROW(loss.forward(logits, labels_of({0, 1})), ShapeError);  // wrong count
  EXPECT_THROW(loss.forward(logits, Tensor::from_vector({3}, {0, 1, 2}, DType::I64)), ShapeError);
  EXPECT_THROW(SoftmaxCrossEntropy(1.5), Error);
  Tensor grad = Tensor::empty({3, 4}, DType::F64);
  EXPECT_THROW(SoftmaxCrossEntropy().backward(grad), Error);  // before forward
}

TEST(SoftmaxCrossEntropy, CountCorrectFirstMaximumWins) {
  const Tensor logits = Tensor::from_vector_f64({4, 3}, {0.1, 0.9, 0.3,   // argmax 1
                                                         2, 2, 1,         // tie: 0 wins
                                                         -1, -3, -0.5,    // argmax 2
                                                         5, 5, 5});       // all tied: 0
  EXPECT_EQ(count_correct(logits, labels_of({1, 0, 2, 0})), 4);
  EXPECT_EQ(count_correct(logits, labels_of({1, 1, 0, 2})), 1);
  EXPECT_EQ(count_correct(logits.to_dtype(DType::F32), labels_of({0, 0, 2, 1})), 2);
  EXPECT_THROW(count_correct(logits, labels_of({1, 0, 3, 0})), Error);
}

}  // namespace
}  // namespace te::testing
