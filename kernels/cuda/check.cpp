#include "kernels/cuda/check.h"

#include <cuda_runtime.h>

namespace te::cuda {
std::string call_site(const char* call, const char* file, int line) {
  return std::string(" in `") + call + "` at " + file + ":" + std::to_string(line);
}

void throw_cuda_error(int code, const char* call, const char* file, int line) {
  const auto err = static_cast<cudaError_t>(code);
  std::string msg = std::string("CUDA error ") + std::to_string(code) + " (" +
                    cudaGetErrorName(err) + ": " + cudaGetErrorString(err) + ")" +
                    call_site(call, file, line);
  if (err == cudaErrorMemoryAllocation)
    msg += ". The GPU is out of memory: reduce the batch size or use gradient accumulation";
  // Clear a non-sticky error so the next, unrelated call does not report it again.
  cudaGetLastError();
  throw DeviceError(msg);
}

void check_last_launch(const char* kernel, const char* file, int line) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    throw_cuda_error(static_cast<int>(err), (std::string("launch of ") + kernel).c_str(), file,
                     line);
}

}  // namespace te::cuda
