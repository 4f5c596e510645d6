#pragma once
// 2-D convolution (PyTorch's Conv2d, NCHW): y[n, o] = bias[o] + sum over the input channels of
// o's group and the kernel window of w[o, c, i, j] * x[n, g*C/G + c, oh*sh - ph + i*dh,
// ow*sw - pw + j*dw] (zero outside the image). Weight [O, C/G, kh, kw], bias [O].
// The CPU backend lowers it to im2col + GEMM (kernels/cpu/conv2d.cpp explains the plan).
// Layout (kernels/layout.h) is the memory order of x, y, dx and dy; shapes stay [N, C, H, W].
// The weight is always [O, C/G, kh, kw] in PyTorch's order (checkpoints do not depend on the
// layout). Channels-last (NHWC) runs on CUDA only; the CPU backend throws for it.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/core/tensor.h"
#include "kernels/dispatch.h"
#include "kernels/layout.h"

namespace te::ops {

struct Conv2dParams {
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
};

// Output length along one axis (PyTorch's formula); <= 0 when the window does not fit.
inline int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                                int64_t dilation) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

// Scratch memory a convolution layer keeps between calls, so kernels do not allocate per
// step: on the CPU one block per parallel slot (im2col columns, gathered gradients) and one
// shared block (partial weight gradients). One convolution call at a time per workspace.
class Conv2dWorkspace {
 public:
  // Makes `slots` blocks of at least `bytes` each. Call before the parallel region.
  void prepare_cpu(size_t slots, size_t bytes) {
    const size_t words = (bytes + sizeof(double) - 1) / sizeof(double);
    if (cpu_slots_.size() < slots) cpu_slots_.resize(slots);
    for (auto& s : cpu_slots_)
      if (s.size() < words) s.resize(words);
  }
  template <typename T>
  T* cpu_slot(size_t slot) {
    return reinterpret_cast<T*>(cpu_slots_[slot].data());
  }
  // One block shared by all slots (per-chunk partial weight gradients), grown on demand.
  template <typename T>
  T* cpu_shared(size_t count) {
    const size_t words = (count * sizeof(T) + sizeof(double) - 1) / sizeof(double);
    if (cpu_shared_.size() < words) cpu_shared_.resize(words);
    return reinterpret_cast<T*>(cpu_shared_.data());
  }
  size_t cpu_bytes() const {
    size_t total = cpu_shared_.size() * sizeof(double);
    for (const auto& s : cpu_slots_) total += s.size() * sizeof(double);
    return total;
  }
  // Other backends may cache per-shape state here (descriptors, chosen algorithms).
  std::shared_ptr<void> backend_state;

 private:
  // double elements: aligned for both float and double
  std::vector<std::vector<double>> cpu_slots_;
  std::vector<double> cpu_shared_;
};

namespace cpu {
// y = conv(x, w) + bias (bias may be null). x [N, C, H, W], y [N, O, OH, OW].
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                    const Conv2dParams& p, Conv2dWorkspace& ws,
                    Layout layout = Layout::NCHW);
// dx = (or +=, when accumulate) the gradient w.r.t. x. dx has x's shape.
void conv2d_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate,
                           const Conv2dParams& p, Conv2dWorkspace& ws,
                           Layout layout = Layout::NCHW);
// dw += gradient w.r.t. w; db += gradient w.r.t. bias (db may be null).
void conv2d_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                            const Conv2dParams& p, Conv2dWorkspace& ws,
                            Layout layout = Layout::NCHW);
}  // namespace cpu

#ifdef TE_WITH_CUDA
// CUDA: f32, or bf16/f16 storage with f32 accumulation (x, weight, y / dy, weight, dx / x, dy in
// one dtype; bias, dbias and dweight f32 or that dtype). kernels/cuda/conv2d_ops.cpp has the rules.
// NHWC for all three dtypes; the weight and dweight stay [O, C/G, kh, kw] in memory.
namespace cuda {
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                    const Conv2dParams& p, Conv2dWorkspace& ws,
                    Layout layout = Layout::NCHW);
void conv2d_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate,
                           const Conv2dParams& p, Conv2dWorkspace& ws,
                           Layout layout = Layout::NCHW);
void conv2d_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                            const Conv2dParams& p, Conv2dWorkspace& ws,
                            Layout layout = Layout::NCHW);
}  // namespace cuda
#endif

inline void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y,
                           const Conv2dParams& p, Conv2dWorkspace& ws,
                           Layout layout = Layout::NCHW) {
  TE_DISPATCH(x.device(), conv2d_forward, x, w, bias, y, p, ws, layout);
}
inline void conv2d_backward_input(const Tensor& dy, const Tensor& w, Tensor& dx, bool accumulate,
                                  const Conv2dParams& p, Conv2dWorkspace& ws,
                                  Layout layout = Layout::NCHW) {
  TE_DISPATCH(dy.device(), conv2d_backward_input, dy, w, dx, accumulate, p, ws, layout);
}
inline void conv2d_backward_params(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                                   const Conv2dParams& p, Conv2dWorkspace& ws,
                                   Layout layout = Layout::NCHW) {
  TE_DISPATCH(x.device(), conv2d_backward_params, x, dy, dw, db, p, ws, layout);
}

}  // namespace te::ops
