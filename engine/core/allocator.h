#pragma once
// Allocators own raw memory for tensor storage. The CPU one hands out 64-byte aligned blocks
// (cache lines and AVX-512 loads); the CUDA backend supplies a caching device allocator and a
// page-locked host allocator through the same interface.
#include <cstddef>

#include "engine/core/device.h"

namespace te {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  virtual Device device() const = 0;
};

// The process-wide aligned CPU allocator.
Allocator& cpu_allocator();

// The allocator tensors on `device` use by default. For CUDA devices it throws te::DeviceError
// until the CUDA backend registers one (see set_device_allocator).
Allocator& default_allocator(Device device);

// Lets the CUDA backend install its allocator for CUDA devices.
void set_device_allocator(DeviceType type, Allocator* allocator);

// Host memory for staging buffers that are copied to the device (the data loader's batches):
// page-locked once the CUDA backend installs its pinned allocator, plain CPU memory before.
Allocator& pinned_host_allocator();
void set_pinned_host_allocator(Allocator* allocator);

}  // namespace te
