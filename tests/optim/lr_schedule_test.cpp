// Learning-rate schedules at chosen steps; 10 epochs of 10 steps, base rate 0.1.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "engine/core/error.h"
#include "engine/optim/lr_schedule.h"

namespace te {
namespace {

constexpr double kPi = std::numbers::pi;

ScheduleConfig schedule(const std::string& type, double warmup_epochs = 0) {
  ScheduleConfig c;
  c.type = type;
  c.warmup_epochs = warmup_epochs;
  return c;
}

TEST(LrSchedule, Constant) {
  LrSchedule s(schedule("constant"), 0.1, 10, 10);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(99), 0.1);
}

TEST(LrSchedule, LinearWarmupFromNearZero) {
  // 2 warm-up epochs = 20 steps: lr(s) = 0.1 * (s + 1) / 20, then the base rate.
  LrSchedule s(schedule("constant", 2), 0.1, 10, 10);
  EXPECT_EQ(s.warmup_steps(), 20);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.1 / 20);
  EXPECT_DOUBLE_EQ(s.lr_at(9), 0.1 * 10 / 20);
  EXPECT_DOUBLE_EQ(s.lr_at(19), 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(20), 0.1);
}

TEST(LrSchedule, StepEveryStepEpochs) {
  ScheduleConfig c = schedule("step");
  c.step_epochs = 3;
  c.gamma = 0.1;
  LrSchedule s(c, 0.1, 10, 10);
  EXPECT_DOUBLE_EQ(s.lr_at(29), 0.1);    // epoch 2.9
  EXPECT_NEAR(s.lr_at(30), 0.01, 1e-15);   // epoch 3
  EXPECT_NEAR(s.lr_at(60), 0.001, 1e-15);  // epoch 6
  EXPECT_NEAR(s.lr_at(99), 1e-4, 1e-15);   // epoch 9.9
}

TEST(LrSchedule, StepAtMilestonesWithWarmup) {
  ScheduleConfig c = schedule("step", 1);
  c.milestones = {2, 5};
  c.gamma = 0.5;
  LrSchedule s(c, 0.1, 10, 10);
  EXPECT_DOUBLE_EQ(s.lr_at(4), 0.1 * 5 / 10);  // warm-up over 10 steps
  EXPECT_DOUBLE_EQ(s.lr_at(19), 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(20), 0.05);
  EXPECT_DOUBLE_EQ(s.lr_at(49), 0.05);
  EXPECT_DOUBLE_EQ(s.lr_at(50), 0.025);
}

TEST(LrSchedule, CosineToMinLr) {
  ScheduleConfig c = schedule("cosine");
  c.min_lr = 0.001;
  LrSchedule s(c, 0.1, 10, 10);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.1);
  // halfway: min + (base - min) / 2 = 0.001 + 0.0495
  EXPECT_NEAR(s.lr_at(50), 0.0505, 1e-15);
  // a quarter: 0.001 + 0.0495 * (1 + cos(pi/4)) = 0.001 + 0.0495 * 1.70710678...
  EXPECT_NEAR(s.lr_at(25), 0.001 + 0.0495 * (1 + std::sqrt(0.5)), 1e-15);
  EXPECT_GT(s.lr_at(99), 0.001);
  EXPECT_LT(s.lr_at(99), 0.00105);
}

TEST(LrSchedule, CosineStartsAfterWarmup) {
  ScheduleConfig c = schedule("cosine", 2);
  LrSchedule s(c, 0.1, 10, 10);
  EXPECT_DOUBLE_EQ(s.lr_at(9), 0.05);   // warm-up: 0.1 * 10 / 20
  EXPECT_DOUBLE_EQ(s.lr_at(20), 0.1);   // cosine begins at the base rate
  EXPECT_NEAR(s.lr_at(60), 0.05, 1e-15);  // (60 - 20) / 80 = half of the cosine, min_lr 0
}

TEST(LrSchedule, OneCycleRisesToThePeakThenFalls) {
  // torch OneCycleLR: initial = 0.1/25 = 0.004, final = 0.004/1e4 = 4e-7, rise ends at
  // step 0.3 * 100 - 1 = 29, fall ends at step 99.
  ScheduleConfig c = schedule("onecycle");
  LrSchedule s(c, 0.1, 10, 10);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.004);
  EXPECT_DOUBLE_EQ(s.lr_at(29), 0.1);  // the peak
  // rise: 0.1 + (0.004 - 0.1)/2 * (cos(pi * 10/29) + 1)
  EXPECT_NEAR(s.lr_at(10), 0.1 - 0.048 * (std::cos(kPi * 10 / 29) + 1), 1e-15);
  // fall halfway (step 64, pct 35/70): 4e-7 + (0.1 - 4e-7) / 2
  EXPECT_NEAR(s.lr_at(64), 4e-7 + (0.1 - 4e-7) / 2, 1e-15);
  EXPECT_NEAR(s.lr_at(99), 4e-7, 1e-18);
  double peak = 0;
  int64_t at = -1;
  for (int64_t k = 0; k < 100; ++k)
    if (s.lr_at(k) > peak) peak = s.lr_at(k), at = k;
  EXPECT_EQ(at, 29);
}

TEST(LrSchedule, BadConfigsAreConfigErrors) {
  try {
    LrSchedule(schedule("cosin"), 0.1, 10, 10);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("constant, cosine, onecycle, step"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("did you mean 'cosine'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(LrSchedule(schedule("onecycle", 1), 0.1, 10, 10), ConfigError);
  EXPECT_THROW(LrSchedule(schedule("cosine", 11), 0.1, 10, 10), ConfigError);
  ScheduleConfig c = schedule("step");
  c.milestones = {5, 2};
  EXPECT_THROW(LrSchedule(c, 0.1, 10, 10), ConfigError);
  EXPECT_THROW(LrSchedule(schedule("constant"), 0.1, 0, 10), ConfigError);
}

}  // namespace
}  // namespace te
