// Two-rank tests through the real launcher: `mpirun -np 2` (as root where needed) on this test
// executable (the ranks' side: rank_tests.cpp) and on the trainer binary.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "dist_fixture.h"
#include "engine/distributed/mpi_communicator.h"

namespace te {
namespace {

namespace fs = std::filesystem;

#define REQUIRE_MPI()                                                                         \
  if (!mpi_available() || testing::mpirun_prefix(2).empty())                                  \
  GTEST_SKIP() << "built without MPI: the data-parallel tests need libopenmpi-dev and openmpi-bin " \
                  "(scripts/install_deps.sh)"

using testing::count_of;

TEST(Mpi, RankTestsPassOnTwoRanks) {
  REQUIRE_MPI();
  testing::expect_rank_tests_pass(testing::mpirun_prefix(2), "DISABLED_Ranks", 11);
}

// The trainer under mpirun: rank 0 alone writes the run directory (one epoch record per epoch,
// one log), the checkpoint records the world size, and the validation accuracy it reports
// (sharded over the ranks, combined) is what one process evaluating those weights reports.
TEST(Mpi, TrainerUnderMpirun) {
  REQUIRE_MPI();
  const std::string root = testing::temp_dir("trainer");
  testing::write_tiny_idx(root + "/data", 100, 37);  // 37: uneven validation shards
  testing::write_text_file(root + "/c.yaml", testing::tiny_idx_config(root + "/data", true, 8,
                                                                      "train: {epochs: 2, threads: 1}\n"));
  const std::string run = root + "/run";
  const testing::Ran r = testing::run_shell(testing::mpirun_prefix(2) + testing::trainer_path() +
                                            " --config " + root + "/c.yaml --out " + run + " --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("data parallel: 2 ranks over mpi"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("global batch 2 x 8 = 16"), std::string::npos) << r.output;
  EXPECT_EQ(count_of(r.output, "] done: 2 epochs"), 1) << "only rank 0 logs:\n" << r.output;
  const std::string metrics = testing::read_text_file(run + "/metrics.jsonl");
  EXPECT_EQ(count_of(metrics, "\"type\":\"epoch\""), 2) << metrics;
  const std::string state = testing::read_text_file(run + "/checkpoints/epoch-0002-step-0000012.state.safetensors");
  EXPECT_NE(state.find("\\\"world_size\\\":2"), std::string::npos) << "no world size in the state";

  // The last epoch record's val_accuracy against `trainer eval` of the final weights.
  const size_t last = metrics.rfind("\"val_accuracy\":");
  ASSERT_NE(last, std::string::npos);
  const double reported = std::stod(metrics.substr(last + 15));
  const testing::Ran eval = testing::run_shell(
      testing::trainer_path() + " eval --checkpoint " + run + "/checkpoints/epoch-0002-step-0000012.safetensors --data " +
      root + "/data --split test --json 2>/dev/null");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  const size_t acc = eval.output.find("\"accuracy\":");
  ASSERT_NE(acc, std::string::npos) << eval.output;
  EXPECT_EQ(std::stod(eval.output.substr(acc + 11)), reported) << eval.output;
  EXPECT_NE(eval.output.find("\"images\":37"), std::string::npos) << eval.output;

  // Resuming on another number of ranks is refused, naming both.
  const testing::Ran resume = testing::run_shell(testing::trainer_path() + " --resume " + run +
                                                 " --device cpu --set train.epochs=3");
  EXPECT_EQ(resume.exit_code, 2) << resume.output;
  EXPECT_NE(resume.output.find("written by a run of 2 rank(s), this one has 1"), std::string::npos)
      << resume.output;
}

// The other direction of the world-size check: a one-process run resumed under mpirun -np 2
// is refused on every rank, naming both sizes, before any step.
TEST(Mpi, ResumeOnMoreRanksIsRefused) {
  REQUIRE_MPI();
  const std::string root = testing::temp_dir("resume_more");
  testing::write_tiny_idx(root + "/data", 48, 12);
  testing::write_text_file(root + "/c.yaml", testing::tiny_idx_config(root + "/data", false, 8,
                                                                      "train: {epochs: 1, threads: 1}\n"));
  const std::string run = root + "/run";
  const testing::Ran one = testing::run_shell(testing::trainer_path() + " --config " + root +
                                              "/c.yaml --out " + run + " --device cpu 2>&1");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const testing::Ran two = testing::run_shell(testing::mpirun_prefix(2) + testing::trainer_path() +
                                              " --resume " + run + " --device cpu --set train.epochs=2");
  EXPECT_NE(two.exit_code, 0) << two.output;
  EXPECT_EQ(count_of(two.output, "written by a run of 1 rank(s), this one has 2"), 2) << two.output;
  EXPECT_EQ(count_of(two.output, "epoch 2/2"), 0) << "a rank trained:\n" << two.output;
}

// A rank that stops responding (SIGSTOP: alive, so the launcher does not notice) makes the
// other exit within --collective-timeout, naming itself and the operation it waited in.
TEST(Mpi, HungRankEndsTheJobWithinTheTimeout) {
  REQUIRE_MPI();
  const std::string root = testing::temp_dir("hang");
  testing::write_tiny_idx(root + "/data", 100, 10);
  testing::write_text_file(root + "/c.yaml", testing::tiny_idx_config(root + "/data", false, 8,
                                                                      "train: {epochs: 100000, threads: 1}\n"));
  // Rank 1 stops itself once training runs (the first epoch's checkpoint exists).
  const std::string stop_rank1 =
      "sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then (for i in $(seq 600); do ls " + root + "/run/checkpoints/epoch-* >/dev/null 2>&1 && break; sleep 0.1; done; kill -STOP $$) & fi; exec " +
      testing::trainer_path() + " --config " + root + "/c.yaml --out " + root +
      "/run --device cpu --collective-timeout 3'";
  const auto start = std::chrono::steady_clock::now();
  const testing::Ran r = testing::run_shell("timeout -s KILL 120 " + testing::mpirun_prefix(2) + stop_rank1);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_LT(seconds, 60) << r.output;
  EXPECT_NE(r.output.find("error: rank 0 waited 3 s in "), std::string::npos) << r.output;
}

// SIGTERM to the job: mpirun sends it to every rank (then SIGKILL after odls_base_sigkill_timeout,
// 1 s by default, raised here so that a loaded machine does not lose the race; and it stops
// forwarding the ranks' output): each rank finishes its step, they agree, rank 0 writes one checkpoint, and
// each rank ends "interrupted" (exit 143); --resume under mpirun continues from it.
TEST(Mpi, SigtermCheckpointsOnEveryRankAndResumes) {
  REQUIRE_MPI();
  const std::string root = testing::temp_dir("sigterm");
  testing::write_tiny_idx(root + "/data", 100, 10);
  testing::write_text_file(root + "/c.yaml", testing::tiny_idx_config(root + "/data", false, 8,
                                                                      "train: {epochs: 100000, threads: 1}\n"));
  const std::string run = root + "/run";
  // Each rank's output to its own file (sh redirects, then becomes the trainer). The signal goes to mpirun once the first epoch's checkpoint exists (training runs).
  const std::string job = testing::mpirun_prefix(2) + "--mca odls_base_sigkill_timeout 3 sh -c 'exec " +
                          testing::trainer_path() + " --config " + root + "/c.yaml --out " + run +
                          " --device cpu > " + root + "/out.$OMPI_COMM_WORLD_RANK 2>&1'";
  const testing::Ran r = testing::run_shell(
      job + " & JOB=$!; for i in $(seq 600); do ls " + run + "/checkpoints/epoch-* >/dev/null 2>&1 && break; "
      "sleep 0.1; done; kill -TERM $JOB; wait $JOB");
  EXPECT_NE(r.exit_code, 0) << r.output;
  for (const char* rank : {"0", "1"}) {
    const std::string out = testing::read_text_file(root + "/out." + rank);
    EXPECT_NE(out.find("interrupted: stopped by SIGTERM"), std::string::npos) << "rank " << rank << ":\n" << out;
  }
  // Resume to the end of the epoch after the interrupted one (the file name holds the epoch).
  int64_t epoch = -1;
  for (const auto& e : fs::directory_iterator(run + "/checkpoints")) {
    long long n = 0;
    if (std::sscanf(e.path().filename().c_str(), "epoch-%lld-", &n) == 1) epoch = std::max<int64_t>(epoch, n);
  }
  ASSERT_GE(epoch, 0) << "no checkpoint written";
  const testing::Ran resumed = testing::run_shell(
      testing::mpirun_prefix(2) + testing::trainer_path() + " --resume " + run +
      " --device cpu --set train.epochs=" + std::to_string(epoch + 2));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("data parallel: 2 ranks"), std::string::npos) << resumed.output;
}

// A rank killed outright: the launcher (mpirun) ends the others and names the rank.
TEST(Mpi, KilledRankEndsTheJob) {
  REQUIRE_MPI();
  const std::string root = testing::temp_dir("kill");
  testing::write_tiny_idx(root + "/data", 100, 10);
  testing::write_text_file(root + "/c.yaml", testing::tiny_idx_config(root + "/data", false, 8,
                                                                      "train: {epochs: 100000, threads: 1}\n"));
  const std::string kill_rank1 =
      "sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then (for i in $(seq 600); do ls " + root + "/run/checkpoints/epoch-* >/dev/null 2>&1 && break; sleep 0.1; done; kill -KILL $$) & fi; exec " +
      testing::trainer_path() + " --config " + root + "/c.yaml --out " + root +
      "/run --device cpu --collective-timeout 30'";
  const auto start = std::chrono::steady_clock::now();
  const testing::Ran r = testing::run_shell("timeout -s KILL 120 " + testing::mpirun_prefix(2) + kill_rank1);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_LT(seconds, 60) << r.output;
  EXPECT_NE(r.output.find("rank 1"), std::string::npos) << r.output;
}

// torchrun-style variables without a launcher that connects the ranks (no MPI in the build, or
// MPI seeing one process): refused at once with what to do, never a lone rank that trains on.
TEST(Launch, SeveralRanksWithoutMpiRanksAreRefused) {
  const std::string root = testing::temp_dir("refused");
  testing::write_tiny_idx(root + "/data", 20, 5);
  testing::write_text_file(root + "/c.yaml", testing::tiny_idx_config(root + "/data", false, 4, ""));
  const testing::Ran r = testing::run_shell("RANK=1 WORLD_SIZE=2 timeout -s KILL 60 " + testing::trainer_path() +
                                            " --config " + root + "/c.yaml --out " + root + "/run --device cpu");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("without mpirun: CPU ranks exchange gradients over MPI, so start them "
                          "with mpirun or srun"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("rank 1 of 2 (torchrun"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(root + "/run/checkpoints")) << "a refused rank wrote the run directory";
}

}  // namespace
}  // namespace te
