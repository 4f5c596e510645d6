#include "engine/core/allocator.h"

#include <cstdlib>
#include <new>
#include <string>

#include "engine/core/error.h"

namespace te {
namespace {

class AlignedCpuAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    if (bytes == 0) return nullptr;
    constexpr size_t kAlign = 64;
    const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, rounded);
    if (!p) throw Error("out of host memory: failed to allocate " + std::to_string(bytes) + " bytes");
    return p;
  }
  void deallocate(void* ptr, size_t) override { std::free(ptr); }
  Device device() const override { return Device::cpu(); }
};

Allocator* g_cuda_allocator = nullptr;

}  // namespace

Allocator& cpu_allocator() {
  static AlignedCpuAllocator instance;
  return instance;
}

Allocator& default_allocator(Device device) {
  if (device.is_cpu()) return cpu_allocator();
  if (!g_cuda_allocator)
    throw DeviceError("no allocator for " + device.str() +
                      ": this build has no CUDA backend, or no usable GPU was initialised");
  return *g_cuda_allocator;
}

void set_device_allocator(DeviceType type, Allocator* allocator) {
  if (type == DeviceType::CUDA) g_cuda_allocator = allocator;
}

namespace {
Allocator* g_pinned_allocator = nullptr;
}

Allocator& pinned_host_allocator() { return g_pinned_allocator ? *g_pinned_allocator : cpu_allocator(); }

void set_pinned_host_allocator(Allocator* allocator) { g_pinned_allocator = allocator; }

}  // namespace te
