// The registry of emulated device and page-locked allocations (memory_map.h).
#include "kernels/cuda/emu/memory_map.h"

#include <cstring>
#include <iterator>
#include <map>
#include <mutex>

namespace te::emu {
namespace {
struct Allocation {
  size_t bytes;
  MemoryKind kind;
};
std::mutex g_mutex;
std::map<const char*, Allocation>& allocations() {
  static auto* map = new std::map<const char*, Allocation>;  // outlives static destructors
  return *map;
}
}  // namespace

void register_allocation(void* p, size_t bytes, MemoryKind kind) {
  std::lock_guard<std::mutex> lock(g_mutex);
  allocations()[static_cast<const char*>(p)] = Allocation{bytes, kind};
}

bool unregister_allocation(void* p, MemoryKind kind) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = allocations().find(static_cast<const char*>(p));
  if (it == allocations().end() || it->second.kind != kind) return false;
  allocations().erase(it);
  return true;
}

bool is_inside(const void* p, size_t bytes, MemoryKind kind) {
  std::lock_guard<std::mutex> lock(g_mutex);
  const char* c = static_cast<const char*>(p);
  auto it = allocations().upper_bound(c);
  if (it == allocations().begin()) return false;
  --it;
  // The end address itself is a valid argument (an empty range at the end of a buffer).
  return it->second.kind == kind && c + bytes <= it->first + it->second.bytes;
}

size_t device_bytes_in_use() {
  std::lock_guard<std::mutex> lock(g_mutex);
  size_t total = 0;
  for (const auto& [p, a] : allocations())
    if (a.kind == MemoryKind::Device) total += a.bytes;
  return total;
}

MemorySnapshot snapshot_device_memory() {
  std::lock_guard<std::mutex> lock(g_mutex);
  MemorySnapshot s;
  for (const auto& [p, a] : allocations()) {
    if (a.kind != MemoryKind::Device) continue;
    s.regions.push_back({const_cast<char*>(p), std::vector<unsigned char>(p, p + a.bytes)});
  }
  return s;
}

void restore_device_memory(const MemorySnapshot& snapshot) {
  for (const auto& r : snapshot.regions)
    if (!r.bytes.empty()) std::memcpy(r.p, r.bytes.data(), r.bytes.size());
}

std::string compare_with_device_memory(const MemorySnapshot& snapshot) {
  for (const auto& r : snapshot.regions) {
    if (r.bytes.empty() || std::memcmp(r.p, r.bytes.data(), r.bytes.size()) == 0) continue;
    const auto* now = static_cast<const unsigned char*>(r.p);
    size_t first = 0, count = 0;
    for (size_t i = r.bytes.size(); i-- > 0;)
      if (now[i] != r.bytes[i]) {
        first = i;
        ++count;
      }
    return std::to_string(count) + " of the " + std::to_string(r.bytes.size()) +
           " bytes of the device allocation at " + std::to_string(reinterpret_cast<uintptr_t>(r.p)) +
           " differ, the first at byte " + std::to_string(first);
  }
  return "";
}

}  // namespace te::emu
