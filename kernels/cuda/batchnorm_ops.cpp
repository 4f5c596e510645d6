// Tensor-level batch normalisation (kernels/batchnorm.h) with our own kernels (channels.cu).
// Why not cuDNN: in cuDNN 9 the classic cudnnBatchNormalization* functions are deprecated, and
// their graph-API replacement (NORM_FORWARD/NORM_BACKWARD) is restricted to layouts and types
// (NHWC, reduced precision) that this NCHW engine does not use. Batch norm is memory-bound, so
// two passes of our own (per-channel sums, then an affine map) cost about what cuDNN's do.
// Dtypes (storage_args.h): x, y, dy, dx are f32, bf16 or f16, all the same; weight, bias, the
// running and saved statistics, dweight and dbias are f32 (sums in double either way).
// Layout::NHWC (channels-last) takes the same steps with channels_nhwc.cu's sums and maps over
// [rows = N*H*W, C]; the finalisations (statistics, running update, coefficients, parameter
// gradients) are channels.cu's in both layouts.
#include <string>

#include "kernels/cuda/channel_args.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/storage_args.h"
#include "kernels/cuda/tensor_args.h"

namespace te::ops::cuda {
using namespace te::cuda;
namespace {
// Per-channel partial sums of mode `mode` into a scratch tensor; returns the split count.
template <typename T>
int partial_sums(int mode, const T* a, const T* b, const float* mean, const float* invstd,
                 const ChannelDims& d, Layout layout, Tensor& scratch) {
  const bool nhwc = layout == Layout::NHWC;
  const int splits = nhwc ? launch::channel_splits_nhwc(d.count(), d.c, context().sm_count)
                          : launch::channel_splits(d.n, d.c, d.hw, context().sm_count);
  scratch = device_scratch(Shape{d.c * splits * 2}, DType::F64);
  double* partials = static_cast<double*>(scratch.raw());
  if (nhwc)
    launch::channel_sums_nhwc<T>(mode, a, b, nullptr, mean, invstd, d.count(), d.c, splits,
                                 partials, compute_stream());
  else
    launch::channel_sums(mode, a, b, mean, invstd, d.n, d.c, d.hw, splits, partials,
                         compute_stream());
  return splits;
}

// y = x * coef[c] + coef[C + c] in either layout.
template <typename T>
void affine(const T* x, T* y, const float* coef, const ChannelDims& d, Layout layout) {
  if (layout == Layout::NHWC)
    launch::bn_apply_nhwc<T>(x, nullptr, y, coef, d.count(), d.c, false, compute_stream());
  else
    launch::channel_affine(x, y, coef, d.n, d.c, d.hw, compute_stream());
}
}  // namespace

void batchnorm_forward_train(const Tensor& x, const Tensor* weight, const Tensor* bias,
                             Tensor& running_mean, Tensor& running_var,
                             Tensor* num_batches_tracked, Tensor& save_mean, Tensor& save_invstd,
                             double eps, double momentum, Tensor& y,
                             Layout layout) {
  const char* op = "batchnorm_forward_train";
  const ChannelDims d = channel_dims(op, x);
  if (d.count() <= 1)
    throw ShapeError(std::string(op) + ": input " + x.shape().str() +
                     " has 1 value per channel; batch statistics need more than one (use a "
                     "batch larger than 1 or evaluation mode)");
  const StorageDType st(op, x, "x");
  st.check(y, "y");
  require_numel(y, x.numel(), op, "y");
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
    T* yp = st.ptr<T>(y, "y");
    Tensor partials;
    const int splits = partial_sums<T>(0, xp, nullptr, nullptr, nullptr, d, layout, partials);
    Tensor coef = device_scratch(Shape{2 * d.c}, DType::F32);
    launch::bn_finalize_train(static_cast<double*>(partials.raw()), splits, d.c, d.count(),
                              static_cast<float>(eps), static_cast<float>(momentum),
                              f32_param_ptr(weight, op, "weight"), f32_param_ptr(bias, op, "bias"),
                              f32_param_ptr(&running_mean, op, "running_mean"),
                              f32_param_ptr(&running_var, op, "running_var"), nbt,
                              f32_param_ptr(&save_mean, op, "save_mean"),
                              f32_param_ptr(&save_invstd, op, "save_invstd"),
                              static_cast<float*>(coef.raw()), compute_stream());
    affine(xp, yp, static_cast<float*>(coef.raw()), d, layout);
  });
}

void batchnorm_forward_eval(const Tensor& x, const Tensor* weight, const Tensor* bias,
                            const Tensor& running_mean, const Tensor& running_var, double eps,
                            Tensor& y, Layout layout) {
  const char* op = "batchnorm_forward_eval";
  const ChannelDims d = channel_dims(op, x);
  const StorageDType st(op, x, "x");
  st.check(y, "y");
  require_numel(y, x.numel(), op, "y");
  check_channel(weight, d, op, "weight");
  check_channel(bias, d, op, "bias");
  check_channel(&running_mean, d, op, "running_mean");
  check_channel(&running_var, d, op, "running_var");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = st.ptr<T>(x, "x");
    T* yp = st.ptr<T>(y, "y");
    Tensor coef = device_scratch(Shape{4 * d.c}, DType::F32);
    float* cp = static_cast<float*>(coef.raw());
    launch::bn_eval_coef(f32_param_ptr(&running_mean, op, "running_mean"),
                         f32_param_ptr(&running_var, op, "running_var"), static_cast<float>(eps),
                         f32_param_ptr(weight, op, "weight"), f32_param_ptr(bias, op, "bias"), d.c,
                         cp, cp + 2 * d.c, cp + 3 * d.c, compute_stream());
    affine(xp, yp, cp, d, layout);
  });
}

namespace {
// Checks every dtype and size of a backward call (the statistics are checked by the caller).
StorageDType check_backward(const char* op, const Tensor& x, const Tensor& dy,
                            const Tensor* weight, const ChannelDims& d, const Tensor* dx,
                            const Tensor* dweight, const Tensor* dbias) {
  StorageDType st(op, x, "x");
  st.check(dy, "dy");
  st.check(dx, "dx");
  require_numel(dy, x.numel(), op, "dy");
  if (dx) require_numel(*dx, x.numel(), op, "dx");
  check_channel(weight, d, op, "weight");
  check_channel(dweight, d, op, "dweight");
  check_channel(dbias, d, op, "dbias");
  return st;
}

// The backward passes once mean and invstd ([C] f32 each) are on the device.
template <typename T>
void backward_passes(const char* op, const StorageDType& st, bool train, const Tensor& x,
                     const Tensor& dy, const Tensor* weight, const float* mean,
                     const float* invstd, const ChannelDims& d, Layout layout, Tensor* dx,
                     bool accumulate, Tensor* dweight, Tensor* dbias) {
  const T* xp = st.ptr<T>(x, "x");
  const T* dyp = st.ptr<T>(dy, "dy");
  T* dxp = st.ptr<T>(dx, "dx");
  Tensor partials;
  const int splits = partial_sums<T>(1, dyp, xp, mean, invstd, d, layout, partials);
  Tensor coef = device_scratch(Shape{3 * d.c}, DType::F32);
  launch::bn_backward_finalize(static_cast<double*>(partials.raw()), splits, d.c, d.count(),
                               train, f32_param_ptr(weight, op, "weight"), mean, invstd,
                               f32_param_ptr(dweight, op, "dweight"),
                               f32_param_ptr(dbias, op, "dbias"), static_cast<float*>(coef.raw()),
                               compute_stream());
  if (dxp && layout == Layout::NHWC)
    launch::bn_backward_apply_nhwc<T>(dyp, nullptr, xp, dxp, accumulate, nullptr, false,
                                      static_cast<float*>(coef.raw()), d.count(), d.c,
                                      compute_stream());
  else if (dxp)
    launch::bn_backward_apply(dyp, xp, dxp, static_cast<float*>(coef.raw()), d.n, d.c, d.hw,
                              accumulate, compute_stream());
}
}  // namespace

void batchnorm_backward_train(const Tensor& x, const Tensor& dy, const Tensor* weight,
                              const Tensor& save_mean, const Tensor& save_invstd, Tensor* dx,
                              bool accumulate, Tensor* dweight, Tensor* dbias,
                              Layout layout) {
  const char* op = "batchnorm_backward_train";
  const ChannelDims d = channel_dims(op, x);
  const StorageDType st = check_backward(op, x, dy, weight, d, dx, dweight, dbias);
  check_channel(&save_mean, d, op, "save_mean");
  check_channel(&save_invstd, d, op, "save_invstd");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    backward_passes<T>(op, st, true, x, dy, weight, f32_param_ptr(&save_mean, op, "save_mean"),
                       f32_param_ptr(&save_invstd, op, "save_invstd"), d, layout, dx, accumulate,
                       dweight, dbias);
  });
}

void batchnorm_backward_eval(const Tensor& x, const Tensor& dy, const Tensor* weight,
                             const Tensor& running_mean, const Tensor& running_var, double eps,
                             Tensor* dx, bool accumulate, Tensor* dweight, Tensor* dbias,
                             Layout layout) {
  const char* op = "batchnorm_backward_eval";
  const ChannelDims d = channel_dims(op, x);
  const StorageDType st = check_backward(op, x, dy, weight, d, dx, dweight, dbias);
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
    backward_passes<T>(op, st, false, x, dy, weight, cp + 2 * d.c, cp + 3 * d.c, d, layout, dx,
                       accumulate, dweight, dbias);
  });
}

}  // namespace te::ops::cuda
