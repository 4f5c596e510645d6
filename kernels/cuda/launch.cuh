#pragma once
// The one launch form of our kernels, and the CUDA built-ins they use, for both builds:
//   - nvcc (te_cuda): TE_LAUNCH(grid, block, shared_bytes, stream, kernel)(args...) is
//     kernel<<<grid, block, shared_bytes, stream>>>(args...), and the built-ins are CUDA's;
//   - the SIMT emulation (te_cuda_emu, TE_CUDA_EMULATION): the same .cu sources compiled as
//     host C++; TE_LAUNCH runs every thread of the grid on the CPU (kernels/cuda/emu/simt.h)
//     after the checks a real launch makes, with each argument converted to the kernel's
//     parameter type as a real launch converts it.
// The kernel comes last so that template arguments with commas need no extra parentheses;
// give them explicitly (emulation cannot deduce them from the arguments).
// TE_DYNAMIC_SHARED(T, name) declares the launch's dynamic shared memory as `T* name`-like
// storage (`extern __shared__ T name[]` under nvcc, exactly the launch's size in emulation).
#ifdef TE_CUDA_EMULATION
#include "kernels/cuda/emu/simt.h"
#define TE_LAUNCH(grid, block, shared_bytes, stream, ...)                                  \
  ::te::emu::make_launch(__VA_ARGS__, ::te::emu::LaunchSite{#__VA_ARGS__, __FILE__, __LINE__}, \
                         grid, block, shared_bytes, stream)
#define TE_DYNAMIC_SHARED(T, name) T* const name = static_cast<T*>(::te::emu::dynamic_shared())
#else
#include <cuda_runtime.h>
#define TE_LAUNCH(grid, block, shared_bytes, stream, ...) \
  __VA_ARGS__<<<grid, block, shared_bytes, stream>>>
#define TE_DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#endif
