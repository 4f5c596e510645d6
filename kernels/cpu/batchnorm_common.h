#pragma once
// The CPU batch-norm machinery shared by kernels/cpu/batchnorm.cpp (plain batch norm) and
// kernels/cpu/batchnorm_act.cpp (fused with residual add and activation): shape checks, the
// memory-order traversal, the vectorised per-channel sums, and the three phases
//   forward_train_channels  (statistics, running update, then a per-run apply callback),
//   forward_eval_channels   (running statistics, then the apply callback),
//   backward_channels       (per-channel sums from a callback, parameter gradients, then a
//                            per-run apply callback with the dx coefficients),
// so both kernels compute the statistics and coefficients with the same code and order.
//
// Threads take whole channels (parallel_for over C), so a channel's sums need no reduction
// across threads and results do not depend on the thread count. Within its channel range
// [c0, c1) a thread walks memory in order (image by image; the range's runs of S = H*W values
// are contiguous inside an image), which streams at full memory bandwidth, where
// channel-by-channel order would hop between short runs. Each channel still sums its values in
// image order. Sums are taken in double, in kLanes independent partial sums (a single chain of
// dependent additions would cost an add latency per element) fed by short T-precision block
// sums, so the inner loops vectorise.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/core/parallel.h"
#include "engine/core/tensor.h"
#include "kernels/layout.h"

namespace te::ops::cpu::bn {

// Channels-last is a GPU-only layout (kernels/layout.h).
inline void reject_nhwc(const char* op, Layout layout) {
  if (layout == Layout::NHWC)
    throw DeviceError(std::string(op) + ": channels-last (NHWC) runs on CUDA only");
}

// x viewed as [N, C, S].
struct Dims {
  int64_t n = 0, c = 0, s = 1;
};

inline Dims dims_of(const char* op, const Tensor& x) {
  if (x.rank() < 2) throw ShapeError(std::string(op) + ": input " + x.shape().str() + " needs at least [N, C]");
  Dims d;
  d.n = x.dim(0);
  d.c = x.dim(1);
  for (size_t i = 2; i < x.rank(); ++i) d.s *= x.dim(static_cast<int>(i));
  return d;
}

inline void check(const char* op, const char* what, const Tensor* t, int64_t numel, DType dtype) {
  if (!t) return;
  if (t->numel() != numel || t->dtype() != dtype)
    throw ShapeError(std::string(op) + ": " + what + " is " + t->shape().str() + " " +
                     dtype_name(t->dtype()) + ", expected " + std::to_string(numel) +
                     " elements of " + dtype_name(dtype));
}

// weight, bias (optional), the two per-channel statistics and the full-size `out` against x.
inline void check_common(const char* op, const Tensor& x, const Tensor* weight, const Tensor* bias,
                         const Tensor& stat_a, const Tensor& stat_b, const Tensor& out) {
  const Dims d = dims_of(op, x);
  check(op, "weight", weight, d.c, x.dtype());
  check(op, "bias", bias, d.c, x.dtype());
  check(op, "mean", &stat_a, d.c, x.dtype());
  check(op, "variance", &stat_b, d.c, x.dtype());
  check(op, "output/gradient", &out, x.numel(), x.dtype());
}

template <typename Fn>
void on_float(const char* op, DType t, Fn&& fn) {
  if (t == DType::F32) return fn(float{});
  if (t == DType::F64) return fn(double{});
  throw Error(std::string(op) + ": expects f32 or f64, got " + dtype_name(t));
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

// acc_a += a(v), acc_b += b(v) over the runs p[0][0, s) ... p[K-1][0, s) read together:
// f(v, pa, pb) gets v[k], element(s) of stream k - vectors of kVecLanes<T> in the main loop,
// scalars in the tail - and adds to its partial sums pa, pb. Element j goes to lane
// j % kVecLanes of a T-precision block sum; every kBlock elements the block sums move into
// the double lanes. The order depends on s only.
template <typename T, int K, typename F>
inline void accumulate_runs(const T* const (&p)[K], int64_t s, Lanes& acc_a, Lanes& acc_b,
                            F&& f) {
  constexpr int64_t L = kVecLanes<T>;
  for (int64_t b0 = 0; b0 < s; b0 += kBlock) {
    const int64_t b1 = std::min(s, b0 + kBlock);
    Vec<T> pa = {}, pb = {};
    int64_t j = b0;
    Vec<T> v[K];
    for (; j + L <= b1; j += L) {
      for (int k = 0; k < K; ++k) std::memcpy(&v[k], p[k] + j, sizeof v[k]);
      f(v, pa, pb);
    }
    // The tail works on copies, so pa and pb can stay in registers in the loop above.
    T ta[L], tb[L];
    std::memcpy(ta, &pa, sizeof ta);
    std::memcpy(tb, &pb, sizeof tb);
    for (int64_t l = 0; j < b1; ++j, ++l) {
      T ra = 0, rb = 0;
      T e[K];
      for (int k = 0; k < K; ++k) e[k] = p[k][j];
      f(e, ra, rb);
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
  T operator()(T v) const { return ((v - hi) - lo) * scale + beta; }
};

// Training forward over every channel: batch mean and biased variance, save_mean/save_invstd,
// the running update (unbiased variance), then apply(offset, affine) once per run of S values
// (offset into x and every tensor of x's shape) to write the output.
template <typename T, typename ApplyRun>
void forward_train_channels(const Tensor& x, const Tensor* weight, const Tensor* bias,
                            Tensor& rmean, Tensor& rvar, Tensor& smean, Tensor& sinv, double eps,
                            double momentum, ApplyRun&& apply) {
  const Dims d = dims_of("batchnorm_forward_train", x);
  const int64_t m = d.n * d.s;
  const T* in = x.data<T>();
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
      const T k = in[c * d.s];
      accumulate_runs<T, 1>({in + off}, d.s, sum[c - c0], sq[c - c0],
                            [k](const auto& v, auto& pa, auto& pb) {
                              const auto dev = v[0] - k;
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
    each_run(d, g0, g1, [&](int64_t, int64_t c, int64_t off) { apply(off, affine[c - c0]); });
    });
  });
}

// Eval forward: the affine map of the running statistics, applied run by run as above.
template <typename T, typename ApplyRun>
void forward_eval_channels(const Tensor& x, const Tensor* weight, const Tensor* bias,
                           const Tensor& rmean, const Tensor& rvar, double eps, ApplyRun&& apply) {
  const Dims d = dims_of("batchnorm_forward_eval", x);
  const T *w = ptr<T>(weight), *b = ptr<T>(bias), *rm = rmean.data<T>(), *rv = rvar.data<T>();
  parallel_for(d.c, [&](int64_t c0, int64_t c1) {
    std::vector<Affine<T>> affine;
    for (int64_t c = c0; c < c1; ++c)
      affine.emplace_back(rm[c], (w ? w[c] : 1.0) / std::sqrt(static_cast<double>(rv[c]) + eps),
                          b ? b[c] : 0.0);
    each_run(d, c0, c1, [&](int64_t, int64_t c, int64_t off) { apply(off, affine[c - c0]); });
  });
}

// dx = k * (g - mean_g - xhat * mean_g_xhat) = a * g + e * (x - mu) + f for a channel, where
// g is the gradient reaching the normalisation.
template <typename T>
struct Coef {
  T mu, a, e, f;
};

// Backward over every channel: with xhat = (x - mean) * invstd and g the gradient at the
// normalisation's output,
//   dbias += sum(g), dweight += sum(g * xhat),
//   dx = w * invstd * (g - through_stats * (sum(g) + xhat * sum(g * xhat)) / M)
// where through_stats is 1 for batch statistics (they depend on x) and 0 for running ones.
// sum_run(offset, mu, sum_g, sum_g_dev) adds sum(g) and sum(g * (x - mu)) of one run;
// apply(offset, coef) writes the run's input gradients (called only when `apply_runs`).
// `streams`: the full-size tensors sum_run reads, for the cache grouping.
template <typename T, typename SumRun, typename ApplyRun>
void backward_channels(const Dims& d, int64_t streams, const Tensor* weight, const double* mean,
                       const double* invstd, bool through_stats, Tensor* dweight, Tensor* dbias,
                       bool apply_runs, SumRun&& sum_run, ApplyRun&& apply) {
  const double m = static_cast<double>(d.n * d.s);
  const T* w = ptr<T>(weight);
  T *dw = mut<T>(dweight), *db = mut<T>(dbias);
  parallel_for(d.c, [&](int64_t c0, int64_t c1) {
    // sum(g * xhat) = invstd * sum(g * (x - mean)); x - mean in T (exact for nearby values).
    const size_t nc = static_cast<size_t>(c1 - c0);
    std::vector<Lanes> sum_g(nc), sum_g_dev(nc);
    std::vector<Coef<T>> coef(nc);
    each_group<T>(d, c0, c1, streams, [&](int64_t g0, int64_t g1) {
    each_run(d, g0, g1, [&](int64_t, int64_t c, int64_t off) {
      sum_run(off, static_cast<T>(mean[c]), sum_g[c - c0], sum_g_dev[c - c0]);
    });
    for (int64_t c = g0; c < g1; ++c) {
      const double inv = invstd[c];
      const double s_g = sum_g[c - c0].total(), s_g_xhat = sum_g_dev[c - c0].total() * inv;
      if (dw) dw[c] += static_cast<T>(s_g_xhat);
      if (db) db[c] += static_cast<T>(s_g);
      const double k = (w ? w[c] : 1.0) * inv;
      coef[c - c0] = {static_cast<T>(mean[c]), static_cast<T>(k),
                      static_cast<T>(through_stats ? -k * inv * s_g_xhat / m : 0.0),
                      static_cast<T>(through_stats ? -k * s_g / m : 0.0)};
    }
    if (!apply_runs) return;
    each_run(d, g0, g1, [&](int64_t, int64_t c, int64_t off) { apply(off, coef[c - c0]); });
    });
  });
}

}  // namespace te::ops::cpu::bn
