#pragma once
// Registry type "global_avg_pool": the mean over H and W, [N, C, H, W] -> [N, C]
// (torchvision's avgpool to 1x1 followed by flatten). No arguments.
#include "engine/layers/layer.h"
#include "engine/layers/layer_args.h"

namespace te {

class GlobalAvgPool : public Layer {
 public:
  explicit GlobalAvgPool(LayerArgs& args) { (void)args; }
  std::string type() const override { return "global_avg_pool"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
               const RunContext& ctx) override;
  void backward(const BackwardArgs& args) override;
  BackwardReads backward_reads() const override { return {false, false}; }
};

}  // namespace te
