#include "kernels/cuda/caching_allocator.h"

#include <cuda_runtime.h>

#include <cstdio>

#include "kernels/cuda/check.h"

namespace te::cuda {
namespace {
constexpr size_t kSmallLimit = size_t(1) << 20;
constexpr size_t kSmallGrain = 512;
constexpr size_t kLargeGrain = size_t(2) << 20;

std::string mib(size_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

size_t round_block_size(size_t bytes) {
  if (bytes == 0) return kSmallGrain;
  const size_t grain = bytes <= kSmallLimit ? kSmallGrain : kLargeGrain;
  return (bytes + grain - 1) / grain * grain;
}

std::string out_of_memory_message(size_t requested, size_t free_bytes, size_t total_bytes,
                                  size_t in_use_bytes, int device) {
  std::string msg = "CUDA out of memory on cuda:" + std::to_string(device) + ": tried to allocate " +
                    mib(requested) + "; " + mib(free_bytes) + " free of " + mib(total_bytes) +
                    " total; this process holds " + mib(in_use_bytes) + " in tensors.";
  // Activation memory grows about linearly with the batch, so the fraction of the batch that
  // fits is roughly (what we could have) / (what we needed).
  const double needed = static_cast<double>(in_use_bytes + requested);
  const double available = static_cast<double>(in_use_bytes + free_bytes);
  if (needed > 0 && available < needed) {
    const int percent = static_cast<int>(90.0 * available / needed);
    msg += " Reduce the batch size to about " + std::to_string(percent > 1 ? percent : 1) +
           "% of the current one, or keep the batch and use gradient accumulation "
           "(train.grad_accum) with smaller micro-batches.";
  } else {
    msg += " Reduce the batch size or use gradient accumulation with smaller micro-batches.";
  }
  return msg;
}

void* BlockCache::take(size_t rounded) {
  auto it = free_.find(rounded);
  if (it == free_.end() || it->second.empty()) return nullptr;
  void* p = it->second.back();
  it->second.pop_back();
  ++stats_.cache_hits;
  stats_.cached_bytes -= rounded;
  return p;
}

void BlockCache::add_fresh(size_t rounded) {
  ++stats_.driver_allocs;
  stats_.reserved_bytes += rounded;
  if (stats_.reserved_bytes > stats_.peak_reserved_bytes)
    stats_.peak_reserved_bytes = stats_.reserved_bytes;
}

void BlockCache::hand_out(void* p, size_t rounded) {
  live_[p] = rounded;
  stats_.in_use_bytes += rounded;
  if (stats_.in_use_bytes > stats_.peak_in_use_bytes) stats_.peak_in_use_bytes = stats_.in_use_bytes;
}

bool BlockCache::give_back(void* p) {
  auto it = live_.find(p);
  if (it == live_.end()) return false;
  const size_t rounded = it->second;
  live_.erase(it);
  stats_.in_use_bytes -= rounded;
  stats_.cached_bytes += rounded;
  free_[rounded].push_back(p);
  return true;
}

void BlockCache::reset_peak() {
  stats_.peak_in_use_bytes = stats_.in_use_bytes;
  stats_.peak_reserved_bytes = stats_.reserved_bytes;
}

CachingDeviceAllocator::~CachingDeviceAllocator() {
  // Destructors must not throw; errors at process exit (driver already shut down) are ignored.
  cache_.drain([](void* b) { cudaFree(b); });
  for (auto& pool : pools_) pool->drain([](void* b) { cudaFree(b); });
}

void* CachingDeviceAllocator::driver_alloc(BlockCache& cache, size_t rounded, size_t requested) {
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, rounded);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    // Give the cached blocks back and try once more before giving up.
    cache_.drain([](void* b) { TE_CUDA_CHECK(cudaFree(b)); });
    err = cudaMalloc(&p, rounded);
  }
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    throw OutOfMemoryError(out_of_memory_message(requested, free_bytes, total_bytes,
                                                 cache_.stats().in_use_bytes, device_),
                           requested, free_bytes, total_bytes);
  }
  TE_CUDA_CHECK(err);
  cache.add_fresh(rounded);
  return p;
}

void* CachingDeviceAllocator::allocate(size_t bytes) {
  if (bytes == 0) return nullptr;
  const size_t rounded = exact_sizes_ ? bytes : round_block_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  BlockCache& cache = *active_;
  void* p = cache.take(rounded);
  if (!p) p = driver_alloc(cache, rounded, bytes);
  cache.hand_out(p, rounded);
  return p;
}

void CachingDeviceAllocator::deallocate(void* ptr, size_t) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  // Each block goes back to the cache it came from (a foreign pointer matches none: that never
  // happens unless memory is corrupted).
  if (cache_.give_back(ptr)) return;
  for (auto& pool : pools_)
    if (pool->give_back(ptr)) return;
}

int CachingDeviceAllocator::new_pool() {
  std::lock_guard<std::mutex> lock(mutex_);
  pools_.push_back(std::make_unique<BlockCache>());
  return static_cast<int>(pools_.size()) - 1;
}

void CachingDeviceAllocator::use_pool(int id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (id >= static_cast<int>(pools_.size()))
    throw Error("caching allocator: no private pool " + std::to_string(id));
  active_ = id < 0 ? &cache_ : pools_[static_cast<size_t>(id)].get();
}

void CachingDeviceAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  TE_CUDA_CHECK(cudaDeviceSynchronize());
  cache_.drain([](void* b) { TE_CUDA_CHECK(cudaFree(b)); });
}

AllocatorStats CachingDeviceAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  AllocatorStats s = cache_.stats();
  for (const auto& pool : pools_) {
    const AllocatorStats& p = pool->stats();
    s.in_use_bytes += p.in_use_bytes;
    s.cached_bytes += p.cached_bytes;
    s.peak_in_use_bytes += p.peak_in_use_bytes;
    s.reserved_bytes += p.reserved_bytes;
    s.peak_reserved_bytes += p.peak_reserved_bytes;
    s.driver_allocs += p.driver_allocs;
    s.driver_frees += p.driver_frees;
    s.cache_hits += p.cache_hits;
  }
  return s;
}

void CachingDeviceAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  cache_.reset_peak();
  for (auto& pool : pools_) pool->reset_peak();
}

PinnedHostAllocator::~PinnedHostAllocator() {
  cache_.drain([](void* p) { cudaFreeHost(p); });
}

void* PinnedHostAllocator::allocate(size_t bytes) {
  if (bytes == 0) return nullptr;
  const size_t rounded = round_block_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  void* p = cache_.take(rounded);
  if (!p) {
    const cudaError_t err = cudaHostAlloc(&p, rounded, cudaHostAllocDefault);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      throw OutOfMemoryError("out of page-locked host memory: tried to allocate " + mib(bytes) +
                                 " with " + mib(cache_.stats().in_use_bytes) +
                                 " already pinned; reduce the batch size or the loader's "
                                 "prefetch depth",
                             bytes, 0, 0);
    }
    TE_CUDA_CHECK(err);
    cache_.add_fresh(rounded);
  }
  cache_.hand_out(p, rounded);
  return p;
}

void PinnedHostAllocator::deallocate(void* ptr, size_t) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  cache_.give_back(ptr);
}

AllocatorStats PinnedHostAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cache_.stats();
}

}  // namespace te::cuda
