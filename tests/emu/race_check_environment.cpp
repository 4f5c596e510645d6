// The emulated kernel tests run with the race check on (every launch in two thread orders,
// kernels/cuda/emu/README.md) unless TE_EMU_RACECHECK=0 turns it off for a faster run.
// Whole-model steps (ResNetStep.*) run without it: every kernel they launch is race-checked in
// its own tests, and comparing all device memory after each of their launches made them 5x
// slower (97 s instead of 21 s here).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/cuda/emu/emulation.h"

namespace {

bool race_check_wanted() {
  const char* v = std::getenv("TE_EMU_RACECHECK");
  return !(v && std::strcmp(v, "0") == 0);
}

void set_race_check(bool on) {
  te::emu::EmulationOptions o = te::emu::options();
  o.race_check = on;
  te::emu::set_options(o);
}

class RaceCheckPerTest : public ::testing::EmptyTestEventListener {
 public:
  void OnTestStart(const ::testing::TestInfo& test) override {
    set_race_check(race_check_wanted() && std::string(test.test_suite_name()) != "ResNetStep");
  }
};

class RaceCheckEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    set_race_check(race_check_wanted());
    ::testing::UnitTest::GetInstance()->listeners().Append(new RaceCheckPerTest);
  }
};
[[maybe_unused]] ::testing::Environment* const g_race_check =
    ::testing::AddGlobalTestEnvironment(new RaceCheckEnvironment);

}  // namespace
