#pragma once
// The classification loss: softmax over each row of the logits, then cross-entropy with the
// labels, averaged over the batch — PyTorch's CrossEntropyLoss(label_smoothing=eps) exactly
// (target = (1 - eps) * onehot + eps / K). Not a graph layer: the training loop calls forward
// with the graph's output and backward to start the backward pass.
#include <cstdint>

#include "engine/core/tensor.h"

namespace te {

class SoftmaxCrossEntropy {
 public:
  // label_smoothing in [0, 1]; te::Error otherwise.
  explicit SoftmaxCrossEntropy(double label_smoothing = 0.0);

  // logits [N, K] f32|f64, labels [N] i32 in [0, K) (te::Error naming a bad label and its
  // index). Returns the mean loss; keeps the probabilities and a copy of the labels.
  double forward(const Tensor& logits, const Tensor& labels);
  // grad_logits [N, K] (logits' dtype and device) = scale * (softmax - target) / N, overwritten.
  // `scale` carries e.g. 1/micro-batches for gradient accumulation, or a loss scale.
  void backward(Tensor& grad_logits, double scale = 1.0);
  // forward and backward in one call that never waits for the device (for training loops):
  // see ops::softmax_xent_train for loss_sum, correct and bad_row. backward() may not follow.
  void forward_backward(const Tensor& logits, const Tensor& labels, double scale,
                        Tensor& grad_logits, Tensor& loss_sum, Tensor& correct, Tensor& bad_row);

  double label_smoothing() const { return label_smoothing_; }
  // Softmax of the last forward's logits.
  const Tensor& probabilities() const { return probs_; }

 private:
  double label_smoothing_;
  Tensor probs_;
  Tensor labels_;
  bool backward_ready_ = false;
};

// Rows whose largest logit (the first, on ties) is at the label (top-1 accuracy count).
int64_t count_correct(const Tensor& logits, const Tensor& labels);
// probs = softmax of each row of logits [N, K]; probs is (re)shaped to match.
void softmax_rows(const Tensor& logits, Tensor& probs);

}  // namespace te
