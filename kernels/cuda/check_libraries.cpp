// The cuDNN and cuBLAS halves of check.h (not in the SIMT emulation build, which has neither).
#include <cublas_v2.h>
#include <cudnn.h>

#include "kernels/cuda/check.h"

namespace te::cuda {

void throw_cudnn_error(int code, const char* call, const char* file, int line) {
  char detail[1024] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));  // cuDNN 9: why the last call failed
  std::string msg = std::string("cuDNN error ") + std::to_string(code) + " (" +
                    cudnnGetErrorString(static_cast<cudnnStatus_t>(code)) + ")" +
                    call_site(call, file, line);
  if (detail[0]) msg += ": " + std::string(detail);
  throw DeviceError(msg);
}

void throw_cublas_error(int code, const char* call, const char* file, int line) {
  const auto st = static_cast<cublasStatus_t>(code);
  throw DeviceError(std::string("cuBLAS error ") + std::to_string(code) + " (" +
                    cublasGetStatusName(st) + ": " + cublasGetStatusString(st) + ")" +
                    call_site(call, file, line));
}

}  // namespace te::cuda
