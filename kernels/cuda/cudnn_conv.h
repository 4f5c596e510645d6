#pragma once
// Convolutions through the cuDNN 9 graph (backend) API: one operation graph per direction
// (forward, backward-data, backward-filter) and shape, an engine chosen once from cuDNN's
// heuristics (filtered by our numerics switches), and the finished execution plan cached.
//
// Why the backend API: in cuDNN 9 the classic cudnnConvolutionForward/BackwardData/
// BackwardFilter and their descriptors are deprecated; the graph API is the supported path.
#include <cstdint>
#include <string>

#include "engine/core/dtype.h"
#include "kernels/layout.h"

namespace te::cuda {

enum class ConvDirection { Forward, BackwardData, BackwardFilter };

// Shapes of a 2-D convolution, written as NCHW dims whatever the memory order; the filter is
// [k, c / groups, r, s] and always lies in memory in that order (KCRS, PyTorch's).
// `layout` is the memory order of x and y (dx, dy): with NHWC they are described to cuDNN with
// channels-last strides. cuDNN does not promise engines for NHWC activations with a KCRS
// filter (its channels-last kernels read KRSC filters): when the heuristics offer none,
// run_convolution keeps a KRSC copy of the filter in scratch for the call (see cudnn_conv.cpp).
struct ConvShape {
  int64_t n = 0, c = 0, h = 0, w = 0;  // input
  int64_t k = 0, r = 0, s = 0;         // output channels, filter height and width
  int64_t oh = 0, ow = 0;              // output
  int64_t groups = 1;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1;
  Layout layout = Layout::NCHW;
};

// Runs one direction. Forward: y = alpha * conv(x, w) + beta * y. BackwardData: dx = ... dy.
// BackwardFilter: dw = ... (x, dy). `beta` must be 0 or 1 (overwrite or accumulate).
// Pointers: forward (x, w, y), backward data (dx, w, dy), backward filter (x, dw, dy).
// `dtype` is the element type of all three: F32, or BF16 / F16 storage; the compute type is f32
// in every case, and a 16-bit output is rounded once from f32 (with beta 1, cuDNN reads the old
// 16-bit value, adds in f32 and rounds the sum). Plans are cached per dtype as well as shape.
// With bf16/f16, engines noted for reduced-precision reductions are never used (the f32 path
// falls back to them when nothing else fits).
void run_convolution(ConvDirection dir, const ConvShape& shape, DType dtype, const void* x,
                     const void* w, const void* y, float beta);
inline void run_convolution(ConvDirection dir, const ConvShape& shape, const float* x,
                            const float* w, const float* y, float beta) {
  run_convolution(dir, shape, DType::F32, x, w, y, beta);
}

// Timed search: when on, a new shape times up to 8 allowed engine configurations on the call's
// own operands (output redirected to scratch) and keeps the fastest, instead of taking the
// heuristics' first choice. Off by default (like torch.backends.cudnn.benchmark).
void set_conv_autotune(bool on);
bool conv_autotune();

// How many plans are cached, and a one-line description of how the graph API is driven
// (device-properties descriptor or handle) for `trainer doctor`.
size_t cached_conv_plans();
std::string conv_backend_mode();

}  // namespace te::cuda
