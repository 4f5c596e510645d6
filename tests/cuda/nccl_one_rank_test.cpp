// The NCCL path of data parallelism on one GPU: a job of one rank (MPI bootstrap, NCCL
// communicator, the all-reduce overlapped on its side stream, buffers averaged before
// evaluation and checkpoints) trains what the same run without data parallelism trains.
// Runs on a real GPU (test_cuda, the one-GPU NCCL check) and on the emulation
// (test_cuda_emu, NCCL emulated over MPI); one rank needs no launcher (MPI singleton).
#include <cstdio>

#include "dist_fixture.h"
#include "engine/distributed/mpi_communicator.h"
#include "engine/distributed/nccl_communicator.h"
#include "rank_training.h"
#include "tests/cuda/cuda_test_util.h"

namespace te::cuda_test {
namespace {

class NcclOneRank : public CudaTest {};

TEST_F(NcclOneRank, TrainsWhatTheRunWithoutDataParallelismTrains) {
  if (!nccl_available() || !mpi_available())
    GTEST_SKIP() << "built without NCCL or MPI (libopenmpi-dev, nccl.h)";
  const std::string root = testing::temp_dir("nccl-one-rank");
  testing::write_tiny_idx(root + "/data", 96, 30);
  te::cuda::set_deterministic(true);  // the two runs must pick the same algorithms
  const std::string config = testing::tiny_idx_config(root + "/data", /*bn=*/true, 8,
                                                      "train: {epochs: 2, threads: 1}\n");
  const testing::Trained alone = testing::train_on_ranks(config, root + "/alone", nullptr, gpu());
  std::shared_ptr<Communicator> comm = make_nccl_communicator(make_mpi_communicator(LaunchInfo{}, 60), 60);
  ASSERT_EQ(comm->backend(), "nccl");
  const testing::Trained one_rank = testing::train_on_ranks(config, root + "/nccl", comm, gpu());
  comm->shutdown();
  EXPECT_EQ(one_rank.summary.steps, alone.summary.steps);
  EXPECT_GT(one_rank.summary.overlapped_buckets, 0) << "the side-stream all-reduce did not run";
  // An average over one rank is the identity, so the same kernels give the same bytes; only
  // a nondeterministic algorithm could make them differ (set_deterministic rules those out).
  const double worst = std::max(testing::max_relative_difference(alone.params, one_rank.params),
                                testing::max_relative_difference(alone.buffers, one_rank.buffers));
  std::printf("one NCCL rank vs no data parallelism: max relative difference %.3g\n", worst);
  EXPECT_EQ(worst, 0.0);
  EXPECT_EQ(one_rank.summary.val_accuracy, alone.summary.val_accuracy);
}

}  // namespace
}  // namespace te::cuda_test
