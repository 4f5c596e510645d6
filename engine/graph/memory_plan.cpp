#include "engine/graph/memory_plan.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "engine/core/error.h"

namespace te {
namespace {
int64_t align_up(int64_t bytes, int64_t alignment) { return (bytes + alignment - 1) & ~(alignment - 1); }
}  // namespace

MemoryPlan plan_memory(const std::vector<BufferLifetime>& buffers, int64_t alignment, bool reuse) {
  if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
    throw Error("plan_memory: alignment must be a power of two, got " + std::to_string(alignment));
  const size_t n = buffers.size();
  std::vector<int64_t> size(n);
  for (size_t i = 0; i < n; ++i) {
    const BufferLifetime& b = buffers[i];
    if (b.bytes < 0 || b.last < b.first)
      throw Error("plan_memory: buffer " + std::to_string(i) + " has " + std::to_string(b.bytes) +
                  " bytes and lifetime [" + std::to_string(b.first) + ", " + std::to_string(b.last) + "]");
    size[i] = align_up(b.bytes, alignment);
  }
  MemoryPlan plan;
  plan.offsets.assign(n, 0);
  plan.total_bytes = std::accumulate(size.begin(), size.end(), int64_t{0});
  int last_step = 0;
  for (const BufferLifetime& b : buffers) last_step = std::max(last_step, b.last);
  std::vector<int64_t> alive(static_cast<size_t>(last_step) + 2, 0);  // a difference array
  for (size_t i = 0; i < n; ++i) {
    alive[buffers[i].first] += size[i];
    alive[buffers[i].last + 1] -= size[i];
  }
  for (int64_t s = 0, at = 0; s <= last_step; ++s) plan.lower_bound_bytes = std::max(plan.lower_bound_bytes, at += alive[s]);
  if (!reuse) {
    int64_t offset = 0;
    for (size_t i = 0; i < n; ++i) {
      plan.offsets[i] = offset;
      offset += size[i];
    }
    plan.arena_bytes = offset;
    return plan;
  }

  // Largest first; ties by first use so the layout does not depend on sort stability.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (size[a] != size[b]) return size[a] > size[b];
    if (buffers[a].first != buffers[b].first) return buffers[a].first < buffers[b].first;
    return a < b;
  });

  std::vector<size_t> placed;  // indices, kept sorted by offset
  std::vector<size_t> conflicts;
  for (size_t i : order) {
    if (size[i] == 0) continue;
    conflicts.clear();
    for (size_t p : placed)
      if (lifetimes_overlap(buffers[i], buffers[p])) conflicts.push_back(p);
    // `placed` is sorted by offset, so `conflicts` is too: walk the gaps between them.
    int64_t best_offset = -1, best_gap = std::numeric_limits<int64_t>::max();
    int64_t cursor = 0;
    for (size_t p : conflicts) {
      const int64_t gap = plan.offsets[p] - cursor;
      if (gap >= size[i] && gap < best_gap) {
        best_gap = gap;
        best_offset = cursor;
      }
      cursor = std::max(cursor, plan.offsets[p] + size[p]);
    }
    plan.offsets[i] = best_offset >= 0 ? best_offset : cursor;
    plan.arena_bytes = std::max(plan.arena_bytes, plan.offsets[i] + size[i]);
    const auto at = std::upper_bound(placed.begin(), placed.end(), i, [&](size_t a, size_t b) {
      return plan.offsets[a] < plan.offsets[b];
    });
    placed.insert(at, i);
  }
  return plan;
}

}  // namespace te
