#pragma once
// Folding an eval-mode batch norm into the convolution before it:
//   BN(conv(x)) = s * (W x + b - mean) + beta, s = gamma / sqrt(var + eps)
//   => W'[o] = s[o] W[o], b'[o] = s[o] (b[o] - mean[o]) + beta[o]
// computed in double and rounded once, so the folded model stays within float rounding of the
// unfolded one.
#include <vector>

namespace te {

struct FoldedConv {
  std::vector<float> weight;  // [out, in/groups, kh, kw], as the convolution's
  std::vector<float> bias;    // [out]
};

// weight: the convolution's (out * per_out elements); bias: empty when it has none;
// gamma/beta: empty when the batch norm is not affine.
FoldedConv fold_batchnorm(const std::vector<float>& weight, const std::vector<float>& bias,
                          const std::vector<float>& gamma, const std::vector<float>& beta,
                          const std::vector<float>& mean, const std::vector<float>& var,
                          double eps);

}  // namespace te
