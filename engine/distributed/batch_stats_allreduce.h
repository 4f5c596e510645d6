#pragma once
// Synchronised batch norm over a Communicator: the layers' per-channel sums
// (engine/layers/batch_stats_sync.h) all-reduced over the ranks, on the training thread, in
// the layers' order (the same on every rank).
#include "engine/distributed/communicator.h"
#include "engine/layers/batch_stats_sync.h"

namespace te {

class BatchStatsAllReduce final : public BatchStatsSync {
 public:
  explicit BatchStatsAllReduce(Communicator& comm) : comm_(comm) {}
  void sum(double* values, int64_t count) override { comm_.allreduce_sum(values, count); }

 private:
  Communicator& comm_;
};

}  // namespace te
