// Tensor-level softmax cross-entropy and accuracy (kernels/softmax_xent.h).
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/tensor_args.h"

namespace te::ops::cuda {
using namespace te::cuda;
namespace {
struct Rows {
  int64_t n = 0, k = 0;
};

Rows rows_of(const char* op, const Tensor& logits) {
  if (logits.rank() != 2 || logits.dim(1) < 1)
    throw ShapeError(std::string(op) + ": logits " + logits.shape().str() +
                     " should be [N, K] with K >= 1");
  return {logits.dim(0), logits.dim(1)};
}

const int32_t* labels_ptr(const char* op, const Tensor& labels, int64_t n) {
  const int32_t* p = typed_ptr<int32_t>(labels, DType::I32, op, "labels");
  if (labels.numel() != n)
    throw ShapeError(std::string(op) + ": labels are " + labels.shape().str() + ", expected [" +
                     std::to_string(n) + "]");
  return p;
}

// Runs the (optionally fused) kernel, checks the labels, returns the mean loss.
double forward_impl(const char* op, const Tensor& logits, const Tensor& labels, double eps,
                    Tensor& probs, Tensor* grad, double scale) {
  const Rows r = rows_of(op, logits);
  const float* x = f32_ptr(logits, op, "logits");
  const int32_t* l = labels_ptr(op, labels, r.n);
  float* p = f32_ptr(probs, op, "probs");
  require_shape(probs, logits.shape(), op, "probs");
  float* g = nullptr;
  if (grad) {
    g = f32_ptr(*grad, op, "grad_logits");
    require_shape(*grad, logits.shape(), op, "grad_logits");
  }
  if (r.n == 0) return 0.0;
  Tensor losses = device_scratch(Shape{r.n + 1}, DType::F64);
  Tensor bad = device_scratch(Shape{1}, DType::I32);
  double* row_loss = static_cast<double*>(losses.raw());
  int* bad_row = static_cast<int*>(bad.raw());
  cudaStream_t s = compute_stream();
  TE_CUDA_CHECK(cudaMemsetAsync(bad_row, 0xff, sizeof(int), s));  // -1: no bad label
  const float grad_scale = static_cast<float>(scale / static_cast<double>(r.n));
  launch::softmax_xent(x, l, r.n, r.k, static_cast<float>(eps), p, row_loss, g, grad_scale,
                       bad_row, s);
  launch::sum_f64(row_loss, r.n, row_loss + r.n, s);
  double total = 0;
  int bad_host = -1;
  TE_CUDA_CHECK(cudaMemcpyAsync(&bad_host, bad_row, sizeof(int), cudaMemcpyDeviceToHost, s));
  read_back(&total, row_loss + r.n, sizeof(double));
  if (bad_host >= 0) {
    int32_t label = 0;
    read_back(&label, l + bad_host, sizeof(int32_t));
    throw Error(std::string(op) + ": label " + std::to_string(label) + " at index " +
                std::to_string(bad_host) + " is outside [0, " + std::to_string(r.k) + ")");
  }
  return total / static_cast<double>(r.n);
}
}  // namespace

double softmax_xent_forward(const Tensor& logits, const Tensor& labels, double label_smoothing,
                            Tensor& probs) {
  return forward_impl("softmax_xent_forward", logits, labels, label_smoothing, probs, nullptr, 0);
}

double softmax_xent_forward_backward(const Tensor& logits, const Tensor& labels,
                                     double label_smoothing, double scale, Tensor& probs,
                                     Tensor& grad_logits) {
  return forward_impl("softmax_xent_forward_backward", logits, labels, label_smoothing, probs,
                      &grad_logits, scale);
}

namespace {
// The loss and its gradient in one kernel plus a sum of the row losses, never waiting for the
// GPU; with `correct`/`bad_row`, also the arg-max count and the bad-label row
// (softmax_xent_train).
void loss_and_gradient_async(const char* op, const Tensor& logits, const Tensor& labels,
                             double label_smoothing, double scale, Tensor& probs,
                             Tensor& grad_logits, Tensor& loss_sum, Tensor* correct,
                             Tensor* bad_row) {
  const Rows r = rows_of(op, logits);
  const float* x = f32_ptr(logits, op, "logits");
  const int32_t* l = labels_ptr(op, labels, r.n);
  float* p = f32_ptr(probs, op, "probs");
  float* g = f32_ptr(grad_logits, op, "grad_logits");
  require_shape(probs, logits.shape(), op, "probs");
  require_shape(grad_logits, logits.shape(), op, "grad_logits");
  double* sum = typed_ptr<double>(loss_sum, DType::F64, op, "loss_sum");
  require_numel(loss_sum, 1, op, "loss_sum");
  unsigned long long* count = nullptr;
  int* bad = nullptr;
  if (correct) {
    count = reinterpret_cast<unsigned long long*>(typed_ptr<int64_t>(*correct, DType::I64, op, "correct"));
    require_numel(*correct, 1, op, "correct");
  }
  if (bad_row) {
    bad = typed_ptr<int32_t>(*bad_row, DType::I32, op, "bad_row");
    require_numel(*bad_row, 1, op, "bad_row");
  }
  if (r.n == 0) return;
  Tensor losses = device_scratch(Shape{r.n}, DType::F64);
  const float grad_scale = static_cast<float>(scale / static_cast<double>(r.n));
  launch::softmax_xent(x, l, r.n, r.k, static_cast<float>(label_smoothing), p,
                       static_cast<double*>(losses.raw()), g, grad_scale, bad, compute_stream());
  launch::sum_f64(static_cast<double*>(losses.raw()), r.n, sum, compute_stream());
  if (count) launch::count_correct(x, l, r.n, r.k, count, compute_stream());
}
}  // namespace

void softmax_xent_fused_async(const Tensor& logits, const Tensor& labels, double label_smoothing,
                              double scale, Tensor& probs, Tensor& grad_logits, Tensor& loss_sum) {
  loss_and_gradient_async("softmax_xent_fused_async", logits, labels, label_smoothing, scale,
                          probs, grad_logits, loss_sum, nullptr, nullptr);
}

void softmax_xent_train(const Tensor& logits, const Tensor& labels, double label_smoothing,
                        double scale, Tensor& probs, Tensor& grad_logits, Tensor& loss_sum,
                        Tensor& correct, Tensor& bad_row) {
  loss_and_gradient_async("softmax_xent_train", logits, labels, label_smoothing, scale, probs,
                          grad_logits, loss_sum, &correct, &bad_row);
}

void softmax_xent_backward(const Tensor& probs, const Tensor& labels, double label_smoothing,
                           double scale, Tensor& grad_logits) {
  const char* op = "softmax_xent_backward";
  const Rows r = rows_of(op, probs);
  const float* p = f32_ptr(probs, op, "probs");
  const int32_t* l = labels_ptr(op, labels, r.n);
  float* g = f32_ptr(grad_logits, op, "grad_logits");
  require_shape(grad_logits, probs.shape(), op, "grad_logits");
  if (r.n == 0) return;
  launch::softmax_xent_backward(p, l, r.n, r.k, static_cast<float>(label_smoothing),
                                static_cast<float>(scale / static_cast<double>(r.n)), g,
                                compute_stream());
}

void softmax_rows(const Tensor& logits, Tensor& probs) {
  const char* op = "softmax_rows";
  const Rows r = rows_of(op, logits);
  const float* x = f32_ptr(logits, op, "logits");
  float* p = f32_ptr(probs, op, "probs");
  require_shape(probs, logits.shape(), op, "probs");
  launch::softmax_xent(x, nullptr, r.n, r.k, 0.0f, p, nullptr, nullptr, 0.0f, nullptr,
                       compute_stream());
}

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const char* op = "count_correct";
  const Rows r = rows_of(op, logits);
  const float* x = f32_ptr(logits, op, "logits");
  const int32_t* l = labels_ptr(op, labels, r.n);
  if (r.n == 0) return 0;
  Tensor count = device_scratch(Shape{1}, DType::I64);
  auto* c = static_cast<unsigned long long*>(count.raw());
  TE_CUDA_CHECK(cudaMemsetAsync(c, 0, sizeof(unsigned long long), compute_stream()));
  launch::count_correct(x, l, r.n, r.k, c, compute_stream());
  unsigned long long host = 0;
  read_back(&host, c, sizeof(host));
  return static_cast<int64_t>(host);
}

}  // namespace te::ops::cuda
