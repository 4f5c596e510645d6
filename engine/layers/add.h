#pragma once
// Registry type "add": the element-wise sum of two or more inputs of identical shape (the
// join of a residual block). Backward hands grad_output to every input that wants it.
#include "engine/layers/layer.h"
#include "engine/layers/layer_args.h"

namespace te {

class Add : public Layer {
 public:
  explicit Add(LayerArgs& args) {}
  std::string type() const override { return "add"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
               const RunContext& ctx) override;
  void backward(const BackwardArgs& args) override;
  BackwardReads backward_reads() const override { return {false, false}; }
};

}  // namespace te
