// The emulated kernel tests run with the race check on (every launch in two thread orders,
// kernels/cuda/emu/README.md) unless TE_EMU_RACECHECK=0 turns it off for a faster run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "kernels/cuda/emu/emulation.h"

namespace {
class RaceCheckEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const char* v = std::getenv("TE_EMU_RACECHECK");
    te::emu::EmulationOptions o = te::emu::options();
    o.race_check = !(v && std::strcmp(v, "0") == 0);
    te::emu::set_options(o);
  }
};
[[maybe_unused]] ::testing::Environment* const g_race_check =
    ::testing::AddGlobalTestEnvironment(new RaceCheckEnvironment);
}  // namespace
