// Tensor-level fused batch norm + residual add + activation (kernels/batchnorm_act.h) on our
// own kernels: channels.cu computes the statistics and coefficients exactly as for plain batch
// norm (batchnorm_ops.cpp), batchnorm_act.cu the fused passes. Per call:
//   forward train: channel sums of x -> finalize (stats, running update, scale/shift) -> apply
//   forward eval:  coefficients from the running statistics -> apply
//   backward:      sums of dz and dz * xhat (dz from dy and y on the fly) -> finalize
//                  (dweight, dbias, dx coefficients) -> one pass writing dx and dr.
// Dtypes (storage_args.h): x, residual, y, dy, dx, dresidual are f32, bf16 or f16, all the same;
// weight, bias, the running and saved statistics, dweight and dbias are f32.
// Layout::NHWC (channels-last) takes the same steps with channels_nhwc.cu's sums and passes
// over [rows = N*H*W, C]; the finalisations are channels.cu's in both layouts.
#include <string>

#include "kernels/batchnorm_act.h"
#include "kernels/cuda/batchnorm_passes.h"
#include "kernels/cuda/channel_args.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/storage_args.h"
#include "kernels/cuda/tensor_args.h"

namespace te::ops::cuda {
using namespace te::cuda;
namespace {
// A full-size (x.numel()) activation tensor of the call's dtype, or null.
void check_full(const StorageDType& st, const Tensor* t, const Tensor& x, const char* op,
                const char* what) {
  if (!t) return;
  st.check(*t, what);
  require_numel(*t, x.numel(), op, what);
}

bool is_relu(BatchNormActivation act) { return act == BatchNormActivation::ReLU; }

// y = act(x * coef[c] + coef[C + c] + r) in either layout.
template <typename T>
void apply(const T* x, const T* r, T* y, const float* coef, const ChannelDims& d, Layout layout,
           BatchNormActivation act) {
  if (layout == Layout::NHWC)
    launch::bn_apply_nhwc<T>(x, r, y, coef, d.count(), d.c, is_relu(act), compute_stream());
  else
    launch::bn_act_apply(x, r, y, coef, d.n, d.c, d.hw, is_relu(act), compute_stream());
}

// Checks every dtype and size of a backward call (the statistics are checked by the caller).
StorageDType check_backward(const char* op, const Tensor& x, const Tensor& y, const Tensor& dy,
                            const Tensor* weight, const ChannelDims& d, BatchNormActivation act,
                            const Tensor* dx, const Tensor* dresidual, const Tensor* dweight,
                            const Tensor* dbias) {
  StorageDType st(op, x, "x");
  check_full(st, &dy, x, op, "dy");
  if (is_relu(act)) check_full(st, &y, x, op, "y");  // None: y is not read
  check_full(st, dx, x, op, "dx");
  check_full(st, dresidual, x, op, "dresidual");
  check_channel(weight, d, op, "weight");
  check_channel(dweight, d, op, "dweight");
  check_channel(dbias, d, op, "dbias");
  return st;
}

// Backward for both modes given the statistics' mean and invstd on the device.
template <typename T>
void backward_passes(const char* op, const StorageDType& st, bool train, const Tensor& x,
                     const Tensor& y, const Tensor& dy, const Tensor* weight, const float* mean,
                     const float* invstd, const ChannelDims& d, Layout layout,
                     BatchNormActivation act, Tensor* dx, bool accumulate_dx, Tensor* dresidual,
                     bool accumulate_dresidual, Tensor* dweight, Tensor* dbias) {
  const T* xp = st.ptr<T>(x, "x");
  const T* dyp = st.ptr<T>(dy, "dy");
  const T* yp = is_relu(act) ? st.ptr<T>(y, "y") : nullptr;
  T* dxp = st.ptr<T>(dx, "dx");
  T* drp = st.ptr<T>(dresidual, "dresidual");
  const bool nhwc = layout == Layout::NHWC;
  const int splits = nhwc ? launch::channel_splits_nhwc(d.count(), d.c, context().sm_count)
                          : launch::channel_splits(d.n, d.c, d.hw, context().sm_count);
  Tensor partials = device_scratch(Shape{d.c * splits * 2}, DType::F64);
  if (nhwc)
    launch::channel_sums_nhwc<T>(1, dyp, xp, yp, mean, invstd, d.count(), d.c, splits,
                                 static_cast<double*>(partials.raw()), compute_stream());
  else
    launch::bn_act_backward_sums(dyp, yp, xp, mean, invstd, d.n, d.c, d.hw, splits,
                                 static_cast<double*>(partials.raw()), compute_stream());
  Tensor coef = device_scratch(Shape{4 * d.c}, DType::F32);
  launch::bn_backward_finalize(static_cast<double*>(partials.raw()), splits, d.c, d.count(),
                               train, f32_param_ptr(weight, op, "weight"), mean, invstd,
                               f32_param_ptr(dweight, op, "dweight"),
                               f32_param_ptr(dbias, op, "dbias"),
                               static_cast<float*>(coef.raw()), compute_stream());
  if (!dxp && !drp) return;  // parameter gradients only
  if (nhwc)
    launch::bn_backward_apply_nhwc<T>(dyp, yp, xp, dxp, accumulate_dx, drp, accumulate_dresidual,
                                      static_cast<float*>(coef.raw()), d.count(), d.c,
                                      compute_stream());
  else
    launch::bn_act_backward_apply(dyp, yp, xp, dxp, accumulate_dx, drp, accumulate_dresidual,
                                  static_cast<float*>(coef.raw()), d.n, d.c, d.hw,
                                  compute_stream());
}
}  // namespace

namespace batchnorm_passes {

void forward_train(const char* op, const Tensor& x, const Tensor* residual, const Tensor* weight,
                                 const Tensor* bias, Tensor& running_mean, Tensor& running_var,
                                 Tensor* num_batches_tracked, Tensor& save_mean,
                                 Tensor& save_invstd, double eps, double momentum,
                                 BatchNormActivation act, Tensor& y, Layout layout) {
  const ChannelDims d = channel_dims(op, x);
  if (d.count() <= 1)
    throw ShapeError(std::string(op) + ": input " + x.shape().str() +
                     " has 1 value per channel; batch statistics need more than one (use a "
                     "batch larger than 1 or evaluation mode)");
  const StorageDType st(op, x, "x");
  check_full(st, residual, x, op, "residual");
  check_full(st, &y, x, op, "y");
  check_channel(weight, d, op, "weight");
  check_channel(bias, d, op, "bias");
  check_channel(&running_mean, d, op, "running_mean");
  check_channel(&running_var, d, op, "running_var");
  check_channel(&save_mean, d, op, "save_mean");
  check_channel(&save_invstd, d, op, "save_invstd");
  int64_t* nbt = num_batches_tracked
                     ? typed_ptr<int64_t>(*num_batches_tracked, DType::I64, op,
                                          "num_batches_tracked")
                     : nullptr;
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = st.ptr<T>(x, "x");
    const T* rp = st.ptr<T>(residual, "residual");
    T* yp = st.ptr<T>(y, "y");
    const bool nhwc = layout == Layout::NHWC;
    const int splits = nhwc ? launch::channel_splits_nhwc(d.count(), d.c, context().sm_count)
                            : launch::channel_splits(d.n, d.c, d.hw, context().sm_count);
    Tensor partials = device_scratch(Shape{d.c * splits * 2}, DType::F64);
    if (nhwc)
      launch::channel_sums_nhwc<T>(0, xp, nullptr, nullptr, nullptr, nullptr, d.count(), d.c,
                                   splits, static_cast<double*>(partials.raw()),
                                   compute_stream());
    else
      launch::channel_sums<T>(xp, d.n, d.c, d.hw, splits,
                              static_cast<double*>(partials.raw()), compute_stream());
    Tensor coef = device_scratch(Shape{2 * d.c}, DType::F32);
    launch::bn_finalize_train(static_cast<double*>(partials.raw()), splits, d.c, d.count(),
                              static_cast<float>(eps), static_cast<float>(momentum),
                              f32_param_ptr(weight, op, "weight"), f32_param_ptr(bias, op, "bias"),
                              f32_param_ptr(&running_mean, op, "running_mean"),
                              f32_param_ptr(&running_var, op, "running_var"), nbt,
                              f32_param_ptr(&save_mean, op, "save_mean"),
                              f32_param_ptr(&save_invstd, op, "save_invstd"),
                              static_cast<float*>(coef.raw()), compute_stream());
    apply(xp, rp, yp, static_cast<float*>(coef.raw()), d, layout, act);
  });
}

void forward_eval(const char* op, const Tensor& x, const Tensor* residual, const Tensor* weight,
                                const Tensor* bias, const Tensor& running_mean,
                                const Tensor& running_var, double eps, BatchNormActivation act,
                                Tensor& y, Layout layout) {
  const ChannelDims d = channel_dims(op, x);
  const StorageDType st(op, x, "x");
  check_full(st, residual, x, op, "residual");
  check_full(st, &y, x, op, "y");
  check_channel(weight, d, op, "weight");
  check_channel(bias, d, op, "bias");
  check_channel(&running_mean, d, op, "running_mean");
  check_channel(&running_var, d, op, "running_var");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = st.ptr<T>(x, "x");
    const T* rp = st.ptr<T>(residual, "residual");
    T* yp = st.ptr<T>(y, "y");
    // coef: scale [C], shift [C], then the running mean and invstd (unused here).
    Tensor coef = device_scratch(Shape{4 * d.c}, DType::F32);
    float* cp = static_cast<float*>(coef.raw());
    launch::bn_eval_coef(f32_param_ptr(&running_mean, op, "running_mean"),
                         f32_param_ptr(&running_var, op, "running_var"), static_cast<float>(eps),
                         f32_param_ptr(weight, op, "weight"), f32_param_ptr(bias, op, "bias"), d.c,
                         cp, cp + 2 * d.c, cp + 3 * d.c, compute_stream());
    apply(xp, rp, yp, cp, d, layout, act);
  });
}

void backward_train(const char* op, const Tensor& x, const Tensor& y, const Tensor& dy,
                                  const Tensor* weight, const Tensor& save_mean,
                                  const Tensor& save_invstd, BatchNormActivation act, Tensor* dx,
                                  bool accumulate_dx, Tensor* dresidual,
                                  bool accumulate_dresidual, Tensor* dweight, Tensor* dbias,
                                  Layout layout) {
  const ChannelDims d = channel_dims(op, x);
  const StorageDType st =
      check_backward(op, x, y, dy, weight, d, act, dx, dresidual, dweight, dbias);
  check_channel(&save_mean, d, op, "save_mean");
  check_channel(&save_invstd, d, op, "save_invstd");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    backward_passes<T>(op, st, true, x, y, dy, weight,
                       f32_param_ptr(&save_mean, op, "save_mean"),
                       f32_param_ptr(&save_invstd, op, "save_invstd"), d, layout, act, dx,
                       accumulate_dx, dresidual, accumulate_dresidual, dweight, dbias);
  });
}

void backward_eval(const char* op, const Tensor& x, const Tensor& y, const Tensor& dy,
                                 const Tensor* weight, const Tensor& running_mean,
                                 const Tensor& running_var, double eps, BatchNormActivation act,
                                 Tensor* dx, bool accumulate_dx, Tensor* dresidual,
                                 bool accumulate_dresidual, Tensor* dweight, Tensor* dbias,
                                 Layout layout) {
  const ChannelDims d = channel_dims(op, x);
  const StorageDType st =
      check_backward(op, x, y, dy, weight, d, act, dx, dresidual, dweight, dbias);
  check_channel(&running_mean, d, op, "running_mean");
  check_channel(&running_var, d, op, "running_var");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    // mean / invstd of the running statistics, from the same kernel the eval forward uses.
    Tensor coef = device_scratch(Shape{4 * d.c}, DType::F32);
    float* cp = static_cast<float*>(coef.raw());
    launch::bn_eval_coef(f32_param_ptr(&running_mean, op, "running_mean"),
                         f32_param_ptr(&running_var, op, "running_var"), static_cast<float>(eps),
                         nullptr, nullptr, d.c, cp, cp + 2 * d.c, cp + 3 * d.c,
                         compute_stream());
    backward_passes<T>(op, st, false, x, y, dy, weight, cp + 2 * d.c, cp + 3 * d.c, d, layout,
                       act, dx, accumulate_dx, dresidual, accumulate_dresidual, dweight, dbias);
  });
}

}  // namespace batchnorm_passes

void batchnorm_act_forward_train(const Tensor& x, const Tensor* residual, const Tensor* weight,
                                 const Tensor* bias, Tensor& running_mean, Tensor& running_var,
                                 Tensor* num_batches_tracked, Tensor& save_mean,
                                 Tensor& save_invstd, double eps, double momentum,
                                 BatchNormActivation act, Tensor& y, Layout layout) {
  batchnorm_passes::forward_train("batchnorm_act_forward_train", x, residual, weight, bias,
                                  running_mean, running_var, num_batches_tracked, save_mean,
                                  save_invstd, eps, momentum, act, y, layout);
}

void batchnorm_act_forward_eval(const Tensor& x, const Tensor* residual, const Tensor* weight,
                                const Tensor* bias, const Tensor& running_mean,
                                const Tensor& running_var, double eps, BatchNormActivation act,
                                Tensor& y, Layout layout) {
  batchnorm_passes::forward_eval("batchnorm_act_forward_eval", x, residual, weight, bias,
                                 running_mean, running_var, eps, act, y, layout);
}

void batchnorm_act_backward_train(const Tensor& x, const Tensor& y, const Tensor& dy,
                                  const Tensor* weight, const Tensor& save_mean,
                                  const Tensor& save_invstd, BatchNormActivation act, Tensor* dx,
                                  bool accumulate_dx, Tensor* dresidual,
                                  bool accumulate_dresidual, Tensor* dweight, Tensor* dbias,
                                  Layout layout) {
  batchnorm_passes::backward_train("batchnorm_act_backward_train", x, y, dy, weight, save_mean,
                                   save_invstd, act, dx, accumulate_dx, dresidual,
                                   accumulate_dresidual, dweight, dbias, layout);
}

void batchnorm_act_backward_eval(const Tensor& x, const Tensor& y, const Tensor& dy,
                                 const Tensor* weight, const Tensor& running_mean,
                                 const Tensor& running_var, double eps, BatchNormActivation act,
                                 Tensor* dx, bool accumulate_dx, Tensor* dresidual,
                                 bool accumulate_dresidual, Tensor* dweight, Tensor* dbias,
                                 Layout layout) {
  batchnorm_passes::backward_eval("batchnorm_act_backward_eval", x, y, dy, weight, running_mean,
                                  running_var, eps, act, dx, accumulate_dx, dresidual,
                                  accumulate_dresidual, dweight, dbias, layout);
}

}  // namespace te::ops::cuda
