#pragma once
// Registry type "concat": joins its inputs along `axis` (default 1, the channels; negative
// counts from the end; the batch axis 0 is not allowed). Inputs agree on every other dimension.
#include "engine/layers/layer.h"
#include "engine/layers/layer_args.h"

namespace te {

class Concat : public Layer {
 public:
  explicit Concat(LayerArgs& args);
  std::string type() const override { return "concat"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
               const RunContext& ctx) override;
  void backward(const BackwardArgs& args) override;
  BackwardReads backward_reads() const override { return {false, false}; }

 private:
  // The axis as an index into shapes of this rank; ShapeError when out of range.
  int resolve_axis(size_t rank) const;
  int axis_ = 1;
};

}  // namespace te
