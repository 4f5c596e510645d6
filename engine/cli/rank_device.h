#pragma once
// Data parallelism: this rank's device. One GPU per local rank: `cuda` and `auto` mean
// cuda:<local rank> (auto falls back to the CPU when no GPU is usable); every rank must end up
// on the same kind of device (CPU ranks use MPI, GPU ranks NCCL), else DistributedError.
#include <yaml-cpp/yaml.h>

#include <string>

#include "engine/core/device.h"
#include "engine/distributed/communicator.h"
#include "engine/distributed/launch_env.h"

namespace te::cli {

Device select_rank_device(const std::string& request, const YAML::Node& model,
                          const LaunchInfo& launch, Communicator& comm);

// torchrun-style variables without mpirun: GPU ranks only (NCCL, bootstrapped over the TCP
// rendezvous); a rank that would run on the CPU is refused (DistributedError), since CPU ranks
// exchange gradients over MPI. Called before any communication.
Device select_torchrun_device(const std::string& request, const YAML::Node& model,
                              const LaunchInfo& launch);

// CPU ranks with train.threads 0 ("all cores"): N ranks on a node would each start a thread per
// core. A rank the launcher bound to some cores uses those; an unbound one its 1/local_size share
// of the node's cores. Returns the thread count set.
int share_cores_among_local_ranks(const LaunchInfo& launch);

}  // namespace te::cli
