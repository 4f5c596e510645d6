#include "engine/layers/softmax_cross_entropy.h"

#include <string>

#include "engine/layers/layer.h"
#include "kernels/softmax_xent.h"

namespace te {

SoftmaxCrossEntropy::SoftmaxCrossEntropy(double label_smoothing)
    : label_smoothing_(label_smoothing) {
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
    throw Error("softmax cross-entropy: label_smoothing must be in [0, 1], got " +
                std::to_string(label_smoothing));
}

double SoftmaxCrossEntropy::forward(const Tensor& logits, const Tensor& labels) {
  ensure_shape(probs_, logits.shape(), logits.dtype(), logits.device());
  const double loss = ops::softmax_xent_forward(logits, labels, label_smoothing_, probs_);
  // Our own copy: the caller may refill its label buffer before backward runs.
  ensure_shape(labels_, labels.shape(), labels.dtype(), labels.device());
  labels_.copy_from(labels);
  backward_ready_ = true;
  return loss;
}

void SoftmaxCrossEntropy::backward(Tensor& grad_logits, double scale) {
  if (!backward_ready_) throw Error("softmax cross-entropy: backward called without a forward before it");
  if (grad_logits.shape() != probs_.shape() || grad_logits.dtype() != probs_.dtype())
    throw ShapeError("softmax cross-entropy: grad_logits is " + grad_logits.shape().str() + " " +
                     dtype_name(grad_logits.dtype()) + ", the logits were " +
                     probs_.shape().str() + " " + dtype_name(probs_.dtype()));
  ops::softmax_xent_backward(probs_, labels_, label_smoothing_, scale, grad_logits);
}

void SoftmaxCrossEntropy::forward_backward(const Tensor& logits, const Tensor& labels,
                                          double scale, Tensor& grad_logits, Tensor& loss_sum,
                                          Tensor& correct, Tensor& bad_row) {
  ensure_shape(probs_, logits.shape(), logits.dtype(), logits.device());
  ops::softmax_xent_train(logits, labels, label_smoothing_, scale, probs_, grad_logits, loss_sum,
                          correct, bad_row);
  backward_ready_ = false;  // backward() pairs with forward() only
}

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  return ops::count_correct(logits, labels);
}

void softmax_rows(const Tensor& logits, Tensor& probs) {
  ensure_shape(probs, logits.shape(), logits.dtype(), logits.device());
  ops::softmax_rows(logits, probs);
}

}  // namespace te
