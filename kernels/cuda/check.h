#pragma once
// Checked calls into CUDA, cuDNN and cuBLAS. A failing call throws te::DeviceError whose message
// carries the call as written, the file and line, and the library's own description of the
// error (tiny-cuda-nn's CUDA_CHECK_THROW idea). Library code never exits or aborts on a device
// error: main() decides what to do with it. Included by .cu files, so it stays C++17.
#include <string>

#include "engine/core/error.h"

namespace te::cuda {

// Throw the DeviceError for a failed call; `code` is the library's status value.
[[noreturn]] void throw_cuda_error(int code, const char* call, const char* file, int line);
[[noreturn]] void throw_cudnn_error(int code, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(int code, const char* call, const char* file, int line);

// " in `call` at file:line", the end of every message above.
std::string call_site(const char* call, const char* file, int line);

// Checks for an error left by the last kernel launch (bad launch configuration, ...).
void check_last_launch(const char* kernel, const char* file, int line);

}  // namespace te::cuda

#define TE_CUDA_CHECK(call)                                                            \
  do {                                                                                 \
    const auto te_status_ = (call);                                                    \
    if (te_status_ != 0)                                                               \
      ::te::cuda::throw_cuda_error(static_cast<int>(te_status_), #call, __FILE__, __LINE__); \
  } while (0)

#define TE_CUDNN_CHECK(call)                                                           \
  do {                                                                                 \
    const auto te_status_ = (call);                                                    \
    if (te_status_ != 0)                                                               \
      ::te::cuda::throw_cudnn_error(static_cast<int>(te_status_), #call, __FILE__, __LINE__); \
  } while (0)

#define TE_CUBLAS_CHECK(call)                                                          \
  do {                                                                                 \
    const auto te_status_ = (call);                                                    \
    if (te_status_ != 0)                                                               \
      ::te::cuda::throw_cublas_error(static_cast<int>(te_status_), #call, __FILE__, __LINE__); \
  } while (0)

// After a <<<...>>> launch: `TE_CUDA_CHECK_LAUNCH("relu_forward");`
#define TE_CUDA_CHECK_LAUNCH(kernel) ::te::cuda::check_last_launch(kernel, __FILE__, __LINE__)
