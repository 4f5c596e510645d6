#pragma once
// Training inside a rank of a two-rank test (rank_tests.cpp on CPU ranks, emu/ on emulated
// GPU ranks): every rank trains in-process through the Trainer with a shared communicator.
#include <memory>
#include <string>
#include <vector>

#include "engine/core/device.h"
#include "engine/distributed/communicator.h"
#include "engine/train/trainer.h"

namespace te {
class DataParallel;
}

namespace te::testing {

struct Trained {
  std::vector<float> params, buffers;  // the live model at the end (f32 buffers only)
  TrainSummary summary;
};

// Trains `config_text` (written to run_dir.yaml by rank 0) on every rank of `c`, or in one
// process when `c` is null; gradient buckets of 64 bytes, so even a tiny model has several.
Trained train_on_ranks(const std::string& config_text, const std::string& run_dir,
                       std::shared_ptr<Communicator> c, Device device = Device::cpu(),
                       int64_t stop_at_step = 0, bool resume = false);

// The communicator the rank tests of one executable share (MPI initialises once per process),
// shut down in order after the last test. Set it once, in the executable's comm().
std::shared_ptr<Communicator>& shared_communicator();

// A fresh directory named by rank 0 (every rank gets its path), with the tiny data set in data/.
std::string shared_root(Communicator& c, const std::string& name);

// max |a - b| / (1 + |a|) over the common elements.
double max_relative_difference(const std::vector<float>& a, const std::vector<float>& b);

// One backward of a small conv/BN/linear graph on `device`, on each rank's own batch; returns its
// gradients averaged over the ranks, overlapped with the backward (through the gradients-ready
// hook) or after it.
std::vector<float> averaged_gradients(DataParallel& dp, bool overlapped, Device device = Device::cpu());

// Rank 0's copy of `mine`, on every rank.
std::vector<float> rank_zeros(Communicator& c, const std::vector<float>& mine);

}  // namespace te::testing
