// Tensor-level convolutions (kernels/conv2d.h): cuDNN graph API for the convolutions
// (cudnn_conv.cpp), our channel kernels for the bias and its gradient.
//
// Dtypes (matmul_dtypes.h): x, weight and y (dy, weight, dx; x, dy) share one dtype, f32, bf16
// or f16; cuDNN accumulates in f32 for all three. f32 runs exactly as before (f32 bias and
// gradients only). With bf16/f16:
//   bias, dbias:  f32 or the data dtype; added / reduced by our own kernels (lowp_epilogue.cu)
//                 in f32 (sums in double), so y = round(round(conv) + bias).
//   dweight:      the data dtype: cuDNN accumulates (beta 1) by reading the old 16-bit value,
//                 adding in f32 and rounding once; or f32 (a master gradient): the gradient of
//                 this call goes to a 16-bit scratch tensor, which is then added in f32, so
//                 repeated accumulation does not round the running sum to 16 bits.
//   dx (+=):      the data dtype; with accumulate, cuDNN blends in f32 and rounds once.
//
// Channels-last (Layout::NHWC): x, y, dy and dx lie in NHWC memory and are described to cuDNN
// that way; the weight and dweight stay KCRS (cudnn_conv.cpp copies the filter to KRSC for the
// call when cuDNN has no engine for the mix). Bias and dbias for every dtype, f32 included, go
// through the NHWC kernels of lowp_epilogue.cu (the f32 ones in channels.cu assume NCHW).
#include <string>

#include "kernels/cuda/cudnn_conv.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/lowp_epilogue.h"
#include "kernels/cuda/matmul_dtypes.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/tensor_args.h"

namespace te::ops::cuda {
using namespace te::cuda;
namespace {
// The convolution geometry from x [N, C, H, W], w [O, C/G, kh, kw] and y [N, O, OH, OW],
// checked against the parameters.
ConvShape conv_shape(const char* op, const Shape& x, const Shape& w, const Shape& y,
                     const Conv2dParams& p, Layout layout) {
  if (x.rank() != 4 || w.rank() != 4 || y.rank() != 4)
    throw ShapeError(std::string(op) + ": expected 4-D input, weight and output, got " + x.str() +
                     ", " + w.str() + ", " + y.str());
  ConvShape s;
  s.n = x[0];
  s.c = x[1];
  s.h = x[2];
  s.w = x[3];
  s.k = w[0];
  s.r = w[2];
  s.s = w[3];
  s.oh = y[2];
  s.ow = y[3];
  s.groups = p.groups;
  s.stride_h = p.stride_h;
  s.stride_w = p.stride_w;
  s.pad_h = p.pad_h;
  s.pad_w = p.pad_w;
  s.dil_h = p.dilation_h;
  s.dil_w = p.dilation_w;
  s.layout = layout;
  const bool ok = p.groups >= 1 && s.c % p.groups == 0 && s.k % p.groups == 0 &&
                  w[1] == s.c / p.groups && w[2] == p.kernel_h && w[3] == p.kernel_w &&
                  y[0] == s.n && y[1] == s.k &&
                  s.oh == conv_output_size(s.h, p.kernel_h, p.stride_h, p.pad_h, p.dilation_h) &&
                  s.ow == conv_output_size(s.w, p.kernel_w, p.stride_w, p.pad_w, p.dilation_w);
  if (!ok)
    throw ShapeError(std::string(op) + ": input " + x.str() + ", weight " + w.str() +
                     " and output " + y.str() + " do not fit kernel " + std::to_string(p.kernel_h) +
                     "x" + std::to_string(p.kernel_w) + ", stride " + std::to_string(p.stride_h) +
                     "x" + std::to_string(p.stride_w) + ", padding " + std::to_string(p.pad_h) +
                     "x" + std::to_string(p.pad_w) + ", groups " + std::to_string(p.groups));
  return s;
}

// Channels-last bias and bias gradient (any of f32, bf16, f16; the sums in double).
void add_bias_nhwc(void* y, DType dt, const Tensor& bias, const ConvShape& s, const char* op) {
  launch::lowp::add_channel_bias_nhwc(y, dt, gpu_ptr(bias, op, "bias"), bias.dtype(),
                                      s.n * s.oh * s.ow, s.k, compute_stream());
}
void add_bias_grad_nhwc(const void* dy, DType dt, Tensor& db, const ConvShape& s, const char* op) {
  const int64_t m = s.n * s.oh * s.ow;
  const int64_t splits = launch::lowp::channel_sums_nhwc_splits(m, s.k);
  Tensor partials = device_scratch(Shape{splits * s.k}, DType::F64);
  launch::lowp::add_channel_sums_nhwc(dy, dt, m, s.k, static_cast<double*>(partials.raw()),
                                      gpu_ptr(db, op, "dbias"), db.dtype(), compute_stream());
}
}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                    const Conv2dParams& p, Conv2dWorkspace& ws, Layout layout) {
  const char* op = "conv2d_forward";
  const ConvShape s = conv_shape(op, x.shape(), w.shape(), y.shape(), p, layout);
  const DType dt = matmul_dtype(x, op, "x");
  require_dtype(w, dt, op, "weight", "x");
  require_dtype(y, dt, op, "y", "x");
  if (bias) {
    require_f32_or(*bias, dt, op, "bias", "x");
    require_numel(*bias, s.k, op, "bias");
  }
  if (layout == Layout::NHWC) {
    void* yp = gpu_ptr(y, op, "y");
    run_convolution(ConvDirection::Forward, s, dt, gpu_ptr(x, op, "x"), gpu_ptr(w, op, "weight"),
                    yp, 0.0f);
    if (bias) add_bias_nhwc(yp, dt, *bias, s, op);
    return;
  }
  if (dt == DType::F32) {
    const float* xp = f32_ptr(x, op, "x");
    const float* wp = f32_ptr(w, op, "weight");
    float* yp = f32_ptr(y, op, "y");
    const float* bp = bias ? f32_ptr(*bias, op, "bias") : nullptr;
    run_convolution(ConvDirection::Forward, s, xp, wp, yp, 0.0f);
    if (bp) launch::add_channel_bias(yp, bp, s.n, s.k, s.oh * s.ow, compute_stream());
    return;
  }
  const void* xp = gpu_ptr(x, op, "x");
  const void* wp = gpu_ptr(w, op, "weight");
  void* yp = gpu_ptr(y, op, "y");
  const void* bp = bias ? gpu_ptr(*bias, op, "bias") : nullptr;
  run_convolution(ConvDirection::Forward, s, dt, xp, wp, yp, 0.0f);
  if (bp)
    launch::lowp::add_channel_bias(yp, dt, bp, bias->dtype(), s.n, s.k, s.oh * s.ow,
                                   compute_stream());
}

void conv2d_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate,
                           const Conv2dParams& p, Conv2dWorkspace& ws, Layout layout) {
  const char* op = "conv2d_backward_input";
  const ConvShape s = conv_shape(op, dx.shape(), w.shape(), dy.shape(), p, layout);
  const DType dt = matmul_dtype(dy, op, "dy");
  require_dtype(w, dt, op, "weight", "dy");
  require_dtype(dx, dt, op, "dx", "dy");
  const float beta = accumulate ? 1.0f : 0.0f;
  if (dt == DType::F32) {
    run_convolution(ConvDirection::BackwardData, s, f32_ptr(dx, op, "dx"),
                    f32_ptr(w, op, "weight"), f32_ptr(dy, op, "dy"), beta);
    return;
  }
  run_convolution(ConvDirection::BackwardData, s, dt, gpu_ptr(dx, op, "dx"),
                  gpu_ptr(w, op, "weight"), gpu_ptr(dy, op, "dy"), beta);
}

void conv2d_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                            const Conv2dParams& p, Conv2dWorkspace& ws, Layout layout) {
  const char* op = "conv2d_backward_params";
  const ConvShape s = conv_shape(op, x.shape(), dw.shape(), dy.shape(), p, layout);
  const DType dt = matmul_dtype(x, op, "x");
  require_dtype(dy, dt, op, "dy", "x");
  require_f32_or(dw, dt, op, "dweight", "x");
  if (db) {
    require_f32_or(*db, dt, op, "dbias", "x");
    require_numel(*db, s.k, op, "dbias");
  }
  if (dt == DType::F32 && layout == Layout::NCHW) {
    const float* dyp = f32_ptr(dy, op, "dy");
    // Parameter gradients always accumulate (the caller zeroes them once per step).
    run_convolution(ConvDirection::BackwardFilter, s, f32_ptr(x, op, "x"),
                    f32_ptr(dw, op, "dweight"), dyp, 1.0f);
    if (db) {
      float* dbp = f32_ptr(*db, op, "dbias");
      const int64_t hw = s.oh * s.ow;
      const int splits = launch::channel_splits(s.n, s.k, hw, context().sm_count);
      Tensor partials = device_scratch(Shape{s.k * splits * 2}, DType::F64);
      launch::channel_sums(dyp, s.n, s.k, hw, splits, static_cast<double*>(partials.raw()),
                           compute_stream());
      launch::add_channel_partials(static_cast<double*>(partials.raw()), splits, s.k, dbp,
                                   compute_stream());
    }
    return;
  }
  const void* xp = gpu_ptr(x, op, "x");
  const void* dyp = gpu_ptr(dy, op, "dy");
  void* dwp = gpu_ptr(dw, op, "dweight");
  void* dbp = db ? gpu_ptr(*db, op, "dbias") : nullptr;
  if (dw.dtype() == dt) {
    run_convolution(ConvDirection::BackwardFilter, s, dt, xp, dwp, dyp, 1.0f);
  } else if (s.n > 0 && s.k > 0 && s.c > 0) {
    // f32 master gradient: this call's gradient in 16 bits (scratch), then added in f32.
    Tensor part = device_scratch(dw.shape(), dt);
    run_convolution(ConvDirection::BackwardFilter, s, dt, xp, part.raw(), dyp, 0.0f);
    launch::lowp::add_converted(part.raw(), dt, dwp, DType::F32, dw.numel(), compute_stream());
  }
  if (dbp && layout == Layout::NHWC) {
    add_bias_grad_nhwc(dyp, dt, *db, s, op);
  } else if (dbp) {
    launch::lowp::add_channel_sums(dyp, dt, s.n, s.k, s.oh * s.ow, dbp, db->dtype(),
                                   compute_stream());
  }
}

}  // namespace te::ops::cuda
