#pragma once
// Moves a convolution filter between PyTorch's memory order KCRS ([k][c][r][s], what parameters,
// gradients and checkpoints use) and channels-last KRSC ([k][r][s][c], what cuDNN's NHWC kernels
// read). cudnn_conv.cpp uses them when cuDNN has no engine for NHWC activations with a KCRS
// filter. Elements are moved as bits (2 or 4 bytes each), so the copies are exact.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace te::cuda::launch {

// dst[k][rs][c] = src[k][c][rs], with rs = r * s the filter positions and c = channels / groups.
void kcrs_to_krsc(const void* src, void* dst, size_t elem_size, int64_t k, int64_t c, int64_t rs,
                  cudaStream_t s);
// dst[k][c][rs] = src[k][rs][c] (the inverse).
void krsc_to_kcrs(const void* src, void* dst, size_t elem_size, int64_t k, int64_t c, int64_t rs,
                  cudaStream_t s);

}  // namespace te::cuda::launch
