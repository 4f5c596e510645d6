#pragma once
// Batch normalisation of images for the network input: uint8 NHWC (as the data loader collates
// them) -> float activations, out[n,c,h,w] = (in[n,h,w,c] / 255 - mean[c]) / std[c], with mean
// and std in [0, 1] units (torchvision's convention). Done on the device once the batch is
// there, so 4x fewer bytes cross PCIe than with float batches.
// `out` must be [N, C, H, W] (logical shape), F32 (or F64 on the CPU, for tests; BF16 or F16 on
// CUDA, for mixed precision: computed in float, rounded once), on the input's device; an
// undefined `out` is allocated as F32. mean/std have C entries (or 1, broadcast).
// `layout` is out's memory order (kernels/layout.h): NCHW transposes; NHWC keeps the input's
// element order (out[i] = in[i] * scale[i % C] + shift[i % C]), a plain streaming map. Both
// backends support both layouts (NHWC output on the CPU is trivial, so the tests use it).
#include <vector>

#include "engine/core/tensor.h"
#include "kernels/dispatch.h"
#include "kernels/layout.h"

namespace te::ops {

namespace cpu {
void normalize_images(const Tensor& u8_nhwc, Tensor& out, const std::vector<float>& mean,
                      const std::vector<float>& std, Layout layout = Layout::NCHW);
}  // namespace cpu

#ifdef TE_WITH_CUDA
namespace cuda {
void normalize_images(const Tensor& u8_nhwc, Tensor& out, const std::vector<float>& mean,
                      const std::vector<float>& std, Layout layout = Layout::NCHW);
}  // namespace cuda
#endif

inline void normalize_images(const Tensor& u8_nhwc, Tensor& out, const std::vector<float>& mean,
                             const std::vector<float>& std, Layout layout = Layout::NCHW) {
  TE_DISPATCH(u8_nhwc.device(), normalize_images, u8_nhwc, out, mean, std, layout);
}

}  // namespace te::ops
