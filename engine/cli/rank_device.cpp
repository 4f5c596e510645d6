#include "engine/cli/rank_device.h"

#include <spdlog/spdlog.h>

#include <sched.h>

#include <algorithm>
#include <thread>

#include "engine/cli/device_select.h"
#include "engine/core/parallel.h"

namespace te::cli {

namespace {

Device own_device(const std::string& request, const YAML::Node& model, const LaunchInfo& launch) {
  const std::string own_gpu = "cuda:" + std::to_string(launch.local_rank);
  Device device;
  if (request == "cuda") {
    device = select_device(own_gpu, model);
  } else if (request == "auto") {
    try {
      device = select_device(own_gpu, model);
    } catch (const Error& e) {
      spdlog::info("device: cpu (auto: {})", e.what());
      device = Device::cpu();
    }
  } else {
    device = select_device(request, model);
  }
  return device;
}

}  // namespace

Device select_torchrun_device(const std::string& request, const YAML::Node& model,
                              const LaunchInfo& launch) {
  const Device device = own_device(request, model, launch);
  if (device.is_cpu())
    throw DistributedError(
        "launched as " + launch.describe() + " without mpirun: CPU ranks exchange gradients over "
        "MPI, so start them with mpirun or srun; torchrun-style variables alone serve GPU ranks "
        "(NCCL, bootstrapped over MASTER_ADDR:MASTER_PORT), and this rank is on the CPU");
  return device;
}

Device select_rank_device(const std::string& request, const YAML::Node& model,
                          const LaunchInfo& launch, Communicator& comm) {
  const Device device = own_device(request, model, launch);
  double gpus = device.is_cuda() ? 1.0 : 0.0;
  comm.allreduce_sum(&gpus, 1);
  if (gpus != 0 && gpus != comm.size())
    throw DistributedError("rank " + std::to_string(comm.rank()) + " is on " + device.str() + " but " +
                           std::to_string(static_cast<int>(device.is_cuda() ? comm.size() - gpus : gpus)) +
                           " other rank(s) are on another kind of device: every rank must use a GPU, "
                           "or every rank the CPU (--device cpu)");
  return device;
}

int share_cores_among_local_ranks(const LaunchInfo& launch) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int allowed = cores;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) allowed = std::max(1, CPU_COUNT(&set));
  const int threads = allowed < cores ? allowed : std::max(1, cores / std::max(1, launch.local_size));
  set_num_threads(threads);
  spdlog::info("{} compute threads per rank ({} ranks on this node, {} of {} cores usable by "
               "this rank; train.threads sets it)", threads, launch.local_size, allowed, cores);
  return threads;
}

}  // namespace te::cli
