#pragma once
// The CUDA batch-norm passes shared by the plain ops (kernels/batchnorm.h: no residual, no
// activation) and the fused ones (kernels/batchnorm_act.h), defined in batchnorm_act_ops.cpp.
// `op` names the public operation in error messages. y is read only for ReLU; with
// BatchNormActivation::None it may be an undefined tensor.
#include "engine/core/tensor.h"
#include "kernels/batchnorm_act.h"
#include "kernels/layout.h"

namespace te::ops::cuda::batchnorm_passes {

void forward_train(const char* op, const Tensor& x, const Tensor* residual, const Tensor* weight,
                   const Tensor* bias, Tensor& running_mean, Tensor& running_var,
                   Tensor* num_batches_tracked, Tensor& save_mean, Tensor& save_invstd,
                   double eps, double momentum, BatchNormActivation act, Tensor& y,
                   Layout layout);
void forward_eval(const char* op, const Tensor& x, const Tensor* residual, const Tensor* weight,
                  const Tensor* bias, const Tensor& running_mean, const Tensor& running_var,
                  double eps, BatchNormActivation act, Tensor& y, Layout layout);
void backward_train(const char* op, const Tensor& x, const Tensor& y, const Tensor& dy,
                    const Tensor* weight, const Tensor& save_mean, const Tensor& save_invstd,
                    BatchNormActivation act, Tensor* dx, bool accumulate_dx, Tensor* dresidual,
                    bool accumulate_dresidual, Tensor* dweight, Tensor* dbias, Layout layout);
void backward_eval(const char* op, const Tensor& x, const Tensor& y, const Tensor& dy,
                   const Tensor* weight, const Tensor& running_mean, const Tensor& running_var,
                   double eps, BatchNormActivation act, Tensor* dx, bool accumulate_dx,
                   Tensor* dresidual, bool accumulate_dresidual, Tensor* dweight, Tensor* dbias,
                   Layout layout);

}  // namespace te::ops::cuda::batchnorm_passes
