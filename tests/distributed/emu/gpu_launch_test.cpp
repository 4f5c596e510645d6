// Two emulated GPU ranks through the real launcher: `mpirun -np 2` with two emulated GPUs
// (TE_EMU_DEVICES=2) on this executable (the ranks' side: gpu_rank_tests.cpp) and on the
// trainer linked against the emulation (trainer_emu --device cuda).
#include <gtest/gtest.h>

#include "dist_fixture.h"
#include "engine/distributed/mpi_communicator.h"

namespace te {
namespace {

#define REQUIRE_MPI()                                                  \
  if (!mpi_available() || testing::mpirun_prefix(2).empty())           \
  GTEST_SKIP() << "built without MPI: the data-parallel tests need libopenmpi-dev and openmpi-bin"

using testing::count_of;

std::string two_gpu_ranks() { return testing::mpirun_prefix(2) + "-x TE_EMU_DEVICES=2 "; }

TEST(EmulatedGpuRanks, RankTestsPassOnTwoRanks) {
  REQUIRE_MPI();
  testing::expect_rank_tests_pass(two_gpu_ranks(), "DISABLED_GpuRanks", 5);
}

// With deferred streams (kernels/cuda/emu/stream_queue.h) a bucket all-reduced on the side
// stream before backward's kernels wrote it, or an optimizer step that reads the gradients
// before the side stream finished, changes the results the rank tests compare bit for bit.
TEST(EmulatedGpuRanks, RankTestsPassWithDeferredStreams) {
  REQUIRE_MPI();
  testing::expect_rank_tests_pass(two_gpu_ranks() + "-x TE_EMU_STREAMS=deferred ", "DISABLED_GpuRanks", 5);
}

// The trainer's own launch path on GPU ranks: each rank takes the GPU of its local rank,
// NCCL is bootstrapped over MPI, and the all-reduce overlaps backward on the side stream.
TEST(EmulatedGpuRanks, TrainerUnderMpirunOnCuda) {
  REQUIRE_MPI();
  const std::string root = testing::temp_dir("gpu-trainer");
  testing::write_tiny_idx(root + "/data", 64, 20);
  testing::write_text_file(root + "/c.yaml", testing::tiny_idx_config(root + "/data", true, 8,
                                                                      "train: {epochs: 1, threads: 1}\n"));
  const testing::Ran r = testing::run_shell(two_gpu_ranks() + TE_TRAINER_EMU + " --config " + root +
                                            "/c.yaml --out " + root + "/run --device cuda");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("data parallel: 2 ranks over nccl"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("once per optimizer step, during backward"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("CUDA graphs: not used (the overlapped all-reduce"), std::string::npos) << r.output;
  EXPECT_EQ(count_of(r.output, "] done: 1 epochs"), 1) << "only rank 0 logs:\n" << r.output;
}

}  // namespace
}  // namespace te
