// Tensor-level batch normalisation (kernels/batchnorm.h) with our own kernels: the fused
// batch norm's passes (batchnorm_passes.h) without a residual input or an activation, so plain
// and fused batch norm run one code path in both layouts and all storage types.
// Why not cuDNN: in cuDNN 9 the classic cudnnBatchNormalization* functions are deprecated, and
// their graph-API replacement (NORM_FORWARD/NORM_BACKWARD) covers only some layouts and types.
// Batch norm is memory-bound, so two passes of our own (per-channel sums, then an affine map)
// cost about what cuDNN's do.
// Dtypes (storage_args.h): x, y, dy, dx are f32, bf16 or f16, all the same; weight, bias, the
// running and saved statistics, dweight and dbias are f32 (sums in double either way).
#include "kernels/batchnorm.h"
#include "kernels/cuda/batchnorm_passes.h"

namespace te::ops::cuda {
namespace {
constexpr BatchNormActivation kNone = BatchNormActivation::None;
}  // namespace

void batchnorm_forward_train(const Tensor& x, const Tensor* weight, const Tensor* bias,
                             Tensor& running_mean, Tensor& running_var,
                             Tensor* num_batches_tracked, Tensor& save_mean, Tensor& save_invstd,
                             double eps, double momentum, Tensor& y, Layout layout) {
  batchnorm_passes::forward_train("batchnorm_forward_train", x, nullptr, weight, bias,
                                  running_mean, running_var, num_batches_tracked, save_mean,
                                  save_invstd, eps, momentum, kNone, y, layout);
}

void batchnorm_forward_eval(const Tensor& x, const Tensor* weight, const Tensor* bias,
                            const Tensor& running_mean, const Tensor& running_var, double eps,
                            Tensor& y, Layout layout) {
  batchnorm_passes::forward_eval("batchnorm_forward_eval", x, nullptr, weight, bias,
                                 running_mean, running_var, eps, kNone, y, layout);
}

void batchnorm_backward_train(const Tensor& x, const Tensor& dy, const Tensor* weight,
                              const Tensor& save_mean, const Tensor& save_invstd, Tensor* dx,
                              bool accumulate, Tensor* dweight, Tensor* dbias, Layout layout) {
  batchnorm_passes::backward_train("batchnorm_backward_train", x, Tensor(), dy, weight, save_mean,
                                   save_invstd, kNone, dx, accumulate, nullptr, false, dweight,
                                   dbias, layout);
}

void batchnorm_backward_eval(const Tensor& x, const Tensor& dy, const Tensor* weight,
                             const Tensor& running_mean, const Tensor& running_var, double eps,
                             Tensor* dx, bool accumulate, Tensor* dweight, Tensor* dbias,
                             Layout layout) {
  batchnorm_passes::backward_eval("batchnorm_backward_eval", x, Tensor(), dy, weight,
                                  running_mean, running_var, eps, kNone, dx, accumulate, nullptr,
                                  false, dweight, dbias, layout);
}

}  // namespace te::ops::cuda
