#pragma once
// Rank 0's bytes to every other rank of a torchrun-style launch (RANK, WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT) without MPI, over plain TCP: rank 0 listens on
// MASTER_ADDR:MASTER_PORT, every other rank connects (retrying while rank 0 is not up yet),
// says which rank of how many it is, and receives the payload. Used once, to pass rank 0's
// NCCL unique id; NCCL then carries every collective. Not a transport for anything else.
// Failures (a peer that never comes, a duplicate or foreign rank, no MASTER_ADDR) are
// DistributedError / ConfigError naming the rank, the address and what was missing.
#include <string>

#include "engine/distributed/launch_env.h"

namespace te {

// On rank 0 returns `payload` once every other rank has received it; on the others returns
// rank 0's payload (`payload` is ignored). Gives up after `timeout_s` seconds.
std::string tcp_broadcast_from_root(const LaunchInfo& launch, const std::string& payload,
                                    double timeout_s);

}  // namespace te
