#include <gtest/gtest.h>

#include <map>
#include <string>

#include "engine/core/error.h"
#include "engine/distributed/launch_env.h"

namespace te {
namespace {

LaunchInfo detect(const std::map<std::string, std::string>& env) {
  return detect_launch([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(LaunchEnv, NothingSetIsOneProcess) {
  const LaunchInfo l = detect({});
  EXPECT_EQ(l.rank, 0);
  EXPECT_EQ(l.world_size, 1);
  EXPECT_FALSE(l.distributed());
  EXPECT_EQ(l.launcher, "none");
}

TEST(LaunchEnv, OpenMpi) {
  const LaunchInfo l = detect({{"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_SIZE", "8"},
                               {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}});
  EXPECT_EQ(l.launcher, "openmpi");
  EXPECT_EQ(l.rank, 3);
  EXPECT_EQ(l.world_size, 8);
  EXPECT_EQ(l.local_rank, 1);
  EXPECT_EQ(l.local_size, 2);
  EXPECT_TRUE(l.distributed());
  EXPECT_EQ(l.describe(), "rank 3 of 8 (openmpi, local rank 1 of 2)");
}

TEST(LaunchEnv, Slurm) {
  const LaunchInfo l = detect({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "6"}, {"SLURM_LOCALID", "2"}});
  EXPECT_EQ(l.launcher, "slurm");
  EXPECT_EQ(l.rank, 5);
  EXPECT_EQ(l.world_size, 6);
  EXPECT_EQ(l.local_rank, 2);
  EXPECT_EQ(l.local_size, 3);  // unknown: at least local rank + 1
}

TEST(LaunchEnv, TorchrunStyle) {
  const LaunchInfo l = detect({{"RANK", "1"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"},
                               {"LOCAL_WORLD_SIZE", "2"}, {"MASTER_ADDR", "node0"}, {"MASTER_PORT", "29500"}});
  EXPECT_EQ(l.launcher, "torchrun");
  EXPECT_EQ(l.rank, 1);
  EXPECT_EQ(l.world_size, 4);
  EXPECT_EQ(l.local_size, 2);
  EXPECT_EQ(l.master_addr, "node0");
  EXPECT_EQ(l.master_port, 29500);
}

// mpirun and torchrun run inside Slurm allocations, whose job-wide variables stay set.
TEST(LaunchEnv, LauncherVariablesWinOverSlurmAllocation) {
  const LaunchInfo a = detect({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "16"},
                               {"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "2"}});
  EXPECT_EQ(a.launcher, "openmpi");
  EXPECT_EQ(a.world_size, 2);
  const LaunchInfo b = detect({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "16"}, {"RANK", "0"}, {"WORLD_SIZE", "2"}});
  EXPECT_EQ(b.launcher, "torchrun");
  EXPECT_EQ(b.world_size, 2);
}

TEST(LaunchEnv, MalformedValuesNameTheVariable) {
  try {
    detect({{"RANK", "one"}, {"WORLD_SIZE", "2"}});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("RANK='one'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(detect({{"RANK", "2"}, {"WORLD_SIZE", "2"}}), ConfigError);      // rank >= size
  EXPECT_THROW(detect({{"RANK", "0"}, {"WORLD_SIZE", "0"}}), ConfigError);      // empty world
  EXPECT_THROW(detect({{"RANK", "-1"}, {"WORLD_SIZE", "2"}}), ConfigError);     // negative
  EXPECT_THROW(detect({{"RANK", "1"}}), ConfigError);                           // half set
  EXPECT_THROW(detect({{"SLURM_NTASKS", "2"}}), ConfigError);
  EXPECT_THROW(detect({{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "2"},
                       {"OMPI_COMM_WORLD_LOCAL_RANK", "2"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}}),
               ConfigError);
  EXPECT_THROW(detect({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}}), ConfigError);
}

TEST(LaunchEnv, EmptyValuesCountAsUnset) {
  EXPECT_FALSE(detect({{"RANK", ""}, {"WORLD_SIZE", ""}}).distributed());
}

}  // namespace
}  // namespace te
