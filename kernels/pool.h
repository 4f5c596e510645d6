#pragma once
// 2-D pooling (PyTorch's MaxPool2d / AvgPool2d semantics) and global average pooling
// (torchvision's avgpool + flatten: [N, C, H, W] -> [N, C]).
// x, y, dy, dx share one float dtype (CPU f32 or f64; CUDA f32, bf16 or f16); argmax is i32.
// Layout (kernels/layout.h) is the memory order of the 4-D tensors x, y, dy, dx and argmax,
// all of which share it; the global pool's [N, C] output has no layout. NHWC runs on CUDA only
// (the CPU backend throws DeviceError for it). The backend functions default `layout` to NCHW
// too, so the tests that call te::ops::cpu / te::ops::cuda directly stay unchanged.
#include <cstdint>

#include "engine/core/tensor.h"
#include "kernels/dispatch.h"
#include "kernels/layout.h"

namespace te::ops {

struct Pool2dParams {
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;  // max pooling only
  bool ceil_mode = false;
  bool count_include_pad = true;  // average pooling only
};

// PyTorch's pooling_output_shape: with ceil_mode the last window may hang over the end, but
// must start inside the input or its left padding. <= 0 when the window does not fit.
inline int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                                int64_t dilation, bool ceil_mode) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  if (span < 0) return 0;
  int64_t out = span / stride + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

namespace cpu {
// y = max over each window (padding never wins); argmax (i32, y's shape) receives the index
// ih * W + iw of the first maximum in scan order, which gets the whole gradient. The argmax
// convention is the same in both layouts: argmax lies in y's memory order (NHWC: element
// (n, c, oh, ow) at ((n * OH + oh) * OW + ow) * C + c) and holds the spatial index ih * W + iw
// within image n (not a memory offset), so an NHWC argmax permuted to NCHW equals the NCHW one.
// max_pool2d_backward reads it with the same `layout` the forward wrote it with.
void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& argmax, const Pool2dParams& p,
                        Layout layout = Layout::NCHW);
// dx = (or +=) dy routed to the saved argmax positions.
void max_pool2d_backward(const Tensor& dy, const Tensor& argmax, Tensor& dx, bool accumulate,
                         Layout layout = Layout::NCHW);
void avg_pool2d_forward(const Tensor& x, Tensor& y, const Pool2dParams& p,
                        Layout layout = Layout::NCHW);
void avg_pool2d_backward(const Tensor& dy, Tensor& dx, bool accumulate, const Pool2dParams& p,
                         Layout layout = Layout::NCHW);
// y[n, c] = mean of x[n, c, :, :].
void global_avg_pool_forward(const Tensor& x, Tensor& y, Layout layout = Layout::NCHW);
void global_avg_pool_backward(const Tensor& dy, Tensor& dx, bool accumulate,
                              Layout layout = Layout::NCHW);
}  // namespace cpu

#ifdef TE_WITH_CUDA
namespace cuda {
void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& argmax, const Pool2dParams& p,
                        Layout layout = Layout::NCHW);
void max_pool2d_backward(const Tensor& dy, const Tensor& argmax, Tensor& dx, bool accumulate,
                         Layout layout = Layout::NCHW);
void avg_pool2d_forward(const Tensor& x, Tensor& y, const Pool2dParams& p,
                        Layout layout = Layout::NCHW);
void avg_pool2d_backward(const Tensor& dy, Tensor& dx, bool accumulate, const Pool2dParams& p,
                         Layout layout = Layout::NCHW);
void global_avg_pool_forward(const Tensor& x, Tensor& y, Layout layout = Layout::NCHW);
void global_avg_pool_backward(const Tensor& dy, Tensor& dx, bool accumulate,
                              Layout layout = Layout::NCHW);
}  // namespace cuda
#endif

inline void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& argmax, const Pool2dParams& p,
                               Layout layout = Layout::NCHW) {
  TE_DISPATCH(x.device(), max_pool2d_forward, x, y, argmax, p, layout);
}
inline void max_pool2d_backward(const Tensor& dy, const Tensor& argmax, Tensor& dx,
                                bool accumulate, Layout layout = Layout::NCHW) {
  TE_DISPATCH(dy.device(), max_pool2d_backward, dy, argmax, dx, accumulate, layout);
}
inline void avg_pool2d_forward(const Tensor& x, Tensor& y, const Pool2dParams& p,
                               Layout layout = Layout::NCHW) {
  TE_DISPATCH(x.device(), avg_pool2d_forward, x, y, p, layout);
}
inline void avg_pool2d_backward(const Tensor& dy, Tensor& dx, bool accumulate,
                                const Pool2dParams& p, Layout layout = Layout::NCHW) {
  TE_DISPATCH(dy.device(), avg_pool2d_backward, dy, dx, accumulate, p, layout);
}
inline void global_avg_pool_forward(const Tensor& x, Tensor& y, Layout layout = Layout::NCHW) {
  TE_DISPATCH(x.device(), global_avg_pool_forward, x, y, layout);
}
inline void global_avg_pool_backward(const Tensor& dy, Tensor& dx, bool accumulate,
                                     Layout layout = Layout::NCHW) {
  TE_DISPATCH(dy.device(), global_avg_pool_backward, dy, dx, accumulate, layout);
}

}  // namespace te::ops
