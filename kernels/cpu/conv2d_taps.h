#pragma once
// Stride-1 convolution as one GEMM per kernel tap, on a zero-padded copy of the image:
// y[:, q] = sum over taps (i, j) of W_ij[O, C] x xpad[:, q + i*dh*Wp + j*dw], where q runs
// over the padded width (q = oh * Wp + ow; the Wp - OW extra columns per row are computed and
// dropped). Each tap's B operand is a plain strided view of xpad, so no im2col matrix is
// built; with OpenBLAS this runs early ResNet layers (64-128 channels, 28-56 px) 1.5x faster
// than im2col + one big GEMM. The input gradient is the same scheme on the padded output
// gradient with flipped taps; the weight gradient is one GEMM per tap and image, accumulated
// in image order within a fixed number of batch chunks, whose partials are then summed.
#include "kernels/cpu/conv2d_plan.h"

namespace te::ops::cpu::conv_detail {

enum class ConvPass { Forward, InputGrad, WeightGrad };

// Whether the tap scheme suits this shape and pass: groups 1, stride 1, a kernel larger than
// 1x1, >= 128 computed columns per image of which at most ~20% are dropped; for forward and
// weight gradient, >= 8 input channels (fewer: im2col is faster); for the input
// gradient, padding within the dilated kernel's reach; for the weight gradient, per-image
// partial gradients no larger than an image's column matrix (their sum costs a pass).
bool taps_suit(const Plan& pl, ConvPass pass);

template <typename T>
void taps_forward(const T* x, const T* w, const T* bias, T* y, const Plan& pl, Conv2dWorkspace& ws);
template <typename T>
void taps_backward_input(const T* dy, const T* w, T* dx, bool accumulate, const Plan& pl,
                         Conv2dWorkspace& ws);
// dw += the weight gradient.
template <typename T>
void taps_weight_grad(const T* x, const T* dy, T* dw, const Plan& pl, Conv2dWorkspace& ws);

}  // namespace te::ops::cpu::conv_detail
