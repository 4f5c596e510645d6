#pragma once
// Element-wise activation layers: relu, gelu (args: approximate: none | tanh) and silu.
// They share one implementation parameterised by the kernel's ActivationKind; backward reads
// the saved output (ReLU) or the saved input (GELU, SiLU) from BackwardArgs.
#include "engine/layers/layer.h"
#include "engine/layers/layer_args.h"
#include "kernels/activation.h"

namespace te {

class ActivationLayer : public Layer {
 public:
  ActivationLayer(std::string type, ops::ActivationKind kind) : type_(std::move(type)), kind_(kind) {}
  std::string type() const override { return type_; }
  ops::ActivationKind kind() const { return kind_; }

  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
               const RunContext& ctx) override;
  void backward(const BackwardArgs& args) override;
  BackwardReads backward_reads() const override;  // ReLU: its output; the others: their input

 private:
  std::string type_;
  ops::ActivationKind kind_;
};

// Registry type "relu": max(x, 0); gradient 0 at x == 0 (PyTorch's choice).
class ReLU : public ActivationLayer {
 public:
  explicit ReLU(LayerArgs& args);
};

// Registry type "gelu": x * Phi(x) (exact erf form), or the tanh approximation with
// `approximate: tanh` (PyTorch's nn.GELU(approximate=...)).
class GELU : public ActivationLayer {
 public:
  explicit GELU(LayerArgs& args);
};

// Registry type "silu": x * sigmoid(x).
class SiLU : public ActivationLayer {
 public:
  explicit SiLU(LayerArgs& args);
};

}  // namespace te
