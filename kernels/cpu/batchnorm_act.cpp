// CPU batch norm fused with residual add and activation (kernels/batchnorm_act.h). The
// statistics, running update, per-channel sums and dx coefficients are batch norm's own
// (kernels/cpu/batchnorm_common.h: threads over channels, memory-order runs, fixed summation
// order); only the per-run maps differ:
//   forward:  y = act(((x - mean) * scale + beta) + r)   in one pass over the run,
//   backward: the sums read x, y and dy and form dz = dy * (y > 0) element by element, and the
//             apply pass forms dz again for dx = a * dz + e * (x - mean) + f and dr = dz,
// so nothing of the size of x is stored or allocated besides the outputs.
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/batchnorm_act.h"
#include "kernels/cpu/batchnorm_common.h"

namespace te::ops::cpu {
namespace {
using namespace bn;

// Calls fn(std::bool_constant<relu>) so the activation is a compile-time choice in the loops.
template <typename Fn>
void on_activation(BatchNormActivation act, Fn&& fn) {
  if (act == BatchNormActivation::ReLU) return fn(std::true_type{});
  return fn(std::false_type{});
}

template <bool Relu, typename T>
inline T activate(T z) {
  if constexpr (Relu) return z > T(0) ? z : T(0);  // max(z, 0); NaN gives 0, like the relu layer
  else return z;
}

// g = 0 where y <= 0 (ReLU's gradient, 0 at the kink; NaN y gives 0, like the relu layer).
// Vectors take a bit mask per 16-byte half: GCC expands a comparison of 32-byte vectors
// element by element (scalar compares) on targets without 32-byte SIMD, which made the
// backward sums compute-bound; 16-byte compares are SSE2 instructions.
template <typename T>
inline void zero_unless_positive(T y, T& g) {
  g = y > T(0) ? g : T(0);
}
template <typename T>
inline void zero_unless_positive_vec(const Vec<T>& y, Vec<T>& g) {
  typedef T Half __attribute__((vector_size(16)));
  using Mask = decltype(Half{} > T(0));
  Half yh[2], gh[2];
  std::memcpy(yh, &y, sizeof yh);
  std::memcpy(gh, &g, sizeof gh);
  for (int h = 0; h < 2; ++h)
    gh[h] = reinterpret_cast<Half>(reinterpret_cast<Mask>(gh[h]) & (yh[h] > T(0)));
  std::memcpy(&g, gh, sizeof gh);
}
inline void zero_unless_positive(const VecF& y, VecF& g) { zero_unless_positive_vec<float>(y, g); }
inline void zero_unless_positive(const VecD& y, VecD& g) { zero_unless_positive_vec<double>(y, g); }

// o = act(f(v) + r) over a run (r may be null).
template <bool Relu, typename T>
inline void apply_run(const T* v, const T* r, T* o, int64_t s, const Affine<T>& f) {
  if (r) {
    for (int64_t j = 0; j < s; ++j) o[j] = activate<Relu>(f(v[j]) + r[j]);
  } else {
    for (int64_t j = 0; j < s; ++j) o[j] = activate<Relu>(f(v[j]));
  }
}

template <typename T, bool Relu>
void forward_train_impl(const Tensor& x, const Tensor* residual, const Tensor* weight,
                        const Tensor* bias, Tensor& rmean, Tensor& rvar, Tensor& smean,
                        Tensor& sinv, double eps, double momentum, Tensor& y) {
  const int64_t s = dims_of("batchnorm_act_forward_train", x).s;
  const T *in = x.data<T>(), *res = ptr<T>(residual);
  T* out = y.data<T>();
  forward_train_channels<T>(x, weight, bias, rmean, rvar, smean, sinv, eps, momentum,
                            [&](int64_t off, const Affine<T>& f) {
                              apply_run<Relu>(in + off, res ? res + off : nullptr, out + off, s, f);
                            });
}

template <typename T, bool Relu>
void forward_eval_impl(const Tensor& x, const Tensor* residual, const Tensor* weight,
                       const Tensor* bias, const Tensor& rmean, const Tensor& rvar, double eps,
                       Tensor& y) {
  const int64_t s = dims_of("batchnorm_act_forward_eval", x).s;
  const T *in = x.data<T>(), *res = ptr<T>(residual);
  T* out = y.data<T>();
  forward_eval_channels<T>(x, weight, bias, rmean, rvar, eps, [&](int64_t off, const Affine<T>& f) {
    apply_run<Relu>(in + off, res ? res + off : nullptr, out + off, s, f);
  });
}

// The gradient at the add: dy, or 0 where the ReLU's output is not positive. dy[j] is loaded
// unconditionally: a load inside the ?: is control flow that keeps GCC from vectorising.
template <bool Relu, typename T>
inline T grad_at_add(const T* y, const T* dy, int64_t j) {
  const T g = dy[j];
  if constexpr (Relu) return y[j] > T(0) ? g : T(0);
  else return g;
}

// dx = (or +=) a * dz + e * (x - mu) + f over a run. The pointers never alias (restrict lets
// the loop vectorise without a runtime overlap check).
template <bool Relu, bool Accumulate, typename T>
inline void dx_run(const T* __restrict x, const T* __restrict y, const T* __restrict dy,
                   T* __restrict dx, int64_t s, const Coef<T>& q) {
  for (int64_t j = 0; j < s; ++j) {
    const T v = q.a * grad_at_add<Relu>(y, dy, j) + q.e * (x[j] - q.mu) + q.f;
    dx[j] = Accumulate ? dx[j] + v : v;
  }
}

// dr = (or +=) dz over a run.
template <bool Relu, bool Accumulate, typename T>
inline void dr_run(const T* __restrict y, const T* __restrict dy, T* __restrict dr, int64_t s) {
  for (int64_t j = 0; j < s; ++j) {
    const T v = grad_at_add<Relu>(y, dy, j);
    dr[j] = Accumulate ? dr[j] + v : v;
  }
}

struct GradOut {
  Tensor* t;
  bool accumulate;
};

template <typename T, bool Relu>
void backward_impl(const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor* weight,
                   const double* mean, const double* invstd, bool through_stats, GradOut dx,
                   GradOut dr, Tensor* dweight, Tensor* dbias) {
  const Dims d = dims_of("batchnorm_act_backward", x);
  const T *in = x.data<T>(), *g = dy.data<T>();
  const T* out = Relu ? y.data<T>() : nullptr;
  T *dxp = mut<T>(dx.t), *drp = mut<T>(dr.t);
  // Relu: the sums stream x, y and dy; None: x and dy (exactly batch norm's sums).
  const auto sum_run = [&](int64_t off, T mu, Lanes& sum_g, Lanes& sum_g_dev) {
    if constexpr (Relu) {
      accumulate_runs<T, 3>({in + off, out + off, g + off}, d.s, sum_g, sum_g_dev,
                            [mu](const auto& v, auto& pa, auto& pb) {
                              auto dz = v[2];
                              zero_unless_positive(v[1], dz);
                              pa += dz;
                              pb += dz * (v[0] - mu);
                            });
    } else {
      accumulate_runs<T, 2>({in + off, g + off}, d.s, sum_g, sum_g_dev,
                            [mu](const auto& v, auto& pa, auto& pb) {
                              pa += v[1];
                              pb += v[1] * (v[0] - mu);
                            });
    }
  };
  const auto apply = [&](int64_t off, const Coef<T>& q) {
    const T* yv = Relu ? out + off : nullptr;
    if (dxp) {
      if (dx.accumulate) dx_run<Relu, true>(in + off, yv, g + off, dxp + off, d.s, q);
      else dx_run<Relu, false>(in + off, yv, g + off, dxp + off, d.s, q);
    }
    if (drp) {
      if (dr.accumulate) dr_run<Relu, true>(yv, g + off, drp + off, d.s);
      else dr_run<Relu, false>(yv, g + off, drp + off, d.s);
    }
  };
  backward_channels<T>(d, Relu ? 3 : 2, weight, mean, invstd, through_stats, dweight, dbias,
                       dxp || drp, sum_run, apply);
}

void check_forward(const char* op, const Tensor& x, const Tensor* residual, const Tensor* weight,
                   const Tensor* bias, const Tensor& stat_a, const Tensor& stat_b,
                   const Tensor& y) {
  check_common(op, x, weight, bias, stat_a, stat_b, y);
  check(op, "residual", residual, x.numel(), x.dtype());
}

void check_backward(const char* op, const Tensor& x, const Tensor& y, const Tensor& dy,
                    const Tensor* weight, const Tensor& stat_a, const Tensor& stat_b,
                    BatchNormActivation act, const Tensor* dx, const Tensor* dresidual,
                    const Tensor* dweight, const Tensor* dbias) {
  check_common(op, x, weight, nullptr, stat_a, stat_b, dy);
  const Dims d = dims_of(op, x);
  if (act == BatchNormActivation::ReLU) check(op, "output", &y, x.numel(), x.dtype());
  check(op, "grad_input", dx, x.numel(), x.dtype());
  check(op, "grad_residual", dresidual, x.numel(), x.dtype());
  check(op, "grad_weight", dweight, d.c, x.dtype());
  check(op, "grad_bias", dbias, d.c, x.dtype());
}

}  // namespace

void batchnorm_act_forward_train(const Tensor& x, const Tensor* residual, const Tensor* weight,
                                 const Tensor* bias, Tensor& running_mean, Tensor& running_var,
                                 Tensor* num_batches_tracked, Tensor& save_mean,
                                 Tensor& save_invstd, double eps, double momentum,
                                 BatchNormActivation act, Tensor& y, Layout layout) {
  const char* op = "batchnorm_act_forward_train";
  reject_nhwc(op, layout);
  check_forward(op, x, residual, weight, bias, running_mean, running_var, y);
  const Dims d = dims_of(op, x);
  check(op, "save_mean", &save_mean, d.c, x.dtype());
  check(op, "save_invstd", &save_invstd, d.c, x.dtype());
  check(op, "num_batches_tracked", num_batches_tracked, 1, DType::I64);
  if (d.n * d.s < 2)
    throw ShapeError(std::string(op) + ": input " + x.shape().str() +
                     " has one value per channel; batch statistics in training need at least 2");
  on_float(op, x.dtype(), [&](auto tag) {
    on_activation(act, [&](auto relu) {
      forward_train_impl<decltype(tag), decltype(relu)::value>(
          x, residual, weight, bias, running_mean, running_var, save_mean, save_invstd, eps,
          momentum, y);
    });
  });
  if (num_batches_tracked) num_batches_tracked->data<int64_t>()[0] += 1;
}

void batchnorm_act_forward_eval(const Tensor& x, const Tensor* residual, const Tensor* weight,
                                const Tensor* bias, const Tensor& running_mean,
                                const Tensor& running_var, double eps, BatchNormActivation act,
                                Tensor& y, Layout layout) {
  const char* op = "batchnorm_act_forward_eval";
  reject_nhwc(op, layout);
  check_forward(op, x, residual, weight, bias, running_mean, running_var, y);
  on_float(op, x.dtype(), [&](auto tag) {
    on_activation(act, [&](auto relu) {
      forward_eval_impl<decltype(tag), decltype(relu)::value>(x, residual, weight, bias,
                                                              running_mean, running_var, eps, y);
    });
  });
}

void batchnorm_act_backward_train(const Tensor& x, const Tensor& y, const Tensor& dy,
                                  const Tensor* weight, const Tensor& save_mean,
                                  const Tensor& save_invstd, BatchNormActivation act, Tensor* dx,
                                  bool accumulate_dx, Tensor* dresidual,
                                  bool accumulate_dresidual, Tensor* dweight, Tensor* dbias,
                                  Layout layout) {
  const char* op = "batchnorm_act_backward_train";
  reject_nhwc(op, layout);
  check_backward(op, x, y, dy, weight, save_mean, save_invstd, act, dx, dresidual, dweight, dbias);
  const std::vector<double> mean = save_mean.to_f64_vector(), invstd = save_invstd.to_f64_vector();
  on_float(op, x.dtype(), [&](auto tag) {
    on_activation(act, [&](auto relu) {
      backward_impl<decltype(tag), decltype(relu)::value>(
          x, y, dy, weight, mean.data(), invstd.data(), true, {dx, accumulate_dx},
          {dresidual, accumulate_dresidual}, dweight, dbias);
    });
  });
}

void batchnorm_act_backward_eval(const Tensor& x, const Tensor& y, const Tensor& dy,
                                 const Tensor* weight, const Tensor& running_mean,
                                 const Tensor& running_var, double eps, BatchNormActivation act,
                                 Tensor* dx, bool accumulate_dx, Tensor* dresidual,
                                 bool accumulate_dresidual, Tensor* dweight, Tensor* dbias,
                                 Layout layout) {
  const char* op = "batchnorm_act_backward_eval";
  reject_nhwc(op, layout);
  check_backward(op, x, y, dy, weight, running_mean, running_var, act, dx, dresidual, dweight,
                 dbias);
  const std::vector<double> mean = running_mean.to_f64_vector();
  std::vector<double> invstd = running_var.to_f64_vector();
  for (double& v : invstd) v = 1.0 / std::sqrt(v + eps);
  on_float(op, x.dtype(), [&](auto tag) {
    on_activation(act, [&](auto relu) {
      backward_impl<decltype(tag), decltype(relu)::value>(
          x, y, dy, weight, mean.data(), invstd.data(), false, {dx, accumulate_dx},
          {dresidual, accumulate_dresidual}, dweight, dbias);
    });
  });
}

}  // namespace te::ops::cpu
