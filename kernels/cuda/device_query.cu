// Finds out whether a usable GPU is present. On machines without a driver,
// cudaGetDeviceCount fails (e.g. error 35, insufficient driver): that means "no GPU".
#include <cuda_runtime.h>

#include "kernels/cuda/device_query.h"

namespace te::cuda {

GpuAvailability query_gpus() {
  GpuAvailability out;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    out.reason = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(err) + " (error " +
                 std::to_string(static_cast<int>(err)) + ")";
    cudaGetLastError();  // clear the sticky error so later calls are not confused by it
    return out;
  }
  if (count == 0) {
    out.reason = "no CUDA devices found";
    return out;
  }
  out.device_count = count;
  return out;
}

}  // namespace te::cuda
