#pragma once
// The memory order of a 4-D activation. Tensors keep their logical shape [N, C, H, W]
// (Shape has no strides); the layout says how the elements lie in memory:
//   NCHW: element (n, c, h, w) at ((n * C + c) * H + h) * W + w   (the default; PyTorch's)
//   NHWC: element (n, c, h, w) at ((n * H + h) * W + w) * C + c   ("channels-last")
// Channels-last is what tensor-core convolutions read natively; it is a GPU-only option (the
// CPU kernels throw for NHWC). Element-wise ops do not care; ops that know channels or space
// (convolution, batch norm, pooling, normalisation of the input) take a Layout argument.
#include <string>

namespace te {

enum class Layout { NCHW, NHWC };

inline const char* layout_name(Layout l) { return l == Layout::NHWC ? "NHWC" : "NCHW"; }

}  // namespace te
