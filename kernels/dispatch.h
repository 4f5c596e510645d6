#pragma once
// Routes an operation to the backend of its tensors' device. Each operation is declared once
// in its kernels/<op>.h header: the public function in namespace te::ops forwards here, and
// the backends implement te::ops::cpu::<op> (kernels/cpu/) and te::ops::cuda::<op>
// (kernels/cuda/). The CUDA case exists only when the CUDA kernels are built
// (TE_WITH_CUDA), so a CPU-only build never references them.
#include <string>

#include "engine/core/device.h"
#include "engine/core/error.h"

namespace te {
[[noreturn]] inline void throw_no_kernel(const char* op, Device device) {
  throw DeviceError(std::string("operation ") + op + " has no kernel for " + device.str() +
                    (device.is_cuda() ? " (this build has no CUDA kernels)" : ""));
}
}  // namespace te

#ifdef TE_WITH_CUDA
#define TE_DISPATCH_CUDA_CASE(fn, ...) \
  case ::te::DeviceType::CUDA:         \
    return ::te::ops::cuda::fn(__VA_ARGS__);
#else
#define TE_DISPATCH_CUDA_CASE(fn, ...)
#endif

// Usage, inside te::ops: `inline void relu_forward(const Tensor& x, Tensor& y)
//                          { TE_DISPATCH(x.device(), relu_forward, x, y); }`
#define TE_DISPATCH(device, fn, ...)                 \
  do {                                               \
    switch ((device).type) {                         \
      case ::te::DeviceType::CPU:                    \
        return ::te::ops::cpu::fn(__VA_ARGS__);      \
        TE_DISPATCH_CUDA_CASE(fn, __VA_ARGS__)       \
      default:                                       \
        ::te::throw_no_kernel(#fn, (device));        \
    }                                                \
  } while (0)
