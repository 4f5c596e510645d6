#include "engine/cli/rank_device.h"

#include <spdlog/spdlog.h>

#include "engine/cli/device_select.h"

namespace te::cli {

Device select_rank_device(const std::string& request, const YAML::Node& model,
                          const LaunchInfo& launch, Communicator& comm) {
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
  double gpus = device.is_cuda() ? 1.0 : 0.0;
  comm.allreduce_sum(&gpus, 1);
  if (gpus != 0 && gpus != comm.size())
    throw DistributedError("rank " + std::to_string(comm.rank()) + " is on " + device.str() + " but " +
                           std::to_string(static_cast<int>(device.is_cuda() ? comm.size() - gpus : gpus)) +
                           " other rank(s) are on another kind of device: every rank must use a GPU, "
                           "or every rank the CPU (--device cpu)");
  return device;
}

}  // namespace te::cli
