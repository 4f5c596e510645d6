#pragma once
// Registry type "batchnorm2d": PyTorch's nn.BatchNorm2d over [N, C, H, W] inputs.
// Args: eps (1e-5), momentum (0.1), affine (true), num_features (optional; checked against C).
// Parameters weight [C] (ones), bias [C] (zeros) when affine; buffers running_mean [C] (zeros),
// running_var [C] (ones), num_batches_tracked [] i64 — torchvision's state-dict names.
// Training normalises with the batch statistics and updates the running ones (unbiased
// variance), eval uses the running statistics; backward follows whichever forward ran.
// With RunContext::batch_stats_sync (train.sync_batchnorm) the training statistics and the
// two per-channel sums of backward are taken over every data-parallel replica.
#include "engine/layers/batchnorm_base.h"

namespace te {

class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(LayerArgs& args) : BatchNormBase(args) {}
  std::string type() const override { return "batchnorm2d"; }

  Shape output_shape(const std::vector<Shape>& inputs) const override;
  void build(const std::vector<Shape>& inputs) override;
  void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
               const RunContext& ctx) override;
  void backward(const BackwardArgs& args) override;
  BackwardReads backward_reads() const override { return {true, false}; }

 private:
  double synced_count_ = 0;  // values per channel over all replicas in the last forward; 0: not synced
};

}  // namespace te
