// Tensor-level fused batch norm + residual add + activation (kernels/batchnorm_act.h) on our
// own kernels: channels.cu computes the statistics and coefficients exactly as for plain batch
// norm (batchnorm_ops.cpp), batchnorm_act.cu the fused passes. Per call:
//   forward train: channel sums of x -> finalize (stats, running update, scale/shift) -> apply
//   forward eval:  coefficients from the running statistics -> apply
//   backward:      sums of dz and dz * xhat (dz from dy and y on the fly) -> finalize
//                  (dweight, dbias, dx coefficients) -> one pass writing dx and dr.
#include <string>

#include "kernels/batchnorm_act.h"
#include "kernels/cuda/launchers.h"
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

float* channel_out(Tensor* t, const Dims& d, const char* op, const char* what) {
  if (!t) return nullptr;
  require_numel(*t, d.c, op, what);
  return f32_ptr(*t, op, what);
}

// A full-size (x.numel()) f32 tensor, or null.
float* full_size(const Tensor* t, const Tensor& x, const char* op, const char* what) {
  if (!t) return nullptr;
  require_numel(*t, x.numel(), op, what);
  return f32_ptr(*t, op, what);
}

bool is_relu(BatchNormActivation act) { return act == BatchNormActivation::ReLU; }

// Backward for both modes given the statistics' mean and invstd on the device.
void backward_common(const char* op, bool train, const Tensor& x, const Tensor& y,
                     const Tensor& dy, const Tensor* weight, const float* mean,
                     const float* invstd, const Dims& d, BatchNormActivation act, Tensor* dx,
                     bool accumulate_dx, Tensor* dresidual, bool accumulate_dresidual,
                     Tensor* dweight, Tensor* dbias) {
  const float* xp = f32_ptr(x, op, "x");
  const float* dyp = full_size(&dy, x, op, "dy");
  const float* yp = is_relu(act) ? full_size(&y, x, op, "y") : nullptr;
  const float* w = optional_channel(weight, d, op, "weight");
  float* dw = channel_out(dweight, d, op, "dweight");
  float* db = channel_out(dbias, d, op, "dbias");
  float* dxp = full_size(dx, x, op, "dx");
  float* drp = full_size(dresidual, x, op, "dresidual");
  const int splits = launch::channel_splits(d.n, d.c, d.hw, context().sm_count);
  Tensor partials = device_scratch(Shape{d.c * splits * 2}, DType::F64);
  launch::bn_act_backward_sums(dyp, yp, xp, mean, invstd, d.n, d.c, d.hw, splits,
                               static_cast<double*>(partials.raw()), compute_stream());
  Tensor coef = device_scratch(Shape{3 * d.c}, DType::F32);
  launch::bn_backward_finalize(static_cast<double*>(partials.raw()), splits, d.c, d.count(),
                               train, w, mean, invstd, dw, db, static_cast<float*>(coef.raw()),
                               compute_stream());
  launch::bn_act_backward_apply(dyp, yp, xp, dxp, accumulate_dx, drp, accumulate_dresidual,
                                static_cast<float*>(coef.raw()), d.n, d.c, d.hw,
                                compute_stream());
}
}  // namespace

void batchnorm_act_forward_train(const Tensor& x, const Tensor* residual, const Tensor* weight,
                                 const Tensor* bias, Tensor& running_mean, Tensor& running_var,
                                 Tensor* num_batches_tracked, Tensor& save_mean,
                                 Tensor& save_invstd, double eps, double momentum,
                                 BatchNormActivation act, Tensor& y) {
  const char* op = "batchnorm_act_forward_train";
  const Dims d = dims_of(op, x);
  if (d.count() <= 1)
    throw ShapeError(std::string(op) + ": input " + x.shape().str() +
                     " has 1 value per channel; batch statistics need more than one (use a "
                     "batch larger than 1 or evaluation mode)");
  const float* xp = f32_ptr(x, op, "x");
  const float* rp = full_size(residual, x, op, "residual");
  float* yp = full_size(&y, x, op, "y");
  const float* w = optional_channel(weight, d, op, "weight");
  const float* b = optional_channel(bias, d, op, "bias");
  float* rm = channel_out(&running_mean, d, op, "running_mean");
  float* rv = channel_out(&running_var, d, op, "running_var");
  float* sm = channel_out(&save_mean, d, op, "save_mean");
  float* si = channel_out(&save_invstd, d, op, "save_invstd");
  int64_t* nbt = num_batches_tracked
                     ? typed_ptr<int64_t>(*num_batches_tracked, DType::I64, op,
                                          "num_batches_tracked")
                     : nullptr;
  const int splits = launch::channel_splits(d.n, d.c, d.hw, context().sm_count);
  Tensor partials = device_scratch(Shape{d.c * splits * 2}, DType::F64);
  launch::channel_sums(0, xp, nullptr, nullptr, nullptr, d.n, d.c, d.hw, splits,
                       static_cast<double*>(partials.raw()), compute_stream());
  Tensor coef = device_scratch(Shape{2 * d.c}, DType::F32);
  launch::bn_finalize_train(static_cast<double*>(partials.raw()), splits, d.c, d.count(),
                            static_cast<float>(eps), static_cast<float>(momentum), w, b, rm, rv,
                            nbt, sm, si, static_cast<float*>(coef.raw()), compute_stream());
  launch::bn_act_apply(xp, rp, yp, static_cast<float*>(coef.raw()), d.n, d.c, d.hw, is_relu(act),
                       compute_stream());
}

void batchnorm_act_forward_eval(const Tensor& x, const Tensor* residual, const Tensor* weight,
                                const Tensor* bias, const Tensor& running_mean,
                                const Tensor& running_var, double eps, BatchNormActivation act,
                                Tensor& y) {
  const char* op = "batchnorm_act_forward_eval";
  const Dims d = dims_of(op, x);
  const float* xp = f32_ptr(x, op, "x");
  const float* rp = full_size(residual, x, op, "residual");
  float* yp = full_size(&y, x, op, "y");
  // coef: scale [C], shift [C], then the running mean and invstd (unused here).
  Tensor coef = device_scratch(Shape{4 * d.c}, DType::F32);
  float* cp = static_cast<float*>(coef.raw());
  launch::bn_eval_coef(optional_channel(&running_mean, d, op, "running_mean"),
                       optional_channel(&running_var, d, op, "running_var"),
                       static_cast<float>(eps), optional_channel(weight, d, op, "weight"),
                       optional_channel(bias, d, op, "bias"), d.c, cp, cp + 2 * d.c,
                       cp + 3 * d.c, compute_stream());
  launch::bn_act_apply(xp, rp, yp, cp, d.n, d.c, d.hw, is_relu(act), compute_stream());
}

void batchnorm_act_backward_train(const Tensor& x, const Tensor& y, const Tensor& dy,
                                  const Tensor* weight, const Tensor& save_mean,
                                  const Tensor& save_invstd, BatchNormActivation act, Tensor* dx,
                                  bool accumulate_dx, Tensor* dresidual,
                                  bool accumulate_dresidual, Tensor* dweight, Tensor* dbias) {
  const char* op = "batchnorm_act_backward_train";
  const Dims d = dims_of(op, x);
  backward_common(op, true, x, y, dy, weight, optional_channel(&save_mean, d, op, "save_mean"),
                  optional_channel(&save_invstd, d, op, "save_invstd"), d, act, dx,
                  accumulate_dx, dresidual, accumulate_dresidual, dweight, dbias);
}

void batchnorm_act_backward_eval(const Tensor& x, const Tensor& y, const Tensor& dy,
                                 const Tensor* weight, const Tensor& running_mean,
                                 const Tensor& running_var, double eps, BatchNormActivation act,
                                 Tensor* dx, bool accumulate_dx, Tensor* dresidual,
                                 bool accumulate_dresidual, Tensor* dweight, Tensor* dbias) {
  const char* op = "batchnorm_act_backward_eval";
  const Dims d = dims_of(op, x);
  // mean / invstd of the running statistics, from the same kernel the eval forward uses.
  Tensor coef = device_scratch(Shape{4 * d.c}, DType::F32);
  float* cp = static_cast<float*>(coef.raw());
  launch::bn_eval_coef(optional_channel(&running_mean, d, op, "running_mean"),
                       optional_channel(&running_var, d, op, "running_var"),
                       static_cast<float>(eps), nullptr, nullptr, d.c, cp, cp + 2 * d.c,
                       cp + 3 * d.c, compute_stream());
  backward_common(op, false, x, y, dy, weight, cp + 2 * d.c, cp + 3 * d.c, d, act, dx,
                  accumulate_dx, dresidual, accumulate_dresidual, dweight, dbias);
}

}  // namespace te::ops::cuda
