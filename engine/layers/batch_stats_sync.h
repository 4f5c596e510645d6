#pragma once
// The seam of synchronised batch norm (train.sync_batchnorm): batch-norm layers in training
// hand their per-channel sums to this interface, which sums them over every replica of a
// data-parallel job; engine/distributed implements it over a Communicator, so layers never see
// MPI. Set in RunContext::batch_stats_sync; null (the default): per-replica statistics.
// Every replica calls it the same number of times in the same order (its layers run alike).
#include <cstdint>

namespace te {

class BatchStatsSync {
 public:
  virtual ~BatchStatsSync() = default;
  // In place: every replica ends with the element-wise sum over replicas (host values).
  virtual void sum(double* values, int64_t count) = 0;
};

}  // namespace te
