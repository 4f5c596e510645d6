#pragma once
// Batch normalisation of images for the network input: uint8 NHWC (as the data loader collates
// them) -> float NCHW, out[n,c,h,w] = (in[n,h,w,c] / 255 - mean[c]) / std[c], with mean and std
// in [0, 1] units (torchvision's convention). Done on the device once the batch is there, so
// 4x fewer bytes cross PCIe than with float batches.
// `out` must be [N, C, H, W], F32 (or F64 on the CPU, for tests; BF16 or F16 on CUDA, for
// mixed precision: computed in float, rounded once), on the input's device; an undefined `out`
// is allocated as F32. mean/std have C entries (or 1, broadcast).
#include <vector>

#include "engine/core/tensor.h"
#include "kernels/dispatch.h"

namespace te::ops {

namespace cpu {
void normalize_images(const Tensor& u8_nhwc, Tensor& out_nchw, const std::vector<float>& mean,
                      const std::vector<float>& std);
}  // namespace cpu

#ifdef TE_WITH_CUDA
namespace cuda {
void normalize_images(const Tensor& u8_nhwc, Tensor& out_nchw, const std::vector<float>& mean,
                      const std::vector<float>& std);
}  // namespace cuda
#endif

inline void normalize_images(const Tensor& u8_nhwc, Tensor& out_nchw_f32,
                             const std::vector<float>& mean, const std::vector<float>& std) {
  TE_DISPATCH(u8_nhwc.device(), normalize_images, u8_nhwc, out_nchw_f32, mean, std);
}

}  // namespace te::ops
