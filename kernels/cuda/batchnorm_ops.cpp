// Tensor-level batch normalisation (kernels/batchnorm.h) with our own kernels (channels.cu).
// Why not cuDNN: in cuDNN 9 the classic cudnnBatchNormalization* functions are deprecated, and
// their graph-API replacement (NORM_FORWARD/NORM_BACKWARD) is restricted to layouts and types
// (NHWC, reduced precision) that this f32 NCHW engine does not use. Batch norm is memory-bound,
// so two passes of our own (per-channel sums, then an affine map) cost about what cuDNN's do.
#include <string>

#include "kernels/cuda/launchers.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/tensor_args.h"

namespace te::ops::cuda {
using namespace te::cuda;
namespace {
struct Dims {
  int64_t n = 0, c = 0, hw = 1;
  int64_t count() const { return n * hw; }
};

Dims dims_of(const char* op, const Tensor& x) {
  if (x.rank() < 2)
    throw ShapeError(std::string(op) + ": input " + x.shape().str() +
                     " should be [N, C, ...] with at least 2 dimensions");
  Dims d;
  d.n = x.dim(0);
  d.c = x.dim(1);
  for (size_t i = 2; i < x.rank(); ++i) d.hw *= x.shape()[i];
  return d;
}

const float* optional_channel(const Tensor* t, const Dims& d, const char* op, const char* what) {
  if (!t) return nullptr;
  require_numel(*t, d.c, op, what);
  return f32_ptr(*t, op, what);
}

float* optional_channel_out(Tensor* t, const Dims& d, const char* op, const char* what) {
  if (!t) return nullptr;
  require_numel(*t, d.c, op, what);
  return f32_ptr(*t, op, what);
}

const float* channel(const Tensor& t, const Dims& d, const char* op, const char* what) {
  require_numel(t, d.c, op, what);
  return f32_ptr(t, op, what);
}

// Per-channel partial sums of mode `mode` into a scratch tensor; returns the split count.
int partial_sums(int mode, const float* a, const float* b, const float* mean, const float* invstd,
                 const Dims& d, Tensor& scratch) {
  const int splits = launch::channel_splits(d.n, d.c, d.hw, context().sm_count);
  scratch = device_scratch(Shape{d.c * splits * 2}, DType::F64);
  launch::channel_sums(mode, a, b, mean, invstd, d.n, d.c, d.hw, splits,
                       static_cast<double*>(scratch.raw()), compute_stream());
  return splits;
}
}  // namespace

void batchnorm_forward_train(const Tensor& x, const Tensor* weight, const Tensor* bias,
                             Tensor& running_mean, Tensor& running_var,
                             Tensor* num_batches_tracked, Tensor& save_mean, Tensor& save_invstd,
                             double eps, double momentum, Tensor& y) {
  const char* op = "batchnorm_forward_train";
  const Dims d = dims_of(op, x);
  if (d.count() <= 1)
    throw ShapeError(std::string(op) + ": input " + x.shape().str() +
                     " has 1 value per channel; batch statistics need more than one (use a "
                     "batch larger than 1 or evaluation mode)");
  const float* xp = f32_ptr(x, op, "x");
  float* yp = f32_ptr(y, op, "y");
  require_numel(y, x.numel(), op, "y");
  const float* w = optional_channel(weight, d, op, "weight");
  const float* b = optional_channel(bias, d, op, "bias");
  float* rm = optional_channel_out(&running_mean, d, op, "running_mean");
  float* rv = optional_channel_out(&running_var, d, op, "running_var");
  float* sm = optional_channel_out(&save_mean, d, op, "save_mean");
  float* si = optional_channel_out(&save_invstd, d, op, "save_invstd");
  int64_t* nbt = num_batches_tracked
                     ? typed_ptr<int64_t>(*num_batches_tracked, DType::I64, op,
                                          "num_batches_tracked")
                     : nullptr;
  Tensor partials;
  const int splits = partial_sums(0, xp, nullptr, nullptr, nullptr, d, partials);
  Tensor coef = device_scratch(Shape{2 * d.c}, DType::F32);
  launch::bn_finalize_train(static_cast<double*>(partials.raw()), splits, d.c, d.count(),
                            static_cast<float>(eps), static_cast<float>(momentum), w, b, rm, rv,
                            nbt, sm, si, static_cast<float*>(coef.raw()), compute_stream());
  launch::channel_affine(xp, yp, static_cast<float*>(coef.raw()), d.n, d.c, d.hw,
                         compute_stream());
}

void batchnorm_forward_eval(const Tensor& x, const Tensor* weight, const Tensor* bias,
                            const Tensor& running_mean, const Tensor& running_var, double eps,
                            Tensor& y) {
  const char* op = "batchnorm_forward_eval";
  const Dims d = dims_of(op, x);
  const float* xp = f32_ptr(x, op, "x");
  float* yp = f32_ptr(y, op, "y");
  require_numel(y, x.numel(), op, "y");
  Tensor coef = device_scratch(Shape{4 * d.c}, DType::F32);
  float* cp = static_cast<float*>(coef.raw());
  launch::bn_eval_coef(channel(running_mean, d, op, "running_mean"),
                       channel(running_var, d, op, "running_var"), static_cast<float>(eps),
                       optional_channel(weight, d, op, "weight"),
                       optional_channel(bias, d, op, "bias"), d.c, cp, cp + 2 * d.c,
                       cp + 3 * d.c, compute_stream());
  launch::channel_affine(xp, yp, cp, d.n, d.c, d.hw, compute_stream());
}

namespace {
void backward_common(const char* op, bool train, const Tensor& x, const Tensor& dy,
                     const Tensor* weight, const float* mean, const float* invstd, const Dims& d,
                     Tensor* dx, bool accumulate, Tensor* dweight, Tensor* dbias) {
  const float* xp = f32_ptr(x, op, "x");
  const float* dyp = f32_ptr(dy, op, "dy");
  require_numel(dy, x.numel(), op, "dy");
  const float* w = optional_channel(weight, d, op, "weight");
  float* dw = optional_channel_out(dweight, d, op, "dweight");
  float* db = optional_channel_out(dbias, d, op, "dbias");
  float* dxp = nullptr;
  if (dx) {
    dxp = f32_ptr(*dx, op, "dx");
    require_numel(*dx, x.numel(), op, "dx");
  }
  Tensor partials;
  const int splits = partial_sums(1, dyp, xp, mean, invstd, d, partials);
  Tensor coef = device_scratch(Shape{3 * d.c}, DType::F32);
  launch::bn_backward_finalize(static_cast<double*>(partials.raw()), splits, d.c, d.count(),
                               train, w, mean, invstd, dw, db, static_cast<float*>(coef.raw()),
                               compute_stream());
  if (dxp)
    launch::bn_backward_apply(dyp, xp, dxp, static_cast<float*>(coef.raw()), d.n, d.c, d.hw,
                              accumulate, compute_stream());
}
}  // namespace

void batchnorm_backward_train(const Tensor& x, const Tensor& dy, const Tensor* weight,
                              const Tensor& save_mean, const Tensor& save_invstd, Tensor* dx,
                              bool accumulate, Tensor* dweight, Tensor* dbias) {
  const char* op = "batchnorm_backward_train";
  const Dims d = dims_of(op, x);
  backward_common(op, true, x, dy, weight, channel(save_mean, d, op, "save_mean"),
                  channel(save_invstd, d, op, "save_invstd"), d, dx, accumulate, dweight, dbias);
}

void batchnorm_backward_eval(const Tensor& x, const Tensor& dy, const Tensor* weight,
                             const Tensor& running_mean, const Tensor& running_var, double eps,
                             Tensor* dx, bool accumulate, Tensor* dweight, Tensor* dbias) {
  const char* op = "batchnorm_backward_eval";
  const Dims d = dims_of(op, x);
  // mean / invstd of the running statistics, from the same kernel the eval forward uses.
  Tensor coef = device_scratch(Shape{4 * d.c}, DType::F32);
  float* cp = static_cast<float*>(coef.raw());
  launch::bn_eval_coef(channel(running_mean, d, op, "running_mean"),
                       channel(running_var, d, op, "running_var"), static_cast<float>(eps),
                       nullptr, nullptr, d.c, cp, cp + 2 * d.c, cp + 3 * d.c, compute_stream());
  backward_common(op, false, x, dy, weight, cp + 2 * d.c, cp + 3 * d.c, d, dx, accumulate,
                  dweight, dbias);
}

}  // namespace te::ops::cuda
