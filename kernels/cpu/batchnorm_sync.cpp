// CPU synchronised batch norm (kernels/batchnorm_sync.h): plain loops, threads over channels,
// each channel summed in image order in double (results do not depend on the thread count).
// NCHW only: channels-last is a CUDA layout (kernels/layout.h).
#include "kernels/batchnorm_sync.h"

#include <cmath>
#include <string>

#include "engine/core/parallel.h"
#include "kernels/batchnorm_sync_sums.h"
#include "kernels/cpu/batchnorm_common.h"

namespace te::ops::cpu {
namespace {
using namespace cpu::bn;

Dims checked(const char* op, const Tensor& x, Layout layout, const Tensor* same_shape = nullptr) {
  if (!x.device().is_cpu())
    throw DeviceError(std::string(op) + ": the CPU backend got x on " + x.device().str() +
                      "; pass CPU tensors, or CUDA tensors throughout for the CUDA backend");
  reject_nhwc(op, layout);
  const Dims d = dims_of(op, x);
  check(op, "tensor", same_shape, x.numel(), x.dtype());
  return d;
}

// fn(c, run pointer offset) over the N runs of S values of channel c.
template <typename Fn>
void each_run_of(const Dims& d, int64_t c, Fn&& fn) {
  for (int64_t i = 0; i < d.n; ++i) fn((i * d.c + c) * d.s);
}

template <typename T>
double value(const Tensor* t, int64_t c, double fallback) {
  return t ? static_cast<double>(t->data<T>()[c]) : fallback;
}

}  // namespace

std::vector<double> batchnorm_sync_stats(const Tensor& x, Layout layout) {
  const Dims d = checked("batchnorm_sync_stats", x, layout);
  std::vector<double> out(bn_sync::stats_size(d.c), 0.0);
  out[static_cast<size_t>(2 * d.c)] = static_cast<double>(d.n * d.s);
  on_float("batchnorm_sync_stats", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.data<T>();
    parallel_for(d.c, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double s = 0, q = 0;
        each_run_of(d, c, [&](int64_t off) {
          for (int64_t j = 0; j < d.s; ++j) {
            const double v = in[off + j];
            s += v;
            q += v * v;
          }
        });
        out[static_cast<size_t>(c)] = s;
        out[static_cast<size_t>(d.c + c)] = q;
      }
    });
  });
  return out;
}

void batchnorm_sync_forward(const Tensor& x, const Tensor* weight, const Tensor* bias,
                            const std::vector<double>& global, Tensor& running_mean,
                            Tensor& running_var, Tensor* num_batches_tracked, Tensor& save_mean,
                            Tensor& save_invstd, double eps, double momentum, Tensor& y,
                            Layout layout) {
  const char* op = "batchnorm_sync_forward";
  const Dims d = checked(op, x, layout, &y);
  check_common(op, x, weight, bias, running_mean, running_var, y);
  check(op, "save_mean", &save_mean, d.c, x.dtype());
  check(op, "save_invstd", &save_invstd, d.c, x.dtype());
  const double m = bn_sync::checked_count(op, global, d.c);
  on_float(op, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.data<T>();
    T* out = y.data<T>();
    T *rm = running_mean.data<T>(), *rv = running_var.data<T>();
    T *sm = save_mean.data<T>(), *si = save_invstd.data<T>();
    parallel_for(d.c, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const double mean = global[static_cast<size_t>(c)] / m;
        const double var = std::max(0.0, global[static_cast<size_t>(d.c + c)] / m - mean * mean);
        const double invstd = 1.0 / std::sqrt(var + eps);
        sm[c] = static_cast<T>(mean);
        si[c] = static_cast<T>(invstd);
        rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * mean);
        rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * var * m / (m - 1));
        const Affine<T> f(mean, invstd * value<T>(weight, c, 1.0), value<T>(bias, c, 0.0));
        each_run_of(d, c, [&](int64_t off) {
          for (int64_t j = 0; j < d.s; ++j) out[off + j] = f(in[off + j]);
        });
      }
    });
  });
  if (num_batches_tracked) num_batches_tracked->data<int64_t>()[0] += 1;
}

std::vector<double> batchnorm_sync_backward_sums(const Tensor& x, const Tensor& dy,
                                                 const Tensor& save_mean, const Tensor& save_invstd,
                                                 Layout layout) {
  const char* op = "batchnorm_sync_backward_sums";
  const Dims d = checked(op, x, layout, &dy);
  check(op, "save_mean", &save_mean, d.c, x.dtype());
  check(op, "save_invstd", &save_invstd, d.c, x.dtype());
  std::vector<double> out(bn_sync::backward_sums_size(d.c), 0.0);
  on_float(op, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T *in = x.data<T>(), *g = dy.data<T>();
    parallel_for(d.c, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const double mean = save_mean.data<T>()[c];
        double s = 0, sx = 0;
        each_run_of(d, c, [&](int64_t off) {
          for (int64_t j = 0; j < d.s; ++j) {
            s += g[off + j];
            sx += g[off + j] * (in[off + j] - mean);
          }
        });
        out[static_cast<size_t>(c)] = s;
        out[static_cast<size_t>(d.c + c)] = sx * save_invstd.data<T>()[c];
      }
    });
  });
  return out;
}

void batchnorm_sync_backward(const Tensor& x, const Tensor& dy, const Tensor* weight,
                             const Tensor& save_mean, const Tensor& save_invstd,
                             const std::vector<double>& local, const std::vector<double>& global,
                             double count, Tensor* dx, bool accumulate, Tensor* dweight,
                             Tensor* dbias, Layout layout) {
  const char* op = "batchnorm_sync_backward";
  const Dims d = checked(op, x, layout, &dy);
  check(op, "grad_input", dx, x.numel(), x.dtype());
  check(op, "weight", weight, d.c, x.dtype());
  check(op, "grad_weight", dweight, d.c, x.dtype());
  check(op, "grad_bias", dbias, d.c, x.dtype());
  bn_sync::check_backward_sums(op, local, global, count, d.c);
  on_float(op, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T *in = x.data<T>(), *g = dy.data<T>();
    T* o = dx ? dx->data<T>() : nullptr;
    parallel_for(d.c, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const size_t sc = static_cast<size_t>(c), sq = static_cast<size_t>(d.c + c);
        if (dweight) dweight->data<T>()[c] += static_cast<T>(local[sq]);
        if (dbias) dbias->data<T>()[c] += static_cast<T>(local[sc]);
        if (!o) continue;
        const double mean = save_mean.data<T>()[c], inv = save_invstd.data<T>()[c];
        const double k = value<T>(weight, c, 1.0) * inv;
        // dx = k * dy + e * (x - mean) + f
        const T a = static_cast<T>(k), e = static_cast<T>(-k * inv * global[sq] / count),
                f = static_cast<T>(-k * global[sc] / count), mu = static_cast<T>(mean);
        each_run_of(d, c, [&](int64_t off) {
          for (int64_t j = 0; j < d.s; ++j) {
            const T v = a * g[off + j] + e * (in[off + j] - mu) + f;
            o[off + j] = accumulate ? o[off + j] + v : v;
          }
        });
      }
    });
  });
}

}  // namespace te::ops::cpu
