// CPU batch normalisation. The traversal, the per-channel sums and the coefficients live in
// kernels/cpu/batchnorm_common.h (shared with the fused kernels/cpu/batchnorm_act.cpp); here
// the output run is the plain affine map and the input-gradient run the BN backward of dy.
#include <string>
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/cpu/batchnorm_common.h"

namespace te::ops::cpu {
namespace {
using namespace bn;

template <typename T>
void forward_train_impl(const Tensor& x, const Tensor* weight, const Tensor* bias, Tensor& rmean,
                        Tensor& rvar, Tensor& smean, Tensor& sinv, double eps, double momentum,
                        Tensor& y) {
  const int64_t s = dims_of("batchnorm_forward_train", x).s;
  const T* in = x.data<T>();
  T* out = y.data<T>();
  forward_train_channels<T>(x, weight, bias, rmean, rvar, smean, sinv, eps, momentum,
                            [&](int64_t off, const Affine<T>& f) {
                              const T* v = in + off;
                              T* o = out + off;
                              for (int64_t j = 0; j < s; ++j) o[j] = f(v[j]);
                            });
}

template <typename T>
void forward_eval_impl(const Tensor& x, const Tensor* weight, const Tensor* bias,
                       const Tensor& rmean, const Tensor& rvar, double eps, Tensor& y) {
  const int64_t s = dims_of("batchnorm_forward_eval", x).s;
  const T* in = x.data<T>();
  T* out = y.data<T>();
  forward_eval_channels<T>(x, weight, bias, rmean, rvar, eps, [&](int64_t off, const Affine<T>& f) {
    const T* v = in + off;
    T* o = out + off;
    for (int64_t j = 0; j < s; ++j) o[j] = f(v[j]);
  });
}

// The gradient reaching the normalisation is dy itself.
template <typename T>
void backward_impl(const Tensor& x, const Tensor& dy, const Tensor* weight, const double* mean,
                   const double* invstd, bool through_stats, Tensor* dx, bool accumulate,
                   Tensor* dweight, Tensor* dbias) {
  const Dims d = dims_of("batchnorm_backward", x);
  const T *in = x.data<T>(), *g = dy.data<T>();
  T* dxp = mut<T>(dx);
  backward_channels<T>(
      d, 2, weight, mean, invstd, through_stats, dweight, dbias, dxp != nullptr,
      [&](int64_t off, T mu, Lanes& sum_g, Lanes& sum_g_dev) {
        accumulate_runs<T, 2>({in + off, g + off}, d.s, sum_g, sum_g_dev,
                              [mu](const auto& v, auto& pa, auto& pb) {
                                pa += v[1];
                                pb += v[1] * (v[0] - mu);
                              });
      },
      [&](int64_t off, const Coef<T>& q) {
        const T *v = in + off, *gv = g + off;
        T* o = dxp + off;
        if (accumulate) {
          for (int64_t j = 0; j < d.s; ++j) o[j] += q.a * gv[j] + q.e * (v[j] - q.mu) + q.f;
        } else {
          for (int64_t j = 0; j < d.s; ++j) o[j] = q.a * gv[j] + q.e * (v[j] - q.mu) + q.f;
        }
      });
}

}  // namespace

void batchnorm_forward_train(const Tensor& x, const Tensor* weight, const Tensor* bias,
                             Tensor& running_mean, Tensor& running_var,
                             Tensor* num_batches_tracked, Tensor& save_mean, Tensor& save_invstd,
                             double eps, double momentum, Tensor& y, Layout layout) {
  const char* op = "batchnorm_forward_train";
  reject_nhwc(op, layout);
  check_common(op, x, weight, bias, running_mean, running_var, y);
  const Dims d = dims_of(op, x);
  check(op, "save_mean", &save_mean, d.c, x.dtype());
  check(op, "save_invstd", &save_invstd, d.c, x.dtype());
  check(op, "num_batches_tracked", num_batches_tracked, 1, DType::I64);
  if (d.n * d.s < 2)
    throw ShapeError(std::string(op) + ": input " + x.shape().str() +
                     " has one value per channel; batch statistics in training need at least 2");
  on_float(op, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    forward_train_impl<T>(x, weight, bias, running_mean, running_var, save_mean, save_invstd, eps,
                          momentum, y);
  });
  if (num_batches_tracked) num_batches_tracked->data<int64_t>()[0] += 1;
}

void batchnorm_forward_eval(const Tensor& x, const Tensor* weight, const Tensor* bias,
                            const Tensor& running_mean, const Tensor& running_var, double eps,
                            Tensor& y, Layout layout) {
  const char* op = "batchnorm_forward_eval";
  reject_nhwc(op, layout);
  check_common(op, x, weight, bias, running_mean, running_var, y);
  on_float(op, x.dtype(), [&](auto tag) {
    forward_eval_impl<decltype(tag)>(x, weight, bias, running_mean, running_var, eps, y);
  });
}

void batchnorm_backward_train(const Tensor& x, const Tensor& dy, const Tensor* weight,
                              const Tensor& save_mean, const Tensor& save_invstd, Tensor* dx,
                              bool accumulate, Tensor* dweight, Tensor* dbias, Layout layout) {
  const char* op = "batchnorm_backward_train";
  reject_nhwc(op, layout);
  check_common(op, x, weight, nullptr, save_mean, save_invstd, dy);
  const Dims d = dims_of(op, x);
  check(op, "grad_input", dx, x.numel(), x.dtype());
  check(op, "grad_weight", dweight, d.c, x.dtype());
  check(op, "grad_bias", dbias, d.c, x.dtype());
  const std::vector<double> mean = save_mean.to_f64_vector(), invstd = save_invstd.to_f64_vector();
  on_float(op, x.dtype(), [&](auto tag) {
    backward_impl<decltype(tag)>(x, dy, weight, mean.data(), invstd.data(), true, dx, accumulate,
                                 dweight, dbias);
  });
}

void batchnorm_backward_eval(const Tensor& x, const Tensor& dy, const Tensor* weight,
                             const Tensor& running_mean, const Tensor& running_var, double eps,
                             Tensor* dx, bool accumulate, Tensor* dweight, Tensor* dbias,
                             Layout layout) {
  const char* op = "batchnorm_backward_eval";
  reject_nhwc(op, layout);
  check_common(op, x, weight, nullptr, running_mean, running_var, dy);
  const Dims d = dims_of(op, x);
  check(op, "grad_input", dx, x.numel(), x.dtype());
  check(op, "grad_weight", dweight, d.c, x.dtype());
  check(op, "grad_bias", dbias, d.c, x.dtype());
  const std::vector<double> mean = running_mean.to_f64_vector();
  std::vector<double> invstd = running_var.to_f64_vector();
  for (double& v : invstd) v = 1.0 / std::sqrt(v + eps);
  on_float(op, x.dtype(), [&](auto tag) {
    backward_impl<decltype(tag)>(x, dy, weight, mean.data(), invstd.data(), false, dx, accumulate,
                                 dweight, dbias);
  });
}

}  // namespace te::ops::cpu
