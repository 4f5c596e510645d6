#pragma once
// Registry type "linear": PyTorch's nn.Linear over [N, F] inputs (flatten first).
// Args: out_features (required), bias (true). in_features is taken from the input at build.
// Parameters weight [out, in] and bias [out], both U(+-1/sqrt(in)) (PyTorch's default bound).
#include "engine/layers/layer.h"
#include "engine/layers/layer_args.h"

namespace te {

class Linear : public Layer {
 public:
  explicit Linear(LayerArgs& args);
  std::string type() const override { return "linear"; }
  int64_t out_features() const { return out_features_; }
  bool has_bias() const { return bias_; }

  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void build(const std::vector<Shape>& inputs) override;
  void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
               const RunContext& ctx) override;
  void backward(const BackwardArgs& args) override;
  BackwardReads backward_reads() const override { return {true, false}; }

 private:
  Param& weight();
  int64_t out_features_ = 0;
  int64_t in_features_ = 0;  // 0 until build
  bool bias_ = true;
};

}  // namespace te
