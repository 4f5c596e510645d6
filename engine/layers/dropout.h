#pragma once
// Registry type "dropout" (arg p, the drop probability, default 0.5, 0 <= p < 1).
// Training: inverted dropout, y = x * keep / (1 - p). The mask is a pure function of
// (RunContext.seed, layer name, RunContext.step, element index) through the counter-based RNG,
// so it is reproducible, independent of the thread count, different in every layer and step,
// and backward regenerates it instead of storing it (no saved memory).
// Eval: identity.
#include "engine/layers/layer.h"
#include "engine/layers/layer_args.h"

namespace te {

class Dropout : public Layer {
 public:
  explicit Dropout(LayerArgs& args);
  std::string type() const override { return "dropout"; }
  double p() const { return p_; }

  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
               const RunContext& ctx) override;
  void backward(const BackwardArgs& args) override;
  BackwardReads backward_reads() const override { return {false, false}; }  // masks are recomputed

  // The RNG key for a run seed: the seed mixed with a hash of the layer's name.
  uint64_t mask_key(uint64_t seed) const;

 private:
  double p_ = 0.5;
};

}  // namespace te
