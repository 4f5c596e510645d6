#include "kernels/cuda/check.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

namespace te::cuda {
namespace {
std::string where(const char* call, const char* file, int line) {
  return std::string(" in `") + call + "` at " + file + ":" + std::to_string(line);
}
}  // namespace

void throw_cuda_error(int code, const char* call, const char* file, int line) {
  const auto err = static_cast<cudaError_t>(code);
  std::string msg = std::string("CUDA error ") + std::to_string(code) + " (" +
                    cudaGetErrorName(err) + ": " + cudaGetErrorString(err) + ")" +
                    where(call, file, line);
  if (err == cudaErrorMemoryAllocation)
    msg += ". The GPU is out of memory: reduce the batch size or use gradient accumulation";
  // Clear a non-sticky error so the next, unrelated call does not report it again.
  cudaGetLastError();
  throw DeviceError(msg);
}

void throw_cudnn_error(int code, const char* call, const char* file, int line) {
  char detail[1024] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));  // cuDNN 9: why the last call failed
  std::string msg = std::string("cuDNN error ") + std::to_string(code) + " (" +
                    cudnnGetErrorString(static_cast<cudnnStatus_t>(code)) + ")" +
                    where(call, file, line);
  if (detail[0]) msg += ": " + std::string(detail);
  throw DeviceError(msg);
}

void throw_cublas_error(int code, const char* call, const char* file, int line) {
  const auto st = static_cast<cublasStatus_t>(code);
  throw DeviceError(std::string("cuBLAS error ") + std::to_string(code) + " (" +
                    cublasGetStatusName(st) + ": " + cublasGetStatusString(st) + ")" +
                    where(call, file, line));
}

void check_last_launch(const char* kernel, const char* file, int line) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    throw_cuda_error(static_cast<int>(err), (std::string("launch of ") + kernel).c_str(), file,
                     line);
}

}  // namespace te::cuda
