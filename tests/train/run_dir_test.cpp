// The run directory's pieces: checkpoint naming, listing, pruning and resolving, the training
// state's round trip, durations for the progress line.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>

#include "engine/core/error.h"
#include "engine/train/interrupt.h"
#include "engine/train/progress.h"
#include "engine/train/run_dir.h"
#include "engine/train/training_state.h"
#include "train_fixture.h"

namespace te {
namespace {
namespace fs = std::filesystem;
using namespace te::testing;

TEST(RunDir, ListsOnlyCompleteCheckpointsInStepOrder) {
  const RunPaths run = create_run_dir(fresh_dir("rundir") + "/run");
  for (auto [epoch, step] : {std::pair<int64_t, int64_t>{2, 20}, {1, 10}, {3, 30}}) {
    const CheckpointFiles f = checkpoint_files(run, epoch, step);
    write_text(f.weights, "w");
    write_text(f.state, "s");
  }
  // A weights file whose state is missing (a crash between the two writes) does not count,
  // nor does a temporary file.
  write_text(checkpoint_files(run, 4, 40).weights, "w");
  write_text(checkpoint_files(run, 5, 50).weights + ".tmp.123", "w");
  const auto all = list_checkpoints(run);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].step, 10);
  EXPECT_EQ(all[2].step, 30);
  EXPECT_EQ(latest_checkpoint(run)->epoch, 3);
  EXPECT_EQ(fs::path(all[0].weights).filename(), "epoch-0001-step-0000010.safetensors");

  // Without best weights a run directory resolves to its latest checkpoint, then to best.
  EXPECT_EQ(resolve_weights_path(run.root), all[2].weights);
  write_text(run.best_weights(), "b");
  EXPECT_EQ(resolve_weights_path(run.root), run.best_weights());
  EXPECT_EQ(resolve_weights_path(all[0].weights), all[0].weights);
  EXPECT_THROW(resolve_weights_path(run.root + "/absent"), IoError);
}

TEST(RunDir, EmptyRunDirectoryIsAClearError) {
  const RunPaths run = create_run_dir(fresh_dir("rundir_empty") + "/run");
  try {
    resolve_weights_path(run.root);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("holds no checkpoint"), std::string::npos) << e.what();
  }
}

TEST(RunDir, DefaultNameComesFromTheConfigFile) {
  const std::string d = default_run_dir("configs/quickstart.yaml");
  EXPECT_EQ(d.rfind("runs/quickstart-", 0), 0u) << d;
  EXPECT_EQ(d.size(), std::string("runs/quickstart-20260101-120000").size()) << d;
}

TEST(TrainingState, RoundTripsThroughJson) {
  TrainingState s;
  s.epoch = 3;
  s.batch = 17;
  s.step = 123;
  s.seed = 0xFFFFFFFFFFFFull;
  s.bad_steps = 1;
  s.skipped_steps = 2;
  s.best_metric = 0.123456789012345;
  s.best_epoch = 2;
  s.epoch_loss_sum = 1.0 / 3;
  s.epoch_loss_count = 9;
  s.epoch_images = 288;
  s.epoch_correct = 250;
  s.epoch_seconds = 4.5;
  const TrainingState t = TrainingState::from_json(s.to_json(), "x");
  EXPECT_EQ(t.to_json(), s.to_json());
  EXPECT_EQ(t.seed, s.seed);
  EXPECT_EQ(t.best_metric, s.best_metric);  // exact: doubles round-trip
  EXPECT_EQ(t.epoch_loss_sum, s.epoch_loss_sum);
  EXPECT_THROW(TrainingState::from_json("{\"epoch\": 1}", "state.safetensors"), IoError);
  // A well-formed state with a negative position (hostile or damaged) is refused too.
  std::string negative = s.to_json();
  negative.replace(negative.find("\"batch\":17"), 10, "\"batch\":-7");
  try {
    TrainingState::from_json(negative, "state.safetensors");
    ADD_FAILURE() << "a negative batch was accepted";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("batch is -7"), std::string::npos) << e.what();
  }
}

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(65), "1:05");
  EXPECT_EQ(format_duration(3725), "1:02:05");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(progress_mode_from("plain"), ProgressMode::Plain);
  EXPECT_EQ(progress_mode_from("bar"), ProgressMode::Bar);
}

TEST(Interrupt, ExitCodesFollowTheShellConvention) {
  EXPECT_EQ(Interrupted(SIGINT, "x").exit_code(), 130);
  EXPECT_EQ(Interrupted(SIGTERM, "x").exit_code(), 143);
  request_stop(SIGTERM);
  EXPECT_TRUE(stop_requested());
  EXPECT_EQ(stop_signal(), SIGTERM);
  request_stop(0);
  EXPECT_FALSE(stop_requested());
}

}  // namespace
}  // namespace te
