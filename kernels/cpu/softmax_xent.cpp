// CPU softmax cross-entropy. Rows are independent: threads take blocks of rows, each row's
// loss goes to its own slot, and the slots are summed in order afterwards, so the loss does
// not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/core/parallel.h"
#include "kernels/softmax_xent.h"

namespace te::ops::cpu {
namespace {

constexpr int64_t kGrain = 1 << 14;  // logits per task

struct Rows {
  int64_t n = 0, k = 0;
};

Rows rows_of(const char* op, const Tensor& logits) {
  if (logits.rank() != 2 || logits.dim(1) < 1)
    throw ShapeError(std::string(op) + ": logits " + logits.shape().str() + " should be [N, K] with K >= 1");
  if (logits.dtype() != DType::F32 && logits.dtype() != DType::F64)
    throw Error(std::string(op) + ": logits must be f32 or f64, got " + dtype_name(logits.dtype()));
  return {logits.dim(0), logits.dim(1)};
}

// Checks labels are [N] i32 within [0, K) and returns them.
const int32_t* checked_labels(const char* op, const Tensor& labels, const Rows& r) {
  if (labels.rank() != 1 || labels.dim(0) != r.n || labels.dtype() != DType::I32)
    throw ShapeError(std::string(op) + ": labels are " + labels.shape().str() + " " +
                     dtype_name(labels.dtype()) + ", expected [" + std::to_string(r.n) + "] i32");
  const int32_t* l = labels.data<int32_t>();
  for (int64_t i = 0; i < r.n; ++i)
    if (l[i] < 0 || l[i] >= r.k)
      throw Error(std::string(op) + ": label " + std::to_string(l[i]) + " at index " +
                  std::to_string(i) + " is outside [0, " + std::to_string(r.k) +
                  ") (the model has " + std::to_string(r.k) + " classes)");
  return l;
}

void check_like(const char* op, const char* what, const Tensor& t, const Tensor& like) {
  if (t.shape() != like.shape() || t.dtype() != like.dtype())
    throw ShapeError(std::string(op) + ": " + what + " is " + t.shape().str() + " " +
                     dtype_name(t.dtype()) + ", expected " + like.shape().str() + " " +
                     dtype_name(like.dtype()));
}

void for_rows(const Rows& r, const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t per_task = std::max<int64_t>(1, kGrain / r.k);
  parallel_for((r.n + per_task - 1) / per_task,
               [&](int64_t b, int64_t e) { fn(b * per_task, std::min(r.n, e * per_task)); });
}

// Writes softmax(x) into p and returns log-sum-exp(x), both with the row maximum subtracted
// first so exp never overflows.
template <typename T>
double softmax_row(const T* x, T* p, int64_t k) {
  const double mx = *std::max_element(x, x + k);
  double sum = 0;
  for (int64_t j = 0; j < k; ++j) sum += std::exp(x[j] - mx);
  const double lse = mx + std::log(sum);
  for (int64_t j = 0; j < k; ++j) p[j] = static_cast<T>(std::exp(x[j] - lse));
  return lse;
}

template <typename T>
double forward_impl(const Tensor& logits, const int32_t* labels, double eps, Tensor& probs,
                    const Rows& r) {
  const T* x = logits.data<T>();
  T* p = probs.data<T>();
  std::vector<double> row_loss(static_cast<size_t>(r.n));
  for_rows(r, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T* xi = x + i * r.k;
      const double lse = softmax_row(xi, p + i * r.k, r.k);
      double sum_x = 0;
      for (int64_t j = 0; j < r.k; ++j) sum_x += xi[j];
      row_loss[i] = lse - (1 - eps) * xi[labels[i]] - eps / r.k * sum_x;
    }
  });
  double total = 0;
  for (double v : row_loss) total += v;
  return r.n ? total / r.n : 0.0;
}

template <typename T>
void backward_impl(const Tensor& probs, const int32_t* labels, double eps, double scale,
                   Tensor& grad, const Rows& r) {
  const T* p = probs.data<T>();
  T* g = grad.data<T>();
  const double f = r.n ? scale / r.n : 0.0;
  const double off = eps / r.k;
  for_rows(r, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      for (int64_t j = 0; j < r.k; ++j) {
        const double target = off + (j == labels[i] ? 1 - eps : 0.0);
        g[i * r.k + j] = static_cast<T>(f * (p[i * r.k + j] - target));
      }
  });
}

}  // namespace

double softmax_xent_forward(const Tensor& logits, const Tensor& labels, double label_smoothing,
                            Tensor& probs) {
  const char* op = "softmax_xent_forward";
  const Rows r = rows_of(op, logits);
  check_like(op, "probs", probs, logits);
  const int32_t* l = checked_labels(op, labels, r);
  if (logits.dtype() == DType::F32) return forward_impl<float>(logits, l, label_smoothing, probs, r);
  return forward_impl<double>(logits, l, label_smoothing, probs, r);
}

void softmax_xent_backward(const Tensor& probs, const Tensor& labels, double label_smoothing,
                           double scale, Tensor& grad_logits) {
  const char* op = "softmax_xent_backward";
  const Rows r = rows_of(op, probs);
  check_like(op, "grad_logits", grad_logits, probs);
  const int32_t* l = checked_labels(op, labels, r);
  if (probs.dtype() == DType::F32) return backward_impl<float>(probs, l, label_smoothing, scale, grad_logits, r);
  backward_impl<double>(probs, l, label_smoothing, scale, grad_logits, r);
}

void softmax_rows(const Tensor& logits, Tensor& probs) {
  const char* op = "softmax_rows";
  const Rows r = rows_of(op, logits);
  check_like(op, "probs", probs, logits);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* x = logits.data<T>();
    T* p = probs.data<T>();
    for_rows(r, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) softmax_row(x + i * r.k, p + i * r.k, r.k);
    });
  };
  if (logits.dtype() == DType::F32) return run(float{});
  run(double{});
}

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const char* op = "count_correct";
  const Rows r = rows_of(op, logits);
  const int32_t* l = checked_labels(op, labels, r);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* x = logits.data<T>();
    int64_t correct = 0;
    for (int64_t i = 0; i < r.n; ++i) {
      const T* xi = x + i * r.k;
      correct += (std::max_element(xi, xi + r.k) - xi) == l[i];  // first maximum wins
    }
    return correct;
  };
  if (logits.dtype() == DType::F32) return run(float{});
  return run(double{});
}

void softmax_xent_train(const Tensor& logits, const Tensor& labels, double label_smoothing,
                        double scale, Tensor& probs, Tensor& grad_logits, Tensor& loss_sum,
                        Tensor& correct, Tensor& bad_row) {
  (void)bad_row;  // the forward throws on a bad label here
  const char* op = "softmax_xent_train";
  if (loss_sum.dtype() != DType::F64 || loss_sum.numel() != 1 || correct.dtype() != DType::I64 ||
      correct.numel() != 1)
    throw Error(std::string(op) + ": loss_sum must be one f64 and correct one i64, got " +
                dtype_name(loss_sum.dtype()) + " " + loss_sum.shape().str() + " and " +
                dtype_name(correct.dtype()) + " " + correct.shape().str());
  const double mean = softmax_xent_forward(logits, labels, label_smoothing, probs);
  softmax_xent_backward(probs, labels, label_smoothing, scale, grad_logits);
  loss_sum.data<double>()[0] = mean * static_cast<double>(logits.dim(0));
  correct.data<int64_t>()[0] += count_correct(logits, labels);
}

}  // namespace te::ops::cpu
