// CPU batch normalisation. Threads take whole channels (parallel_for over C): a channel's
// values are N contiguous runs of S = H*W elements, and its sums need no reduction across
// threads, so results do not depend on the thread count. Sums are taken in double.
#include <cmath>
#include <string>

#include "engine/core/parallel.h"
#include "kernels/batchnorm.h"

namespace te::ops::cpu {
namespace {

// x viewed as [N, C, S].
struct Dims {
  int64_t n = 0, c = 0, s = 1;
};

Dims dims_of(const char* op, const Tensor& x) {
  if (x.rank() < 2) throw ShapeError(std::string(op) + ": input " + x.shape().str() + " needs at least [N, C]");
  Dims d;
  d.n = x.dim(0);
  d.c = x.dim(1);
  for (size_t i = 2; i < x.rank(); ++i) d.s *= x.dim(static_cast<int>(i));
  return d;
}

void check(const char* op, const char* what, const Tensor* t, int64_t numel, DType dtype) {
  if (!t) return;
  if (t->numel() != numel || t->dtype() != dtype)
    throw ShapeError(std::string(op) + ": " + what + " is " + t->shape().str() + " " +
                     dtype_name(t->dtype()) + ", expected " + std::to_string(numel) +
                     " elements of " + dtype_name(dtype));
}

template <typename T>
const T* ptr(const Tensor* t) { return t ? t->data<T>() : nullptr; }
template <typename T>
T* mut(Tensor* t) { return t ? t->data<T>() : nullptr; }

// Calls fn(v, i) for each of channel c's values: v = pointer to its run in sample i.
template <typename T, typename Fn>
void each_run(T* base, const Dims& d, int64_t c, Fn&& fn) {
  for (int64_t i = 0; i < d.n; ++i) fn(base + (i * d.c + c) * d.s);
}

template <typename T>
void forward_train_impl(const Tensor& x, const Tensor* weight, const Tensor* bias, Tensor& rmean,
                        Tensor& rvar, Tensor& smean, Tensor& sinv, double eps, double momentum,
                        Tensor& y) {
  const Dims d = dims_of("batchnorm_forward_train", x);
  const int64_t m = d.n * d.s;
  const T* in = x.data<T>();
  T* out = y.data<T>();
  const T *w = ptr<T>(weight), *b = ptr<T>(bias);
  T *rm = rmean.data<T>(), *rv = rvar.data<T>(), *sm = smean.data<T>(), *si = sinv.data<T>();
  parallel_for(d.c, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      // Two passes (mean, then squared deviations) avoid the cancellation of E[x^2] - E[x]^2.
      double sum = 0;
      each_run(in, d, c, [&](const T* v) { for (int64_t j = 0; j < d.s; ++j) sum += v[j]; });
      const double mean = sum / m;
      double sq = 0;
      each_run(in, d, c, [&](const T* v) {
        for (int64_t j = 0; j < d.s; ++j) sq += (v[j] - mean) * (v[j] - mean);
      });
      const double var = sq / m;
      const double invstd = 1.0 / std::sqrt(var + eps);
      sm[c] = static_cast<T>(mean);
      si[c] = static_cast<T>(invstd);
      rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * mean);
      rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * var * m / (m - 1));
      const double scale = invstd * (w ? w[c] : 1.0);
      const double shift = (b ? b[c] : 0.0) - mean * scale;
      for (int64_t i = 0; i < d.n; ++i) {
        const T* v = in + (i * d.c + c) * d.s;
        T* o = out + (i * d.c + c) * d.s;
        for (int64_t j = 0; j < d.s; ++j) o[j] = static_cast<T>(v[j] * scale + shift);
      }
    }
  });
}

template <typename T>
void forward_eval_impl(const Tensor& x, const Tensor* weight, const Tensor* bias,
                       const Tensor& rmean, const Tensor& rvar, double eps, Tensor& y) {
  const Dims d = dims_of("batchnorm_forward_eval", x);
  const T* in = x.data<T>();
  T* out = y.data<T>();
  const T *w = ptr<T>(weight), *b = ptr<T>(bias), *rm = rmean.data<T>(), *rv = rvar.data<T>();
  parallel_for(d.c, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const double scale = (w ? w[c] : 1.0) / std::sqrt(static_cast<double>(rv[c]) + eps);
      const double shift = (b ? b[c] : 0.0) - rm[c] * scale;
      for (int64_t i = 0; i < d.n; ++i) {
        const T* v = in + (i * d.c + c) * d.s;
        T* o = out + (i * d.c + c) * d.s;
        for (int64_t j = 0; j < d.s; ++j) o[j] = static_cast<T>(v[j] * scale + shift);
      }
    }
  });
}

// Shared by both backward passes: with xhat = (x - mean) * invstd,
//   dbias += sum(dy), dweight += sum(dy * xhat),
//   dx = w * invstd * (dy - through_stats * (sum(dy) + xhat * sum(dy * xhat)) / M)
// where through_stats is 1 for batch statistics (they depend on x) and 0 for running ones.
template <typename T>
void backward_impl(const Tensor& x, const Tensor& dy, const Tensor* weight, const double* mean,
                   const double* invstd, bool through_stats, Tensor* dx, bool accumulate,
                   Tensor* dweight, Tensor* dbias) {
  const Dims d = dims_of("batchnorm_backward", x);
  const double m = static_cast<double>(d.n * d.s);
  const T *in = x.data<T>(), *g = dy.data<T>(), *w = ptr<T>(weight);
  T *dxp = mut<T>(dx), *dw = mut<T>(dweight), *db = mut<T>(dbias);
  parallel_for(d.c, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double sum_dy = 0, sum_dy_xhat = 0;
      for (int64_t i = 0; i < d.n; ++i) {
        const T* v = in + (i * d.c + c) * d.s;
        const T* gv = g + (i * d.c + c) * d.s;
        for (int64_t j = 0; j < d.s; ++j) {
          sum_dy += gv[j];
          sum_dy_xhat += gv[j] * ((v[j] - mean[c]) * invstd[c]);
        }
      }
      if (dw) dw[c] += static_cast<T>(sum_dy_xhat);
      if (db) db[c] += static_cast<T>(sum_dy);
      if (!dxp) continue;
      const double k = (w ? w[c] : 1.0) * invstd[c];
      const double mean_dy = through_stats ? sum_dy / m : 0.0;
      const double mean_dy_xhat = through_stats ? sum_dy_xhat / m : 0.0;
      for (int64_t i = 0; i < d.n; ++i) {
        const T* v = in + (i * d.c + c) * d.s;
        const T* gv = g + (i * d.c + c) * d.s;
        T* o = dxp + (i * d.c + c) * d.s;
        for (int64_t j = 0; j < d.s; ++j) {
          const double xhat = (v[j] - mean[c]) * invstd[c];
          const T val = static_cast<T>(k * (gv[j] - mean_dy - xhat * mean_dy_xhat));
          o[j] = accumulate ? o[j] + val : val;
        }
      }
    }
  });
}

template <typename Fn>
void on_float(const char* op, DType t, Fn&& fn) {
  if (t == DType::F32) return fn(float{});
  if (t == DType::F64) return fn(double{});
  throw Error(std::string(op) + ": expects f32 or f64, got " + dtype_name(t));
}

void check_common(const char* op, const Tensor& x, const Tensor* weight, const Tensor* bias,
                  const Tensor& stat_a, const Tensor& stat_b, const Tensor& out) {
  const Dims d = dims_of(op, x);
  check(op, "weight", weight, d.c, x.dtype());
  check(op, "bias", bias, d.c, x.dtype());
  check(op, "mean", &stat_a, d.c, x.dtype());
  check(op, "variance", &stat_b, d.c, x.dtype());
  check(op, "output/gradient", &out, x.numel(), x.dtype());
}

}  // namespace

void batchnorm_forward_train(const Tensor& x, const Tensor* weight, const Tensor* bias,
                             Tensor& running_mean, Tensor& running_var,
                             Tensor* num_batches_tracked, Tensor& save_mean, Tensor& save_invstd,
                             double eps, double momentum, Tensor& y) {
  const char* op = "batchnorm_forward_train";
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
                            Tensor& y) {
  const char* op = "batchnorm_forward_eval";
  check_common(op, x, weight, bias, running_mean, running_var, y);
  on_float(op, x.dtype(), [&](auto tag) {
    forward_eval_impl<decltype(tag)>(x, weight, bias, running_mean, running_var, eps, y);
  });
}

void batchnorm_backward_train(const Tensor& x, const Tensor& dy, const Tensor* weight,
                              const Tensor& save_mean, const Tensor& save_invstd, Tensor* dx,
                              bool accumulate, Tensor* dweight, Tensor* dbias) {
  const char* op = "batchnorm_backward_train";
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
                             Tensor* dx, bool accumulate, Tensor* dweight, Tensor* dbias) {
  const char* op = "batchnorm_backward_eval";
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
