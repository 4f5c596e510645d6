// Dynamic loss scaling (engine/train/loss_scaler.h) and its place in the training state.
#include <gtest/gtest.h>

#include "engine/core/error.h"
#include "engine/train/loss_scaler.h"
#include "engine/train/training_state.h"

namespace te {
namespace {

TEST(LossScaler, HalvesOnOverflowAndDoublesAfterACleanWindow) {
  LossScaler::Options o;
  o.initial_scale = 1024;
  o.growth_interval = 3;
  LossScaler s(true, o);
  EXPECT_EQ(s.scale(), 1024);
  s.update(false);
  EXPECT_EQ(s.scale(), 512);
  s.update(true);
  s.update(true);
  EXPECT_EQ(s.scale(), 512);
  EXPECT_EQ(s.clean_steps(), 2);
  s.update(false);  // an overflow restarts the window
  EXPECT_EQ(s.scale(), 256);
  EXPECT_EQ(s.clean_steps(), 0);
  for (int i = 0; i < 3; ++i) s.update(true);
  EXPECT_EQ(s.scale(), 512);
  EXPECT_EQ(s.clean_steps(), 0);
}

TEST(LossScaler, DisabledIsOneForever) {
  LossScaler s(false);
  s.update(false);
  s.update(true);
  s.restore(8, 2);
  EXPECT_EQ(s.scale(), 1);
}

TEST(LossScaler, RestoresFromTheTrainingState) {
  TrainingState st;
  st.loss_scale = 2048;
  st.loss_scale_clean_steps = 17;
  const TrainingState back = TrainingState::from_json(st.to_json(), "state.json");
  LossScaler s(true);
  s.restore(back.loss_scale, back.loss_scale_clean_steps);
  EXPECT_EQ(s.scale(), 2048);
  EXPECT_EQ(s.clean_steps(), 17);
  EXPECT_THROW(s.restore(0, 0), Error);
  // A state written before loss scaling existed reads as no scaling.
  const TrainingState old = TrainingState::from_json(
      R"({"epoch":1,"batch":0,"step":5,"seed":1,"bad_steps":0,"skipped_steps":0,"best_metric":0,)"
      R"("best_epoch":-1,"epoch_loss_sum":0,"epoch_loss_count":0,"epoch_images":0,"epoch_correct":0,"epoch_seconds":0})",
      "old.json");
  EXPECT_EQ(old.loss_scale, 1.0);
  EXPECT_EQ(old.loss_scale_clean_steps, 0);
}

}  // namespace
}  // namespace te
