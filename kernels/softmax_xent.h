#pragma once
// Softmax cross-entropy over the rows of logits [N, K] (f32 or f64) with labels [N] (i32),
// PyTorch's CrossEntropyLoss(label_smoothing=eps, reduction="mean"): the target of row n is
// (1 - eps) * onehot(label_n) + eps / K, and the loss is the mean over rows of
// -sum_k target_k * log softmax(x)_k = lse(x) - (1 - eps) * x_label - eps / K * sum_k x_k.
// The log-sum-exp is taken in double after subtracting the row maximum (no overflow).
// A label outside [0, K) is a te::Error naming the label and its row.
#include <cstdint>

#include "engine/core/tensor.h"
#include "kernels/dispatch.h"

namespace te::ops {

namespace cpu {
// Returns the mean loss; writes probs [N, K] (softmax, logits' dtype) for the backward pass.
double softmax_xent_forward(const Tensor& logits, const Tensor& labels, double label_smoothing,
                            Tensor& probs);
// grad_logits = scale * (probs - target) / N  (overwrites).
void softmax_xent_backward(const Tensor& probs, const Tensor& labels, double label_smoothing,
                           double scale, Tensor& grad_logits);
// probs = softmax of each row of logits.
void softmax_rows(const Tensor& logits, Tensor& probs);
// Rows whose first maximal logit is at the label.
int64_t count_correct(const Tensor& logits, const Tensor& labels);
// The training loop's form, which never waits for the device: grad_logits = scale *
// (probs - target) / N (overwrites; probs written too), loss_sum (F64, 1 element) = the sum of
// the row losses, correct (I64, 1 element) += the rows whose first maximum is at the label.
// A label outside [0, K) throws on the CPU; on a GPU one such row is stored in bad_row
// (I32, 1 element) if it still holds -1, for the caller to check when it reads the results.
void softmax_xent_train(const Tensor& logits, const Tensor& labels, double label_smoothing,
                        double scale, Tensor& probs, Tensor& grad_logits, Tensor& loss_sum,
                        Tensor& correct, Tensor& bad_row);
}  // namespace cpu

#ifdef TE_WITH_CUDA
namespace cuda {
double softmax_xent_forward(const Tensor& logits, const Tensor& labels, double label_smoothing,
                            Tensor& probs);
void softmax_xent_backward(const Tensor& probs, const Tensor& labels, double label_smoothing,
                           double scale, Tensor& grad_logits);
void softmax_rows(const Tensor& logits, Tensor& probs);
int64_t count_correct(const Tensor& logits, const Tensor& labels);
void softmax_xent_train(const Tensor& logits, const Tensor& labels, double label_smoothing,
                        double scale, Tensor& probs, Tensor& grad_logits, Tensor& loss_sum,
                        Tensor& correct, Tensor& bad_row);
}  // namespace cuda
#endif

inline double softmax_xent_forward(const Tensor& logits, const Tensor& labels,
                                   double label_smoothing, Tensor& probs) {
  TE_DISPATCH(logits.device(), softmax_xent_forward, logits, labels, label_smoothing, probs);
}
inline void softmax_xent_backward(const Tensor& probs, const Tensor& labels,
                                  double label_smoothing, double scale, Tensor& grad_logits) {
  TE_DISPATCH(probs.device(), softmax_xent_backward, probs, labels, label_smoothing, scale,
              grad_logits);
}
inline void softmax_rows(const Tensor& logits, Tensor& probs) {
  TE_DISPATCH(logits.device(), softmax_rows, logits, probs);
}
inline int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  TE_DISPATCH(logits.device(), count_correct, logits, labels);
}
inline void softmax_xent_train(const Tensor& logits, const Tensor& labels,
                               double label_smoothing, double scale, Tensor& probs,
                               Tensor& grad_logits, Tensor& loss_sum, Tensor& correct,
                               Tensor& bad_row) {
  TE_DISPATCH(logits.device(), softmax_xent_train, logits, labels, label_smoothing, scale, probs,
              grad_logits, loss_sum, correct, bad_row);
}

}  // namespace te::ops
