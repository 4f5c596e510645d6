// Tensor-level convolutions (kernels/conv2d.h): cuDNN graph API for the convolutions
// (cudnn_conv.cpp), our channel kernels for the bias and its gradient.
#include <string>

#include "kernels/cuda/cudnn_conv.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/tensor_args.h"

namespace te::ops::cuda {
using namespace te::cuda;
namespace {
// The convolution geometry from x [N, C, H, W], w [O, C/G, kh, kw] and y [N, O, OH, OW],
// checked against the parameters.
ConvShape conv_shape(const char* op, const Shape& x, const Shape& w, const Shape& y,
                     const Conv2dParams& p) {
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
}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                    const Conv2dParams& p, Conv2dWorkspace& ws) {
  const char* op = "conv2d_forward";
  const ConvShape s = conv_shape(op, x.shape(), w.shape(), y.shape(), p);
  const float* xp = f32_ptr(x, op, "x");
  const float* wp = f32_ptr(w, op, "weight");
  float* yp = f32_ptr(y, op, "y");
  const float* bp = nullptr;
  if (bias) {
    require_numel(*bias, s.k, op, "bias");
    bp = f32_ptr(*bias, op, "bias");
  }
  run_convolution(ConvDirection::Forward, s, xp, wp, yp, 0.0f);
  if (bp) launch::add_channel_bias(yp, bp, s.n, s.k, s.oh * s.ow, compute_stream());
}

void conv2d_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate,
                           const Conv2dParams& p, Conv2dWorkspace& ws) {
  const char* op = "conv2d_backward_input";
  const ConvShape s = conv_shape(op, dx.shape(), w.shape(), dy.shape(), p);
  run_convolution(ConvDirection::BackwardData, s, f32_ptr(dx, op, "dx"), f32_ptr(w, op, "weight"),
                  f32_ptr(dy, op, "dy"), accumulate ? 1.0f : 0.0f);
}

void conv2d_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                            const Conv2dParams& p, Conv2dWorkspace& ws) {
  const char* op = "conv2d_backward_params";
  const ConvShape s = conv_shape(op, x.shape(), dw.shape(), dy.shape(), p);
  const float* dyp = f32_ptr(dy, op, "dy");
  // Parameter gradients always accumulate (the caller zeroes them once per step).
  run_convolution(ConvDirection::BackwardFilter, s, f32_ptr(x, op, "x"), f32_ptr(dw, op, "dweight"),
                  dyp, 1.0f);
  if (db) {
    require_numel(*db, s.k, op, "dbias");
    float* dbp = f32_ptr(*db, op, "dbias");
    const int64_t hw = s.oh * s.ow;
    const int splits = launch::channel_splits(s.n, s.k, hw, context().sm_count);
    Tensor partials = device_scratch(Shape{s.k * splits * 2}, DType::F64);
    launch::channel_sums(0, dyp, nullptr, nullptr, nullptr, s.n, s.k, hw, splits,
                         static_cast<double*>(partials.raw()), compute_stream());
    launch::add_channel_partials(static_cast<double*>(partials.raw()), splits, s.k, dbp,
                                 compute_stream());
  }
}

}  // namespace te::ops::cuda
