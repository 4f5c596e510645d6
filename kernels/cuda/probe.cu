#include <cuda_runtime.h>

#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/probe.h"

namespace te::cuda {
namespace {
// One thread writes a known value; the host checks it arrived.
__global__ void probe_kernel(int* out) { *out = 0x7e57; }

std::string describe(cudaError_t err, const char* step) {
  cudaGetLastError();
  return std::string(step) + " failed: " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err) +
         (err == cudaErrorNoKernelImageForDevice || err == cudaErrorInvalidDeviceFunction
              ? " (this build has no code for this GPU's architecture: rebuild with "
                "-DTE_CUDA_ARCHITECTURES=<its compute capability, e.g. 90>)"
              : "");
}
}  // namespace

std::string probe_kernel_launch(int device) {
  cudaError_t err = cudaSetDevice(device);
  if (err != cudaSuccess) return describe(err, "cudaSetDevice");
  int* d = nullptr;
  err = cudaMalloc(&d, sizeof(int));
  if (err != cudaSuccess) return describe(err, "cudaMalloc");
  TE_LAUNCH(1, 1, 0, 0, probe_kernel)(d);
  err = cudaGetLastError();
  int value = 0;
  if (err == cudaSuccess) err = cudaMemcpy(&value, d, sizeof(int), cudaMemcpyDeviceToHost);
  cudaFree(d);
  if (err != cudaSuccess) return describe(err, "launching a test kernel");
  if (value != 0x7e57) return "a test kernel ran but its result did not arrive";
  return {};
}

}  // namespace te::cuda
