#pragma once
// Which rank this process is, as the launcher told it through the environment:
//   Open MPI (mpirun):  OMPI_COMM_WORLD_RANK / _SIZE / _LOCAL_RANK / _LOCAL_SIZE
//   torchrun-style:     RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT
//   Slurm (srun):       SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID
// First match wins in that order: mpirun and torchrun both run inside Slurm allocations, whose
// job-wide SLURM_* variables would otherwise describe the allocation, not this launch.
// Nothing set means one process (rank 0 of 1). Read once, before anything else, so every rank
// agrees on who writes the run directory.
#include <functional>
#include <string>

namespace te {

struct LaunchInfo {
  int rank = 0, world_size = 1;
  int local_rank = 0, local_size = 1;  // within this node (one GPU per local rank)
  std::string launcher = "none";       // "none", "openmpi", "torchrun" or "slurm"
  std::string master_addr;             // torchrun-style only
  int master_port = 0;
  bool distributed() const { return world_size > 1; }
  // "rank 1 of 2 (openmpi, local rank 1 of 2)"
  std::string describe() const;
};

// `getenv` returns nullptr for an unset variable. ConfigError naming the variable for a value
// that is not a number or out of range (rank >= world size, world size < 1, ...).
LaunchInfo detect_launch(const std::function<const char*(const char*)>& getenv);
LaunchInfo detect_launch_from_environment();

}  // namespace te
