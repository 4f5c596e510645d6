#pragma once
// A rank's share of an epoch (data parallelism). Every rank computes the same seeded
// permutation of the data set for the epoch; it is cut into global batches of
// `batch * count` positions, and rank r takes the r-th slice of `batch` positions of each.
// So the ranks' samples are disjoint, and a step of `count` ranks at batch B sees exactly the
// samples a single process at batch count*B would (same order, same augmentation: that uses
// the sample's data-set index).
// The remainder (the last n mod (batch*count) positions of the permutation):
//   drop_last (training): dropped, as a single process at batch count*B drops it; the
//     permutation changes every epoch, so different samples are dropped each time; every
//     rank gets the same number of batches (the collectives of a step need all of them);
//   otherwise (validation): cut into slices of `batch`, slice j to rank j, so every sample is
//     seen exactly once and some ranks have one batch (or a short one) more than others.
#include <cstdint>
#include <vector>

namespace te {

struct EpochShard {
  int64_t rank = 0, count = 1;
};

// The positions of `order` that `shard` takes, in order.
std::vector<int64_t> shard_order(const std::vector<int64_t>& order, int64_t batch,
                                 const EpochShard& shard, bool drop_last);
// shard_order(...).size() for a data set of n samples.
int64_t shard_size(int64_t n, int64_t batch, const EpochShard& shard, bool drop_last);

}  // namespace te
