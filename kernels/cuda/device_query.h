#pragma once
#include <string>

namespace te::cuda {

struct GpuAvailability {
  int device_count = 0;  // 0 when no GPU can be used
  std::string reason;    // why not, when device_count == 0
};

GpuAvailability query_gpus();

}  // namespace te::cuda
