#pragma once
// The device the emulation stands in for: an H100 (SXM)'s launch limits and properties, what
// the emulated runtime reports (cudaGetDeviceProperties) and the launch checks enforce.
#include <cstddef>

namespace te::emu {

struct DeviceLimits {
  const char* name = "SIMT emulation of an H100 (our kernels on the CPU)";
  int major = 9, minor = 0;
  int sm_count = 132;
  int max_threads_per_block = 1024;
  int max_block[3] = {1024, 1024, 64};
  long long max_grid[3] = {2147483647LL, 65535, 65535};
  int shared_per_block = 48 * 1024;          // without opting in
  int shared_per_block_optin = 227 * 1024;   // cudaDevAttrMaxSharedMemoryPerBlockOptin
  size_t total_memory = size_t(16) << 30;    // what cudaMemGetInfo reports
};
const DeviceLimits& device_limits();

// cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) raises a
// kernel's dynamic shared memory limit above 48 KiB; the launch check reads it back.
void set_dynamic_shared_limit(const void* kernel, size_t bytes);
size_t dynamic_shared_limit(const void* kernel);

}  // namespace te::emu
