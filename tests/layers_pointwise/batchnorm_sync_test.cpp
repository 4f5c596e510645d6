// Synchronised batch norm's kernels (kernels/batchnorm_sync.h) without MPI: a batch split into
// two "replicas" whose per-channel sums are added by hand (what the all-reduce does) gives the
// plain batch norm of the whole batch: outputs, running statistics, dx, dweight, dbias.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kernels/batchnorm.h"
#include "kernels/batchnorm_sync.h"
#include "tests/support/gradcheck.h"

namespace te::testing {
namespace {

std::vector<double> added(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> s(a.size());
  for (size_t i = 0; i < a.size(); ++i) s[i] = a[i] + b[i];
  return s;
}

double max_abs_difference(const Tensor& a, const Tensor& b) {
  const auto x = a.to_f64_vector(), y = b.to_f64_vector();
  EXPECT_EQ(x.size(), y.size());
  double worst = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) worst = std::max(worst, std::fabs(x[i] - y[i]));
  return worst;
}

Tensor ones3() {
  Tensor t = Tensor::empty({3}, DType::F64);
  t.fill(1.0);
  return t;
}

struct BnState {
  Tensor rmean = Tensor::zeros({3}, DType::F64), rvar = ones3();
  Tensor smean = Tensor::zeros({3}, DType::F64), sinv = Tensor::zeros({3}, DType::F64);
  Tensor tracked = Tensor::zeros({1}, DType::I64);
};

TEST(BatchNormSync, TwoHalvesWithSummedStatisticsAreTheWholeBatch) {
  const Shape whole{4, 3, 5, 2}, half{2, 3, 5, 2};
  const int64_t n = half.numel();
  const Tensor x = random_tensor(whole, 1, -2.0, 3.0);  // a mean far from 0 per channel
  const Tensor dy = random_tensor(whole, 2);
  const Tensor w = random_tensor({3}, 3, 0.5, 1.5), b = random_tensor({3}, 4);
  const double eps = 1e-5, momentum = 0.1;

  // The reference: one process, the whole batch.
  BnState ref;
  Tensor y_ref = Tensor::empty(whole, DType::F64), dx_ref = Tensor::empty(whole, DType::F64);
  Tensor dw_ref = Tensor::zeros({3}, DType::F64), db_ref = Tensor::zeros({3}, DType::F64);
  ops::batchnorm_forward_train(x, &w, &b, ref.rmean, ref.rvar, &ref.tracked, ref.smean, ref.sinv, eps,
                               momentum, y_ref);
  ops::batchnorm_backward_train(x, dy, &w, ref.smean, ref.sinv, &dx_ref, false, &dw_ref, &db_ref);

  // Two replicas, each with its half; the "all-reduce" is the sum of their vectors.
  const Tensor xs[2] = {x.slice_flat(0, half), x.slice_flat(n, half)};
  const Tensor dys[2] = {dy.slice_flat(0, half), dy.slice_flat(n, half)};
  const std::vector<double> stats = added(ops::batchnorm_sync_stats(xs[0]), ops::batchnorm_sync_stats(xs[1]));
  EXPECT_EQ(stats.back(), 40.0);  // 4 images x 10 positions per channel
  BnState rep[2];
  Tensor y = Tensor::empty(whole, DType::F64), dx = Tensor::empty(whole, DType::F64);
  Tensor dw = Tensor::zeros({3}, DType::F64), db = Tensor::zeros({3}, DType::F64);
  std::vector<double> local[2];
  for (int r = 0; r < 2; ++r) {
    Tensor yr = y.slice_flat(r * n, half);
    ops::batchnorm_sync_forward(xs[r], &w, &b, stats, rep[r].rmean, rep[r].rvar, &rep[r].tracked,
                                rep[r].smean, rep[r].sinv, eps, momentum, yr);
    local[r] = ops::batchnorm_sync_backward_sums(xs[r], dys[r], rep[r].smean, rep[r].sinv);
  }
  const std::vector<double> sums = added(local[0], local[1]);
  for (int r = 0; r < 2; ++r) {
    Tensor dxr = dx.slice_flat(r * n, half);
    // Each replica adds its local parameter gradients; the gradient average (here: the sum
    // of the two, as both losses are sums) makes them the whole batch's.
    ops::batchnorm_sync_backward(xs[r], dys[r], &w, rep[r].smean, rep[r].sinv, local[r], sums,
                                 stats.back(), &dxr, false, &dw, &db);
  }
  // f64 throughout: only the summation order differs.
  EXPECT_LT(max_abs_difference(y, y_ref), 1e-12);
  EXPECT_LT(max_abs_difference(dx, dx_ref), 1e-12);
  EXPECT_LT(max_abs_difference(dw, dw_ref), 1e-12);
  EXPECT_LT(max_abs_difference(db, db_ref), 1e-12);
  for (int r = 0; r < 2; ++r) {
    EXPECT_LT(max_abs_difference(rep[r].rmean, ref.rmean), 1e-12);
    EXPECT_LT(max_abs_difference(rep[r].rvar, ref.rvar), 1e-12);
    EXPECT_EQ(rep[r].tracked.data<int64_t>()[0], 1);
  }
  // The halves alone (no sum) are a different normalisation: the comparison can fail.
  BnState alone;
  Tensor y_alone = Tensor::empty(half, DType::F64);
  ops::batchnorm_sync_forward(xs[0], &w, &b, ops::batchnorm_sync_stats(xs[0]), alone.rmean, alone.rvar,
                              nullptr, alone.smean, alone.sinv, eps, momentum, y_alone);
  EXPECT_GT(max_abs_difference(y_alone, y_ref.slice_flat(0, half)), 1e-3);
}

TEST(BatchNormSync, MalformedSumsAreAShapeError) {
  const Tensor x = random_tensor({2, 3, 2, 2}, 5);
  BnState s;
  Tensor y = Tensor::empty(x.shape(), DType::F64);
  EXPECT_THROW(ops::batchnorm_sync_forward(x, nullptr, nullptr, std::vector<double>(5, 1.0), s.rmean,
                                           s.rvar, nullptr, s.smean, s.sinv, 1e-5, 0.1, y),
               ShapeError);
}

}  // namespace
}  // namespace te::testing
