#pragma once
// Static memory planning: buffers with known sizes and lifetimes are placed at offsets in one
// arena so that buffers alive at the same time never overlap, while buffers whose lifetimes are
// disjoint share memory. A training step has a fixed schedule (forward in order, backward in
// reverse), so each activation and activation gradient has a known first and last use and the
// whole step fits in one allocation made before the first step (also what a captured CUDA
// graph needs: fixed addresses).
//
// Placement is greedy by size (largest first, each into the best-fitting gap among the buffers
// it overlaps in time, else above them), the strategy of TensorFlow Lite's arena planner: not
// optimal (the problem is NP-hard) but close on chain-like graphs, and O(n^2) for n buffers.
#include <cstdint>
#include <vector>

namespace te {

struct BufferLifetime {
  int64_t bytes = 0;  // 0: needs no memory (offset 0)
  int first = 0;      // first step that writes it
  int last = 0;       // last step that reads it (inclusive; >= first)
};

struct MemoryPlan {
  std::vector<int64_t> offsets;  // bytes, one per buffer, multiples of the alignment
  int64_t arena_bytes = 0;       // the peak: the arena's size
  int64_t total_bytes = 0;       // sum of the aligned sizes: the arena without reuse
  // The most bytes alive at one step: no placement can need less, so arena_bytes /
  // lower_bound_bytes measures the greedy placement's fragmentation.
  int64_t lower_bound_bytes = 0;
};

// `alignment` must be a power of two. With reuse=false every buffer gets its own range (the
// reference the planned layout is tested against).
MemoryPlan plan_memory(const std::vector<BufferLifetime>& buffers, int64_t alignment,
                       bool reuse = true);

// True when the two buffers are alive at a common step.
inline bool lifetimes_overlap(const BufferLifetime& a, const BufferLifetime& b) {
  return a.first <= b.last && b.first <= a.last;
}

}  // namespace te
