#pragma once
// The emulated device's memory: host memory from cudaMalloc (256-byte aligned, exactly the
// requested size, so AddressSanitizer sees a kernel's out-of-bounds access) and page-locked
// host memory from cudaHostAlloc, registered so that copies, memsets and kernel arguments can
// be checked as a GPU would fault on them, and snapshotted for the race check.
#include <cstddef>
#include <string>
#include <vector>

namespace te::emu {

enum class MemoryKind { Device, PinnedHost };

void register_allocation(void* p, size_t bytes, MemoryKind kind);
// Returns false when `p` was not allocated (or already freed).
bool unregister_allocation(void* p, MemoryKind kind);
// Whether [p, p + bytes) lies inside one live allocation of `kind`.
bool is_inside(const void* p, size_t bytes, MemoryKind kind);
size_t device_bytes_in_use();

struct MemorySnapshot {
  struct Region {
    void* p;
    std::vector<unsigned char> bytes;
  };
  std::vector<Region> regions;
};
MemorySnapshot snapshot_device_memory();
void restore_device_memory(const MemorySnapshot& snapshot);
// "" when every region still holds the snapshot's bytes; else where it first differs.
std::string compare_with_device_memory(const MemorySnapshot& snapshot);

}  // namespace te::emu
