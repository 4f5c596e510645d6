#include "engine/layers/activation.h"

namespace te {

ReLU::ReLU(LayerArgs& args) : ActivationLayer("relu", ops::ActivationKind::ReLU) {}

SiLU::SiLU(LayerArgs& args) : ActivationLayer("silu", ops::ActivationKind::SiLU) {}

namespace {
ops::ActivationKind gelu_kind(LayerArgs& args) {
  const std::string approximate = args.get_string("approximate", "none");
  if (approximate == "none") return ops::ActivationKind::GELU;
  if (approximate == "tanh") return ops::ActivationKind::GELUTanh;
  throw ConfigError(args.location("approximate") + ": expected 'none' or 'tanh', got '" +
                    approximate + "'");
}
}  // namespace

GELU::GELU(LayerArgs& args) : ActivationLayer("gelu", gelu_kind(args)) {}

Shape ActivationLayer::output_shape(const std::vector<Shape>& inputs) const {
  if (inputs.size() != 1)
    throw ShapeError(describe() + ": takes 1 input, got " + std::to_string(inputs.size()));
  return inputs[0];
}

void ActivationLayer::forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                              const RunContext& ctx) {
  const Tensor& x = *inputs.at(0);
  ensure_shape(output, x.shape(), x.dtype(), x.device());
  ops::activation_forward(kind_, x, output);
}

BackwardReads ActivationLayer::backward_reads() const {
  if (kind_ == ops::ActivationKind::ReLU) return {false, true};
  return {true, false};
}

void ActivationLayer::backward(const BackwardArgs& args) {
  Tensor* dx = args.grad_inputs.at(0);
  if (!dx) return;
  ops::activation_backward(kind_, *args.inputs.at(0), *args.output, *args.grad_output, *dx,
                           args.modes.at(0) == GradMode::Accumulate);
}

}  // namespace te
