// Pooling on the CPU: threads over (image, channel) planes, which are independent, so results
// do not depend on the thread count. Window bounds follow PyTorch's CPU kernels exactly.
#include "kernels/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/core/error.h"
#include "engine/core/parallel.h"

namespace te::ops::cpu {
namespace {

struct Planes {
  int64_t planes, h, w, oh, ow;
};

Planes planes_of(const Shape& x, const Shape& y, const char* op) {
  if (x.rank() != 4 || y.rank() != 4 || x[0] != y[0] || x[1] != y[1])
    throw ShapeError(std::string(op) +
                     ": expected input [N, C, H, W] and output [N, C, OH, OW], got " + x.str() +
                     " and " + y.str());
  return {x[0] * x[1], x[2], x[3], y[2], y[3]};
}

void require_output(const Planes& d, const Pool2dParams& p, const char* op, const Shape& y,
                    int64_t dil_h, int64_t dil_w) {
  const int64_t oh = pool_output_size(d.h, p.kernel_h, p.stride_h, p.pad_h, dil_h, p.ceil_mode);
  const int64_t ow = pool_output_size(d.w, p.kernel_w, p.stride_w, p.pad_w, dil_w, p.ceil_mode);
  if (oh != d.oh || ow != d.ow)
    throw ShapeError(std::string(op) + ": output " + y.str() +
                     " does not match the pooling of the input (expected " + std::to_string(oh) +
                     "x" + std::to_string(ow) + " positions)");
}

// Channels-last pooling is a GPU-only option (kernels/layout.h).
void require_nchw(const char* op, Layout layout) {
  if (layout != Layout::NCHW)
    throw DeviceError(std::string(op) + ": channels-last (NHWC) runs on CUDA only");
}

[[noreturn]] void unsupported(const char* op, DType t) {
  throw Error(std::string(op) + ": unsupported dtype " + dtype_name(t) + " (expected f32 or f64)");
}

// Strictly greater keeps the first maximum; NaN propagates (as in PyTorch). Written as
// selects (conditional moves): on real data the comparison is unpredictable, and branch
// misses cost more than the loads.
template <typename T>
inline void take_max(T v, int64_t at, T& best_value, int64_t& best) {
  const bool take = (v > best_value) | (v != v);
  best_value = take ? v : best_value;
  best = take ? at : best;
}

// Outputs [lo, hi) of one output row whose windows lie inside the plane, undilated, rows
// h0 .. h0 + kernel_h - 1: window elements in scan order, each over the whole output range
// (vectorisable), with the same comparisons as take_max in the same order per output, so
// the same result as the general loop.
template <typename T>
void max_inside_row(const T* in, int64_t w, int64_t h0, int64_t lo, int64_t hi,
                    const Pool2dParams& p, T* y, int32_t* arg) {
  const int64_t s = p.stride_w;
  for (int64_t i = 0; i < p.kernel_h; ++i)
    for (int64_t j = 0; j < p.kernel_w; ++j) {
      const int64_t base = (h0 + i) * w + j - p.pad_w;  // element (i, j) of output 0's window
      const T* r = in + base;
      if (i == 0 && j == 0) {
        for (int64_t ow = lo; ow < hi; ++ow) {
          y[ow] = r[ow * s];
          arg[ow] = static_cast<int32_t>(base + ow * s);
        }
        continue;
      }
      for (int64_t ow = lo; ow < hi; ++ow) {
        const T v = r[ow * s];
        const bool take = (v > y[ow]) | (v != v);
        y[ow] = take ? v : y[ow];
        arg[ow] = take ? static_cast<int32_t>(base + ow * s) : arg[ow];
      }
    }
}

// One output row of the 2x2, stride-2 pool whose windows all lie inside the input: rows r0
// and r1 = r0 + w of the input, flat index of r0[0] is `base`. The same comparisons as
// take_max in the same order, on 32-bit indices, so the loop can be vectorised.
template <typename T>
void max_2x2_row(const T* r0, const T* r1, int64_t count, int32_t base, int32_t w, T* y,
                 int32_t* arg) {
  for (int64_t ow = 0; ow < count; ++ow) {
    const int32_t at = base + 2 * static_cast<int32_t>(ow);
    T best = r0[2 * ow];
    int32_t idx = at;
    const T v1 = r0[2 * ow + 1], v2 = r1[2 * ow], v3 = r1[2 * ow + 1];
    bool take = (v1 > best) | (v1 != v1);
    best = take ? v1 : best;
    idx = take ? at + 1 : idx;
    take = (v2 > best) | (v2 != v2);
    best = take ? v2 : best;
    idx = take ? at + w : idx;
    take = (v3 > best) | (v3 != v3);
    best = take ? v3 : best;
    idx = take ? at + w + 1 : idx;
    y[ow] = best;
    arg[ow] = idx;
  }
}

template <typename T>
void max_forward_impl(const Tensor& xt, Tensor& yt, Tensor& at, const Pool2dParams& p) {
  const Planes d = planes_of(xt.shape(), yt.shape(), "max_pool2d");
  require_output(d, p, "max_pool2d", yt.shape(), p.dilation_h, p.dilation_w);
  if (at.shape() != yt.shape() || at.dtype() != DType::I32)
    throw ShapeError("max_pool2d: argmax must be i32 of the output's shape " + yt.shape().str());
  const T* x = xt.data<T>();
  T* y = yt.data<T>();
  int32_t* arg = at.data<int32_t>();
  const bool undilated = p.dilation_h == 1 && p.dilation_w == 1;
  const bool pool_2x2 = undilated && p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 &&
                        p.stride_w == 2 && p.pad_h == 0 && p.pad_w == 0 && 2 * d.oh <= d.h &&
                        2 * d.ow <= d.w;
  parallel_for(d.planes, [&](int64_t begin, int64_t end) {
    for (int64_t pl = begin; pl < end; ++pl) {
      const T* in = x + pl * d.h * d.w;
      if (pool_2x2) {  // every window inside (floor mode): whole rows at once
        for (int64_t oh = 0; oh < d.oh; ++oh) {
          const int64_t o = (pl * d.oh + oh) * d.ow;
          max_2x2_row(in + 2 * oh * d.w, in + (2 * oh + 1) * d.w, d.ow,
                      static_cast<int32_t>(2 * oh * d.w), static_cast<int32_t>(d.w), y + o,
                      arg + o);
        }
        continue;
      }
      for (int64_t oh = 0; oh < d.oh; ++oh) {
        int64_t h0 = oh * p.stride_h - p.pad_h;
        const int64_t row = (pl * d.oh + oh) * d.ow;
        // Outputs [lo, hi) of a row inside the plane take the fast path; the rest clip.
        int64_t lo = 0, hi = 0;
        if (undilated && h0 >= 0 && h0 + p.kernel_h <= d.h) {
          lo = std::min(d.ow, (p.pad_w + p.stride_w - 1) / p.stride_w);
          hi = d.w + p.pad_w >= p.kernel_w ? (d.w + p.pad_w - p.kernel_w) / p.stride_w + 1 : 0;
          hi = std::max(lo, std::min(hi, d.ow));
          max_inside_row(in, d.w, h0, lo, hi, p, y + row, arg + row);
        }
        const int64_t h1 = std::min(h0 + (p.kernel_h - 1) * p.dilation_h + 1, d.h);
        while (h0 < 0) h0 += p.dilation_h;
        for (int64_t ow = 0; ow < d.ow; ++ow) {
          if (ow == lo && hi > lo) ow = hi;  // done above
          if (ow >= d.ow) break;
          int64_t w0 = ow * p.stride_w - p.pad_w;
          const int64_t w1 = std::min(w0 + (p.kernel_w - 1) * p.dilation_w + 1, d.w);
          while (w0 < 0) w0 += p.dilation_w;
          int64_t best = h0 * d.w + w0;
          T best_value = -std::numeric_limits<T>::infinity();
          for (int64_t ih = h0; ih < h1; ih += p.dilation_h)
            for (int64_t iw = w0; iw < w1; iw += p.dilation_w)
              take_max(in[ih * d.w + iw], ih * d.w + iw, best_value, best);
          y[row + ow] = best_value;
          arg[row + ow] = static_cast<int32_t>(best);
        }
      }
    }
  });
}

template <typename T>
void max_backward_impl(const Tensor& dyt, const Tensor& at, Tensor& dxt, bool accumulate) {
  const Planes d = planes_of(dxt.shape(), dyt.shape(), "max_pool2d backward");
  if (at.shape() != dyt.shape() || at.dtype() != DType::I32)
    throw ShapeError("max_pool2d backward: saved argmax " + at.shape().str() +
                     " does not match the output gradient " + dyt.shape().str() +
                     " (was forward run with this batch?)");
  const T* dy = dyt.data<T>();
  const int32_t* arg = at.data<int32_t>();
  T* dx = dxt.data<T>();
  const int64_t outs = d.oh * d.ow, ins = d.h * d.w;
  parallel_for(d.planes, [&](int64_t begin, int64_t end) {
    for (int64_t pl = begin; pl < end; ++pl) {
      T* g = dx + pl * ins;
      if (!accumulate) std::fill(g, g + ins, T(0));
      for (int64_t o = 0; o < outs; ++o) g[arg[pl * outs + o]] += dy[pl * outs + o];
    }
  });
}

// The window of output (oh, ow) clipped to the input, and PyTorch's divisor for it.
struct AvgWindow {
  int64_t h0, h1, w0, w1;
  int64_t divisor;
};

AvgWindow avg_window(const Planes& d, const Pool2dParams& p, int64_t oh, int64_t ow) {
  int64_t h0 = oh * p.stride_h - p.pad_h, w0 = ow * p.stride_w - p.pad_w;
  int64_t h1 = std::min(h0 + p.kernel_h, d.h + p.pad_h),
          w1 = std::min(w0 + p.kernel_w, d.w + p.pad_w);
  const int64_t padded_size = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, d.h);
  w1 = std::min(w1, d.w);
  const int64_t inside = std::max<int64_t>(0, h1 - h0) * std::max<int64_t>(0, w1 - w0);
  return {h0, h1, w0, w1, p.count_include_pad ? padded_size : inside};
}

template <typename T>
void avg_forward_impl(const Tensor& xt, Tensor& yt, const Pool2dParams& p) {
  const Planes d = planes_of(xt.shape(), yt.shape(), "avg_pool2d");
  require_output(d, p, "avg_pool2d", yt.shape(), 1, 1);
  const T* x = xt.data<T>();
  T* y = yt.data<T>();
  parallel_for(d.planes, [&](int64_t begin, int64_t end) {
    for (int64_t pl = begin; pl < end; ++pl) {
      const T* in = x + pl * d.h * d.w;
      for (int64_t oh = 0; oh < d.oh; ++oh)
        for (int64_t ow = 0; ow < d.ow; ++ow) {
          const AvgWindow win = avg_window(d, p, oh, ow);
          T s = 0;
          for (int64_t ih = win.h0; ih < win.h1; ++ih)
            for (int64_t iw = win.w0; iw < win.w1; ++iw) s += in[ih * d.w + iw];
          y[(pl * d.oh + oh) * d.ow + ow] =
              win.divisor > 0 ? s / static_cast<T>(win.divisor) : T(0);
        }
    }
  });
}

template <typename T>
void avg_backward_impl(const Tensor& dyt, Tensor& dxt, bool accumulate, const Pool2dParams& p) {
  const Planes d = planes_of(dxt.shape(), dyt.shape(), "avg_pool2d backward");
  require_output(d, p, "avg_pool2d backward", dyt.shape(), 1, 1);
  const T* dy = dyt.data<T>();
  T* dx = dxt.data<T>();
  parallel_for(d.planes, [&](int64_t begin, int64_t end) {
    for (int64_t pl = begin; pl < end; ++pl) {
      T* g = dx + pl * d.h * d.w;
      if (!accumulate) std::fill(g, g + d.h * d.w, T(0));
      for (int64_t oh = 0; oh < d.oh; ++oh)
        for (int64_t ow = 0; ow < d.ow; ++ow) {
          const AvgWindow win = avg_window(d, p, oh, ow);
          if (win.divisor <= 0) continue;
          const T share = dy[(pl * d.oh + oh) * d.ow + ow] / static_cast<T>(win.divisor);
          for (int64_t ih = win.h0; ih < win.h1; ++ih)
            for (int64_t iw = win.w0; iw < win.w1; ++iw) g[ih * d.w + iw] += share;
        }
    }
  });
}

void require_global(const Shape& x, const Shape& y, const char* op) {
  if (x.rank() != 4 || y != Shape{x[0], x[1]})
    throw ShapeError(std::string(op) + ": expected input [N, C, H, W] and output [N, C], got " +
                     x.str() + " and " + y.str());
}

template <typename T>
void global_forward_impl(const Tensor& xt, Tensor& yt) {
  require_global(xt.shape(), yt.shape(), "global_avg_pool");
  const int64_t planes = xt.dim(0) * xt.dim(1), hw = xt.dim(2) * xt.dim(3);
  const T* x = xt.data<T>();
  T* y = yt.data<T>();
  parallel_for(planes, [&](int64_t begin, int64_t end) {
    for (int64_t pl = begin; pl < end; ++pl) {
      double s = 0;
      for (int64_t i = 0; i < hw; ++i) s += x[pl * hw + i];
      y[pl] = static_cast<T>(s / static_cast<double>(hw));
    }
  });
}

template <typename T>
void global_backward_impl(const Tensor& dyt, Tensor& dxt, bool accumulate) {
  require_global(dxt.shape(), dyt.shape(), "global_avg_pool backward");
  const int64_t planes = dxt.dim(0) * dxt.dim(1), hw = dxt.dim(2) * dxt.dim(3);
  const T* dy = dyt.data<T>();
  T* dx = dxt.data<T>();
  parallel_for(planes, [&](int64_t begin, int64_t end) {
    for (int64_t pl = begin; pl < end; ++pl) {
      const T share = dy[pl] / static_cast<T>(hw);
      T* g = dx + pl * hw;
      if (accumulate)
        for (int64_t i = 0; i < hw; ++i) g[i] += share;
      else
        std::fill(g, g + hw, share);
    }
  });
}

}  // namespace

void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& argmax, const Pool2dParams& p,
                        Layout layout) {
  require_nchw("max_pool2d_forward", layout);
  switch (x.dtype()) {
    case DType::F32:
      return max_forward_impl<float>(x, y, argmax, p);
    case DType::F64:
      return max_forward_impl<double>(x, y, argmax, p);
    default:
      unsupported("max_pool2d_forward", x.dtype());
  }
}

void max_pool2d_backward(const Tensor& dy, const Tensor& argmax, Tensor& dx, bool accumulate,
                         Layout layout) {
  require_nchw("max_pool2d_backward", layout);
  switch (dy.dtype()) {
    case DType::F32:
      return max_backward_impl<float>(dy, argmax, dx, accumulate);
    case DType::F64:
      return max_backward_impl<double>(dy, argmax, dx, accumulate);
    default:
      unsupported("max_pool2d_backward", dy.dtype());
  }
}

void avg_pool2d_forward(const Tensor& x, Tensor& y, const Pool2dParams& p, Layout layout) {
  require_nchw("avg_pool2d_forward", layout);
  switch (x.dtype()) {
    case DType::F32:
      return avg_forward_impl<float>(x, y, p);
    case DType::F64:
      return avg_forward_impl<double>(x, y, p);
    default:
      unsupported("avg_pool2d_forward", x.dtype());
  }
}

void avg_pool2d_backward(const Tensor& dy, Tensor& dx, bool accumulate, const Pool2dParams& p,
                         Layout layout) {
  require_nchw("avg_pool2d_backward", layout);
  switch (dy.dtype()) {
    case DType::F32:
      return avg_backward_impl<float>(dy, dx, accumulate, p);
    case DType::F64:
      return avg_backward_impl<double>(dy, dx, accumulate, p);
    default:
      unsupported("avg_pool2d_backward", dy.dtype());
  }
}

void global_avg_pool_forward(const Tensor& x, Tensor& y, Layout layout) {
  require_nchw("global_avg_pool_forward", layout);
  switch (x.dtype()) {
    case DType::F32:
      return global_forward_impl<float>(x, y);
    case DType::F64:
      return global_forward_impl<double>(x, y);
    default:
      unsupported("global_avg_pool_forward", x.dtype());
  }
}

void global_avg_pool_backward(const Tensor& dy, Tensor& dx, bool accumulate, Layout layout) {
  require_nchw("global_avg_pool_backward", layout);
  switch (dy.dtype()) {
    case DType::F32:
      return global_backward_impl<float>(dy, dx, accumulate);
    case DType::F64:
      return global_backward_impl<double>(dy, dx, accumulate);
    default:
      unsupported("global_avg_pool_backward", dy.dtype());
  }
}

}  // namespace te::ops::cpu
