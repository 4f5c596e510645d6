#pragma once
// Device and page-locked host allocators that cache freed blocks.
//
// cudaMalloc/cudaFree synchronise the device and cost tens of microseconds; a training step
// frees and re-allocates the same sizes every step. So freed blocks go to a free list keyed by
// their rounded size and the next request of that size takes one from it: after the first step,
// a steady-state training step never calls cudaMalloc or cudaFree.
//
// Device blocks are stream-ordered on the compute stream: a block freed while a kernel on that
// stream may still read it can be handed out at once, because every later user runs on the same
// stream after that kernel. Code that uses device memory on another stream (the copy stream)
// must keep its own tensors alive until an event says the work is done.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/core/allocator.h"
#include "engine/core/error.h"

namespace te::cuda {

// Thrown when the GPU cannot satisfy an allocation even after the cache has been emptied.
class OutOfMemoryError : public DeviceError {
 public:
  OutOfMemoryError(const std::string& message, size_t requested, size_t free_bytes,
                   size_t total_bytes)
      : DeviceError(message), requested(requested), free_bytes(free_bytes), total_bytes(total_bytes) {}
  size_t requested, free_bytes, total_bytes;
};

struct AllocatorStats {
  size_t in_use_bytes = 0;     // handed out and not yet returned
  size_t cached_bytes = 0;     // in free lists, ready for reuse
  size_t peak_in_use_bytes = 0;
  size_t reserved_bytes = 0;   // obtained from the driver (in use + cached)
  size_t peak_reserved_bytes = 0;
  uint64_t driver_allocs = 0;  // cudaMalloc / cudaHostAlloc calls so far
  uint64_t driver_frees = 0;
  uint64_t cache_hits = 0;
};

// The size a request is served with: multiples of 512 B up to 1 MiB, of 2 MiB above, so that
// slightly different sizes share blocks without wasting more than a small fraction.
size_t round_block_size(size_t bytes);

// The size-binned free lists and statistics both allocators keep. Not thread-safe: the owning
// allocator holds its mutex around every call.
class BlockCache {
 public:
  // A cached block of exactly `rounded` bytes (counted as a hit), or nullptr.
  void* take(size_t rounded);
  // Records a block just obtained from the driver.
  void add_fresh(size_t rounded);
  // Records `p` (from take or the driver) as handed out.
  void hand_out(void* p, size_t rounded);
  // Moves a handed-out block to the free lists; false when `p` is not one of ours.
  bool give_back(void* p);
  // Passes every cached block to `release` (which returns it to the driver) and forgets it.
  template <typename Release>
  void drain(Release release) {
    for (auto& [size, blocks] : free_) {
      for (void* b : blocks) {
        release(b);
        stats_.cached_bytes -= size;
        stats_.reserved_bytes -= size;
        ++stats_.driver_frees;
      }
      blocks.clear();
    }
  }
  const AllocatorStats& stats() const { return stats_; }
  void reset_peak();

 private:
  std::map<size_t, std::vector<void*>> free_;  // rounded size -> cached blocks
  std::unordered_map<void*, size_t> live_;     // handed-out block -> rounded size
  AllocatorStats stats_;
};

class CachingDeviceAllocator final : public Allocator {
 public:
  // exact_sizes: serve each request in exactly its size instead of the binned size (the SIMT
  // emulation, so AddressSanitizer sees every tensor's true end); blocks are still cached.
  explicit CachingDeviceAllocator(int device, bool exact_sizes = false)
      : device_(device), exact_sizes_(exact_sizes) {}
  ~CachingDeviceAllocator() override;  // returns cached blocks (blocks in use are leaked)

  void* allocate(size_t bytes) override;
  void deallocate(void* ptr, size_t bytes) override;
  Device device() const override { return Device::cuda(device_); }

  // Returns every cached block to the driver (after synchronising the device).
  void release_cached();
  // In use, cached and reserved bytes over the shared cache and every private pool; the peaks
  // are summed per pool (an upper bound of the true peak when pools exist).
  AllocatorStats stats() const;
  void reset_peak();

  // Private pools for CUDA graph capture: a captured graph has the addresses of the temporary
  // memory it used baked in, so blocks allocated while a pool is active are never handed to
  // anyone outside that pool, even after they are freed; the pool keeps them for the graph's
  // replays (and for a re-capture into the same pool). new_pool returns an id; use_pool(id)
  // makes allocations come from it until use_pool(-1) (the shared cache).
  int new_pool();
  void use_pool(int id);

 private:
  void* driver_alloc(BlockCache& cache, size_t rounded, size_t requested);

  int device_;
  bool exact_sizes_;
  mutable std::mutex mutex_;
  BlockCache cache_;
  std::vector<std::unique_ptr<BlockCache>> pools_;
  BlockCache* active_ = &cache_;
};

// Page-locked (pinned) host memory, so host<->device copies can be asynchronous and run at full
// PCIe/NVLink speed. Cached the same way: cudaHostAlloc is even slower than cudaMalloc.
class PinnedHostAllocator final : public Allocator {
 public:
  ~PinnedHostAllocator() override;
  void* allocate(size_t bytes) override;
  void deallocate(void* ptr, size_t bytes) override;
  Device device() const override { return Device::cpu(); }
  AllocatorStats stats() const;

 private:
  mutable std::mutex mutex_;
  BlockCache cache_;
};

// The message for an allocation that does not fit (also used by the workspace arena).
std::string out_of_memory_message(size_t requested, size_t free_bytes, size_t total_bytes,
                                  size_t in_use_bytes, int device);

}  // namespace te::cuda
