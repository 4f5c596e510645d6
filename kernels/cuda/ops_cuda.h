#pragma once
// te::ops::cuda: the CUDA implementations of the dispatched operations (f32; many also take
// bf16/f16 activations: storage_args.h, matmul_dtypes.h) are declared once, next to their CPU
// twins, in kernels/<op>.h (under TE_WITH_CUDA, which every CUDA build defines); including
// those headers here gives tests and benchmarks all of them.
// Only the CUDA-only extras are declared in this file.
#ifndef TE_WITH_CUDA
#error "kernels/cuda/ops_cuda.h needs TE_WITH_CUDA (set by engine/CMakeLists.txt)"
#endif
#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"
#include "kernels/activation.h"
#include "kernels/batchnorm.h"
#include "kernels/batchnorm_act.h"
#include "kernels/batchnorm_sync.h"
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
