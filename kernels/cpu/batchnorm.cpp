// CPU batch normalisation. Threads take whole channels (parallel_for over C), so a channel's
// sums need no reduction across threads and results do not depend on the thread count.
// Within its channel range [c0, c1) a thread walks memory in order (image by image; the
// range's runs of S = H*W values are contiguous inside an image), which streams at full
// memory bandwidth, where channel-by-channel order would hop between short runs. Each
// channel still sums its values in image order. Sums are taken in double, in kLanes
// independent partial sums (a single chain of dependent additions would cost an add latency
// per element) fed by short T-precision block sums, so the inner loops vectorise.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

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

// Calls fn(i, c, offset) over images i and channels [c0, c1), in memory order.
template <typename Fn>
void each_run(const Dims& d, int64_t c0, int64_t c1, Fn&& fn) {
  for (int64_t i = 0; i < d.n; ++i)
    for (int64_t c = c0; c < c1; ++c) fn(i, c, (i * d.c + c) * d.s);
}

// Calls fn(g0, g1) over groups of channels in [c0, c1) whose values (`streams` tensors of
// them) fit ~1 MB, so a second pass over a group finds it in the L2 cache instead of memory.
// Only the traversal changes: every channel still sums its values in image order.
template <typename T, typename Fn>
void each_group(const Dims& d, int64_t c0, int64_t c1, int64_t streams, Fn&& fn) {
  constexpr int64_t kCacheBytes = int64_t{1} << 20;
  const int64_t per_channel = std::max<int64_t>(1, d.n * d.s * streams * int64_t{sizeof(T)});
  const int64_t group = std::clamp<int64_t>(kCacheBytes / per_channel, 1, std::max<int64_t>(1, c1 - c0));
  for (int64_t g0 = c0; g0 < c1; g0 += group) fn(g0, std::min(c1, g0 + group));
}

constexpr int kLanes = 8;
// Elements summed in T (float for f32) before the partial sums move into double: short
// float sums keep the inner loops in single precision (twice the SIMD width, no
// conversions) and lose nothing measurable; the long sums over the batch stay in double.
constexpr int64_t kBlock = 256;

// kLanes partial sums; total() adds them in a fixed order.
struct Lanes {
  double v[kLanes] = {};
  double total() const {
    double t = 0;
    for (double x : v) t += x;
    return t;
  }
};

// 32 bytes of T (GCC/Clang vector extension): 8 floats or 4 doubles, whatever the target's
// SIMD width, so the lane of every element - and so every sum - is the same on every machine.
// (Vectors travel by reference: by value they would change the ABI between SIMD targets.)
typedef float VecF __attribute__((vector_size(32)));
typedef double VecD __attribute__((vector_size(32)));
template <typename T>
struct VecOf;
template <>
struct VecOf<float> {
  using type = VecF;
};
template <>
struct VecOf<double> {
  using type = VecD;
};
template <typename T>
using Vec = typename VecOf<T>::type;
template <typename T>
constexpr int64_t kVecLanes = 32 / sizeof(T);
static_assert(kVecLanes<float> <= kLanes);

// acc_a += a(x), acc_b += b(x) over the run x[0, s) (and y[0, s) for two-input statistics):
// element j goes to lane j % kVecLanes of a T-precision block sum; every kBlock elements the
// block sums move into the double lanes. The order depends on s only.
template <typename T, typename F>
inline void accumulate_run2(const T* x, const T* y, int64_t s, Lanes& acc_a, Lanes& acc_b,
                            F&& f) {
  constexpr int64_t L = kVecLanes<T>;
  for (int64_t b0 = 0; b0 < s; b0 += kBlock) {
    const int64_t b1 = std::min(s, b0 + kBlock);
    Vec<T> pa = {}, pb = {};
    int64_t j = b0;
    Vec<T> xv, yv = {};
    for (; j + L <= b1; j += L) {
      std::memcpy(&xv, x + j, sizeof xv);
      if (y) std::memcpy(&yv, y + j, sizeof yv);
      f(xv, yv, pa, pb);
    }
    // The tail works on copies, so pa and pb can stay in registers in the loop above.
    T ta[L], tb[L];
    std::memcpy(ta, &pa, sizeof ta);
    std::memcpy(tb, &pb, sizeof tb);
    for (int64_t l = 0; j < b1; ++j, ++l) {
      T ra = 0, rb = 0;
      f(x[j], y ? y[j] : T(0), ra, rb);
      ta[l] += ra;
      tb[l] += rb;
    }
    for (int64_t l = 0; l < L; ++l) {
      acc_a.v[l] += ta[l];
      acc_b.v[l] += tb[l];
    }
  }
}

// o = (v - mean) * scale + beta over a run, in T. The mean is split into hi + lo parts in T:
// v - hi is exact for values near the mean, so a large mean with a small spread keeps its
// precision (v * scale + shift would cancel catastrophically in float).
template <typename T>
struct Affine {
  T hi, lo, scale, beta;
  Affine(double mean, double scale_, double beta_)
      : hi(static_cast<T>(mean)),
        lo(static_cast<T>(mean - static_cast<double>(static_cast<T>(mean)))),
        scale(static_cast<T>(scale_)),
        beta(static_cast<T>(beta_)) {}
};

template <typename T>
inline void affine_run(const T* v, T* o, int64_t s, const Affine<T>& f) {
  for (int64_t j = 0; j < s; ++j) o[j] = ((v[j] - f.hi) - f.lo) * f.scale + f.beta;
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
    // One pass for both sums, of deviations from the channel's first value K: with K inside
    // the data, sum((x-K)^2) - sum(x-K)^2/m does not cancel the way E[x^2] - E[x]^2 does for
    // a large mean, and x - K is exact in T for nearby values.
    const size_t nc = static_cast<size_t>(c1 - c0);
    std::vector<Lanes> sum(nc), sq(nc);
    std::vector<Affine<T>> affine;
    affine.reserve(nc);
    each_group<T>(d, c0, c1, 1, [&](int64_t g0, int64_t g1) {
    each_run(d, g0, g1, [&](int64_t, int64_t c, int64_t off) {
      const T* v = in + off;
      const T k = in[c * d.s];
      accumulate_run2<T>(v, nullptr, d.s, sum[c - c0], sq[c - c0],
                         [k](const auto& xv, const auto&, auto& pa, auto& pb) {
                           const auto dev = xv - k;
                           pa += dev;
                           pb += dev * dev;
                         });
    });
    for (int64_t c = g0; c < g1; ++c) {
      const double mean_dev = sum[c - c0].total() / m;
      const double mean = static_cast<double>(in[c * d.s]) + mean_dev;
      const double var = std::max(0.0, sq[c - c0].total() / m - mean_dev * mean_dev);
      const double invstd = 1.0 / std::sqrt(var + eps);
      sm[c] = static_cast<T>(mean);
      si[c] = static_cast<T>(invstd);
      rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * mean);
      rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * var * m / (m - 1));
      affine.emplace_back(mean, invstd * (w ? w[c] : 1.0), b ? b[c] : 0.0);
    }
    each_run(d, g0, g1, [&](int64_t, int64_t c, int64_t off) {
      affine_run(in + off, out + off, d.s, affine[c - c0]);
    });
    });
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
    std::vector<Affine<T>> affine;
    for (int64_t c = c0; c < c1; ++c)
      affine.emplace_back(rm[c], (w ? w[c] : 1.0) / std::sqrt(static_cast<double>(rv[c]) + eps),
                          b ? b[c] : 0.0);
    each_run(d, c0, c1, [&](int64_t, int64_t c, int64_t off) {
      affine_run(in + off, out + off, d.s, affine[c - c0]);
    });
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
    // sum(dy * xhat) = invstd * sum(dy * (x - mean)); x - mean in T (exact for nearby values).
    const size_t nc = static_cast<size_t>(c1 - c0);
    std::vector<Lanes> sum_dy(nc), sum_dy_dev(nc);
    // dx = k * (dy - mean_dy - xhat * mean_dy_xhat) = a * dy + e * (x - mean) + f.
    struct Coef {
      T mu, a, e, f;
    };
    std::vector<Coef> coef(nc);
    each_group<T>(d, c0, c1, 2, [&](int64_t g0, int64_t g1) {
    each_run(d, g0, g1, [&](int64_t, int64_t c, int64_t off) {
      const T *v = in + off, *gv = g + off;
      const T mu = static_cast<T>(mean[c]);
      accumulate_run2<T>(v, gv, d.s, sum_dy[c - c0], sum_dy_dev[c - c0],
                         [mu](const auto& xv, const auto& gv_, auto& pa, auto& pb) {
                           pa += gv_;
                           pb += gv_ * (xv - mu);
                         });
    });
    for (int64_t c = g0; c < g1; ++c) {
      const double inv = invstd[c];
      const double s_dy = sum_dy[c - c0].total(), s_dy_xhat = sum_dy_dev[c - c0].total() * inv;
      if (dw) dw[c] += static_cast<T>(s_dy_xhat);
      if (db) db[c] += static_cast<T>(s_dy);
      const double k = (w ? w[c] : 1.0) * inv;
      coef[c - c0] = {static_cast<T>(mean[c]), static_cast<T>(k),
                      static_cast<T>(through_stats ? -k * inv * s_dy_xhat / m : 0.0),
                      static_cast<T>(through_stats ? -k * s_dy / m : 0.0)};
    }
    if (!dxp) return;
    each_run(d, g0, g1, [&](int64_t, int64_t c, int64_t off) {
      const T *v = in + off, *gv = g + off;
      T* o = dxp + off;
      const Coef q = coef[c - c0];
      if (accumulate) {
        for (int64_t j = 0; j < d.s; ++j) o[j] += q.a * gv[j] + q.e * (v[j] - q.mu) + q.f;
      } else {
        for (int64_t j = 0; j < d.s; ++j) o[j] = q.a * gv[j] + q.e * (v[j] - q.mu) + q.f;
      }
    });
    });
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
