#pragma once
// Registry type "flatten": [N, d1, d2, ...] -> [N, d1 * d2 * ...] (torch.flatten(x, 1)).
// No arguments. Forward copies (the graph gives every layer its own output buffer); backward
// passes the gradient through, reshaped.
#include "engine/layers/layer.h"
#include "engine/layers/layer_args.h"

namespace te {

class Flatten : public Layer {
 public:
  explicit Flatten(LayerArgs& args) { (void)args; }
  std::string type() const override { return "flatten"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
               const RunContext& ctx) override;
  void backward(const BackwardArgs& args) override;
  BackwardReads backward_reads() const override { return {false, false}; }
};

}  // namespace te
