#pragma once
// The CUDA implementations of the dispatched operations (te::ops::cuda), float32 only. Each
// has exactly the signature of its CPU twin in kernels/<op>.h (signature_check.cpp proves it at
// compile time). kernels/dispatch.h routes CUDA tensors here once TE_WITH_CUDA_KERNELS is on;
// until then callers (tests, benchmarks) may call these directly.
#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"
#include "kernels/activation.h"
#include "kernels/batchnorm.h"
#include "kernels/concat.h"
#include "kernels/conv2d.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"
#include "kernels/normalize.h"
#include "kernels/optim.h"
#include "kernels/pool.h"
#include "kernels/softmax_xent.h"

namespace te::ops::cuda {

// kernels/elementwise.h
void add_n(const std::vector<const Tensor*>& xs, Tensor& y);
void copy_or_add(const Tensor& src, Tensor& dst, bool accumulate);
// kernels/activation.h
void activation_forward(ActivationKind kind, const Tensor& x, Tensor& y);
void activation_backward(ActivationKind kind, const Tensor& x, const Tensor& y, const Tensor& dy,
                         Tensor& dx, bool accumulate);
// kernels/dropout.h
void dropout_forward(const Tensor& x, Tensor& y, double p, uint64_t key, uint64_t stream);
void dropout_backward(const Tensor& dy, Tensor& dx, double p, uint64_t key, uint64_t stream,
                      bool accumulate);
// kernels/concat.h
void concat_forward(const std::vector<const Tensor*>& xs, int axis, Tensor& y);
void concat_backward(const Tensor& dy, int axis, const std::vector<int64_t>& sizes,
                     const std::vector<Tensor*>& dxs, const std::vector<bool>& accumulate);
// kernels/softmax_xent.h
double softmax_xent_forward(const Tensor& logits, const Tensor& labels, double label_smoothing,
                            Tensor& probs);
void softmax_xent_backward(const Tensor& probs, const Tensor& labels, double label_smoothing,
                           double scale, Tensor& grad_logits);
void softmax_rows(const Tensor& logits, Tensor& probs);
int64_t count_correct(const Tensor& logits, const Tensor& labels);
// kernels/optim.h
void sgd_step(Tensor& params, const Tensor& grads, Tensor& momentum_buf, const Tensor& decay_mask,
              const SgdHyper& h);
void adamw_step(Tensor& params, const Tensor& grads, Tensor& exp_avg, Tensor& exp_avg_sq,
                const Tensor& decay_mask, const AdamwHyper& h);
double sum_of_squares(const Tensor& x);
void scale_inplace(Tensor& x, double factor);
bool all_finite(const Tensor& x);
// kernels/batchnorm.h
void batchnorm_forward_train(const Tensor& x, const Tensor* weight, const Tensor* bias,
                             Tensor& running_mean, Tensor& running_var,
                             Tensor* num_batches_tracked, Tensor& save_mean, Tensor& save_invstd,
                             double eps, double momentum, Tensor& y);
void batchnorm_forward_eval(const Tensor& x, const Tensor* weight, const Tensor* bias,
                            const Tensor& running_mean, const Tensor& running_var, double eps,
                            Tensor& y);
void batchnorm_backward_train(const Tensor& x, const Tensor& dy, const Tensor* weight,
                              const Tensor& save_mean, const Tensor& save_invstd, Tensor* dx,
                              bool accumulate, Tensor* dweight, Tensor* dbias);
void batchnorm_backward_eval(const Tensor& x, const Tensor& dy, const Tensor* weight,
                             const Tensor& running_mean, const Tensor& running_var, double eps,
                             Tensor* dx, bool accumulate, Tensor* dweight, Tensor* dbias);
// kernels/conv2d.h (cuDNN graph API)
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                    const Conv2dParams& p, Conv2dWorkspace& ws);
void conv2d_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate,
                           const Conv2dParams& p, Conv2dWorkspace& ws);
void conv2d_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                            const Conv2dParams& p, Conv2dWorkspace& ws);
// kernels/pool.h
void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& argmax, const Pool2dParams& p);
void max_pool2d_backward(const Tensor& dy, const Tensor& argmax, Tensor& dx, bool accumulate);
void avg_pool2d_forward(const Tensor& x, Tensor& y, const Pool2dParams& p);
void avg_pool2d_backward(const Tensor& dy, Tensor& dx, bool accumulate, const Pool2dParams& p);
void global_avg_pool_forward(const Tensor& x, Tensor& y);
void global_avg_pool_backward(const Tensor& dy, Tensor& dx, bool accumulate);
// kernels/linear.h (cuBLAS)
void linear_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y);
void linear_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate);
void linear_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db);
// kernels/normalize.h
void normalize_images(const Tensor& u8_nhwc, Tensor& out_nchw, const std::vector<float>& mean,
                      const std::vector<float>& std);

// Not dispatched (CUDA-only extras): loss and gradient in one kernel; returns the mean loss.
// grad_logits = scale * (probs - target) / N.
double softmax_xent_forward_backward(const Tensor& logits, const Tensor& labels,
                                     double label_smoothing, double scale, Tensor& probs,
                                     Tensor& grad_logits);

// The same without waiting for the GPU (for training loops): loss_sum, an F64 tensor of one
// element on the device, receives the sum of the row losses (divide by N for the mean).
// Labels are not validated (an out-of-range label contributes 0 to the loss).
void softmax_xent_fused_async(const Tensor& logits, const Tensor& labels, double label_smoothing,
                              double scale, Tensor& probs, Tensor& grad_logits, Tensor& loss_sum);

}  // namespace te::ops::cuda
