// Synchronised batch norm (kernels/batchnorm_sync.h) on CUDA tensors, from plain batch norm's
// kernels, in both layouts and all storage types (batchnorm_ops.cpp's rules):
//   stats:          channel partials of {x, x^2} (channels.cu / channels_nhwc.cu mode 0)
//                   -> channel_partial_sums -> host
//   forward:        the all-reduced sums, uploaded as partials of one split -> bn_finalize_train
//                   (statistics, running update, num_batches_tracked, coef) -> apply
//   backward sums:  channel partials of {dy, dy * xhat} (batchnorm_act.cu / channels_nhwc.cu
//                   mode 1) -> channel_partial_sums -> host
//   backward:       local sums -> bn_backward_finalize for dweight, dbias; global sums ->
//                   bn_backward_finalize for the dx coefficients -> backward apply
// So a single replica's results are plain batch norm's, computed by the same kernels.
//
// First version: the sums cross the host. Each reduction ends in a device->host copy of 2C
// doubles (M, known on the host, is appended), each finalisation starts with a host->device
// copy of the all-reduced ones, and each copy waits for the compute stream. That keeps the
// host-vector interface, so the layer and BatchStatsSync are the CPU path's; an all-reduce of
// device buffers (NCCL) would remove the copies and the waits.
#include <cmath>
#include <initializer_list>
#include <string>

#include "kernels/batchnorm_sync.h"
#include "kernels/batchnorm_sync_sums.h"
#include "kernels/cuda/channel_args.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/storage_args.h"
#include "kernels/cuda/tensor_args.h"

namespace te::ops::cuda {
using namespace te::cuda;
namespace {

bool is_nhwc(Layout layout) { return layout == Layout::NHWC; }

// How many partial sums per channel the reductions write for this shape and layout.
int splits_for(const ChannelDims& d, Layout layout) {
  return is_nhwc(layout) ? launch::channel_splits_nhwc(d.count(), d.c, context().sm_count)
                         : launch::channel_splits(d.n, d.c, d.hw, context().sm_count);
}

// The finalisation kernels take M as an integer; it is a count of values, exact in double.
int64_t whole_count(const char* op, double m) {
  if (!(m >= 0 && m <= 0x1p53 && m == std::floor(m)))
    throw ShapeError(std::string(op) + ": the count M = " + std::to_string(m) +
                     " is not a whole number of values; pass the sum of the replicas' counts");
  return static_cast<int64_t>(m);
}

// The channels' two sums from `splits` partials per channel, on the host as [C | C] doubles.
std::vector<double> sums_to_host(const Tensor& partials, int splits, int64_t c) {
  std::vector<double> out(bn_sync::backward_sums_size(c));
  if (c == 0) return out;
  Tensor sums = device_scratch(Shape{2 * c}, DType::F64);
  launch::channel_partial_sums(static_cast<const double*>(partials.raw()), splits, c,
                               static_cast<double*>(sums.raw()), compute_stream());
  read_back(out.data(), sums.raw(), out.size() * sizeof(double));
  return out;
}

// Host sums ([C | C] each; a trailing M is ignored) as the partials of one split that the
// finalisations read ({first, second} per channel), one set after another in one device
// tensor of 2C doubles per set.
Tensor device_partials(std::initializer_list<const std::vector<double>*> sets, int64_t c) {
  std::vector<double> interleaved;
  interleaved.reserve(sets.size() * static_cast<size_t>(2 * c));
  for (const std::vector<double>* s : sets)
    for (int64_t ch = 0; ch < c; ++ch) {
      interleaved.push_back((*s)[static_cast<size_t>(ch)]);
      interleaved.push_back((*s)[static_cast<size_t>(c + ch)]);
    }
  const Shape shape{static_cast<int64_t>(interleaved.size())};
  return Tensor::from_vector_f64(shape, interleaved).to(Device::cuda(current_device()));
}

const double* f64(const Tensor& t) { return static_cast<const double*>(t.raw()); }
float* f32(Tensor& t) { return static_cast<float*>(t.raw()); }

}  // namespace

std::vector<double> batchnorm_sync_stats(const Tensor& x, Layout layout) {
  const char* op = "batchnorm_sync_stats";
  const ChannelDims d = channel_dims(op, x);
  const StorageDType st(op, x, "x");
  const int splits = splits_for(d, layout);
  Tensor partials;
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = st.ptr<T>(x, "x");
    partials = device_scratch(Shape{d.c * splits * 2}, DType::F64);
    double* pp = static_cast<double*>(partials.raw());
    if (is_nhwc(layout))
      launch::channel_sums_nhwc<T>(0, xp, nullptr, nullptr, nullptr, nullptr, d.count(), d.c,
                                   splits, pp, compute_stream());
    else
      launch::channel_sums<T>(xp, d.n, d.c, d.hw, splits, pp, compute_stream());
  });
  std::vector<double> out = sums_to_host(partials, splits, d.c);
  out.push_back(static_cast<double>(d.count()));
  return out;
}

void batchnorm_sync_forward(const Tensor& x, const Tensor* weight, const Tensor* bias,
                            const std::vector<double>& global, Tensor& running_mean,
                            Tensor& running_var, Tensor* num_batches_tracked, Tensor& save_mean,
                            Tensor& save_invstd, double eps, double momentum, Tensor& y,
                            Layout layout) {
  const char* op = "batchnorm_sync_forward";
  const ChannelDims d = channel_dims(op, x);
  const int64_t m = whole_count(op, bn_sync::checked_count(op, global, d.c));
  const StorageDType st(op, x, "x");
  st.check(y, "y");
  require_numel(y, x.numel(), op, "y");
  check_channel(weight, d, op, "weight");
  check_channel(bias, d, op, "bias");
  check_channel(&running_mean, d, op, "running_mean");
  check_channel(&running_var, d, op, "running_var");
  check_channel(&save_mean, d, op, "save_mean");
  check_channel(&save_invstd, d, op, "save_invstd");
  int64_t* nbt = num_batches_tracked ? typed_ptr<int64_t>(*num_batches_tracked, DType::I64, op,
                                                          "num_batches_tracked")
                                     : nullptr;
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = st.ptr<T>(x, "x");
    T* yp = st.ptr<T>(y, "y");
    const float* wp = f32_param_ptr(weight, op, "weight");
    const float* bp = f32_param_ptr(bias, op, "bias");
    float* rm = f32_param_ptr(&running_mean, op, "running_mean");
    float* rv = f32_param_ptr(&running_var, op, "running_var");
    float* sm = f32_param_ptr(&save_mean, op, "save_mean");
    float* si = f32_param_ptr(&save_invstd, op, "save_invstd");
    const Tensor partials = device_partials({&global}, d.c);
    Tensor coef = device_scratch(Shape{2 * d.c}, DType::F32);  // scale [C], shift [C]
    launch::bn_finalize_train(f64(partials), 1, d.c, m, static_cast<float>(eps),
                              static_cast<float>(momentum), wp, bp, rm, rv, nbt, sm, si,
                              f32(coef), compute_stream());
    if (is_nhwc(layout))
      launch::bn_apply_nhwc<T>(xp, nullptr, yp, f32(coef), d.count(), d.c, false,
                               compute_stream());
    else
      launch::bn_act_apply<T>(xp, nullptr, yp, f32(coef), d.n, d.c, d.hw, false,
                              compute_stream());
  });
}

std::vector<double> batchnorm_sync_backward_sums(const Tensor& x, const Tensor& dy,
                                                 const Tensor& save_mean,
                                                 const Tensor& save_invstd, Layout layout) {
  const char* op = "batchnorm_sync_backward_sums";
  const ChannelDims d = channel_dims(op, x);
  const StorageDType st(op, x, "x");
  st.check(dy, "dy");
  require_numel(dy, x.numel(), op, "dy");
  check_channel(&save_mean, d, op, "save_mean");
  check_channel(&save_invstd, d, op, "save_invstd");
  const int splits = splits_for(d, layout);
  Tensor partials;
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = st.ptr<T>(x, "x");
    const T* dyp = st.ptr<T>(dy, "dy");
    const float* mean = f32_param_ptr(&save_mean, op, "save_mean");
    const float* invstd = f32_param_ptr(&save_invstd, op, "save_invstd");
    partials = device_scratch(Shape{d.c * splits * 2}, DType::F64);
    double* pp = static_cast<double*>(partials.raw());
    if (is_nhwc(layout))
      launch::channel_sums_nhwc<T>(1, dyp, xp, nullptr, mean, invstd, d.count(), d.c, splits, pp,
                                   compute_stream());
    else
      launch::bn_act_backward_sums<T>(dyp, nullptr, xp, mean, invstd, d.n, d.c, d.hw, splits,
                                      pp, compute_stream());
  });
  return sums_to_host(partials, splits, d.c);
}

void batchnorm_sync_backward(const Tensor& x, const Tensor& dy, const Tensor* weight,
                             const Tensor& save_mean, const Tensor& save_invstd,
                             const std::vector<double>& local, const std::vector<double>& global,
                             double count, Tensor* dx, bool accumulate, Tensor* dweight,
                             Tensor* dbias, Layout layout) {
  const char* op = "batchnorm_sync_backward";
  const ChannelDims d = channel_dims(op, x);
  bn_sync::check_backward_sums(op, local, global, count, d.c);
  const int64_t m = whole_count(op, count);
  const StorageDType st(op, x, "x");
  st.check(dy, "dy");
  require_numel(dy, x.numel(), op, "dy");
  st.check(dx, "dx");
  if (dx) require_numel(*dx, x.numel(), op, "dx");
  check_channel(weight, d, op, "weight");
  check_channel(&save_mean, d, op, "save_mean");
  check_channel(&save_invstd, d, op, "save_invstd");
  check_channel(dweight, d, op, "dweight");
  check_channel(dbias, d, op, "dbias");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = st.ptr<T>(x, "x");
    const T* dyp = st.ptr<T>(dy, "dy");
    T* dxp = st.ptr<T>(dx, "dx");
    const float* wp = f32_param_ptr(weight, op, "weight");
    const float* mean = f32_param_ptr(&save_mean, op, "save_mean");
    const float* invstd = f32_param_ptr(&save_invstd, op, "save_invstd");
    float* dwp = f32_param_ptr(dweight, op, "dweight");
    float* dbp = f32_param_ptr(dbias, op, "dbias");
    if (!dxp && !dwp && !dbp) return;
    // One upload for both: [local partials | global partials].
    const Tensor partials = device_partials({&local, &global}, d.c);
    const double* local_p = f64(partials);
    const double* global_p = local_p + 2 * d.c;
    Tensor coef = device_scratch(Shape{4 * d.c}, DType::F32);  // A, B, D, mean (launchers.h)
    // Parameter gradients from this replica's sums (the coefficients of this call are unused).
    if (dwp || dbp)
      launch::bn_backward_finalize(local_p, 1, d.c, m, true, wp, mean, invstd, dwp, dbp,
                                   f32(coef), compute_stream());
    if (!dxp) return;
    // dx through the statistics of all replicas.
    launch::bn_backward_finalize(global_p, 1, d.c, m, true, wp, mean, invstd, nullptr, nullptr,
                                 f32(coef), compute_stream());
    if (is_nhwc(layout))
      launch::bn_backward_apply_nhwc<T>(dyp, nullptr, xp, dxp, accumulate, nullptr, false,
                                        f32(coef), d.count(), d.c, compute_stream());
    else
      launch::bn_act_backward_apply<T>(dyp, nullptr, xp, dxp, accumulate, nullptr, false,
                                       f32(coef), d.n, d.c, d.hw, compute_stream());
  });
}

}  // namespace te::ops::cuda
