#include "engine/export/bn_folding.h"

#include <cmath>
#include <string>

#include "engine/export/export_error.h"

namespace te {

FoldedConv fold_batchnorm(const std::vector<float>& weight, const std::vector<float>& bias,
                          const std::vector<float>& gamma, const std::vector<float>& beta,
                          const std::vector<float>& mean, const std::vector<float>& var,
                          double eps) {
  const size_t out = mean.size();
  if (out == 0 || var.size() != out || weight.size() % out != 0 ||
      (!bias.empty() && bias.size() != out) || (!gamma.empty() && gamma.size() != out) ||
      (!beta.empty() && beta.size() != out))
    throw ExportError("fold_batchnorm: " + std::to_string(out) + " channels of statistics do not fit a weight of " +
                      std::to_string(weight.size()) + " elements");
  const size_t per_out = weight.size() / out;
  FoldedConv f;
  f.weight.resize(weight.size());
  f.bias.resize(out);
  for (size_t o = 0; o < out; ++o) {
    const double g = gamma.empty() ? 1.0 : gamma[o];
    const double s = g / std::sqrt(static_cast<double>(var[o]) + eps);
    for (size_t k = 0; k < per_out; ++k)
      f.weight[o * per_out + k] = static_cast<float>(s * weight[o * per_out + k]);
    const double b = bias.empty() ? 0.0 : bias[o];
    f.bias[o] = static_cast<float>(s * (b - mean[o]) + (beta.empty() ? 0.0 : beta[o]));
  }
  return f;
}

}  // namespace te
