// The graph's static memory plan: when each activation and activation gradient is first
// written and last read in the step's fixed schedule, and the arena they are laid out in.
#include <cmath>

#include "engine/graph/graph.h"

namespace te {
namespace {
// 256 bytes: cudaMalloc's alignment, so every planned tensor starts as aligned as a fresh
// allocation would (vectorised loads, cuDNN/cuBLAS alignment preferences).
constexpr int64_t kArenaAlignment = 256;
}  // namespace

std::vector<BufferLifetime> Graph::lifetimes(int64_t batch) const {
  const std::vector<Shape> shapes = shapes_at(batch);
  const int n = static_cast<int>(nodes_.size());
  const int64_t elem = static_cast<int64_t>(dtype_size(compute_dtype_));
  const int end = inference_only_ ? n - 1 : 2 * n - 1;  // the step's last step
  auto backward_step = [n](int k) { return 2 * n - 1 - k; };

  std::vector<BufferLifetime> b(2 * nodes_.size());
  for (int i = 0; i < n; ++i) {
    BufferLifetime& out = b[2 * i];
    out.bytes = shapes[i].numel() * elem;
    out.first = out.last = i;
  }
  for (int c = 0; c < n; ++c) {
    const Node& node = nodes_[c];
    const BackwardReads reads = node.layer->backward_reads();
    const bool runs_backward = !inference_only_ && node.needs_grad;
    for (size_t j = 0; j < node.inputs.size(); ++j) {
      const int s = node.inputs[j];
      if (s < 0) continue;  // the caller's input is not ours to plan
      BufferLifetime& in = b[2 * s];
      in.last = std::max(in.last, c);  // read by this forward
      if (runs_backward && reads.reads_input(j)) in.last = std::max(in.last, backward_step(c));
      // The gradient of an input is first written by the latest consumer's backward
      // (backward runs in reverse) and last read by the input's own backward.
      if (runs_backward && nodes_[s].needs_grad) {
        BufferLifetime& g = b[2 * s + 1];
        const int written = backward_step(c);
        if (g.bytes == 0) {
          g.bytes = shapes[s].numel() * elem;
          g.first = written;
          g.last = backward_step(s);
        } else {
          g.first = std::min(g.first, written);
        }
      }
    }
    if (runs_backward && reads.output) b[2 * c].last = std::max(b[2 * c].last, backward_step(c));
  }
  b[2 * (n - 1)].last = end;  // the graph output is the caller's until the step ends
  return b;
}

GraphMemory Graph::memory_at(int64_t batch) const {
  const std::vector<BufferLifetime> b = lifetimes(batch);
  const MemoryPlan plan = plan_memory(b, kArenaAlignment, reuse_memory_);
  GraphMemory m;
  m.batch = batch;
  m.arena_bytes = plan.arena_bytes;
  m.lower_bound_bytes = plan.lower_bound_bytes;
  m.unplanned_bytes = plan_memory(b, kArenaAlignment, /*reuse=*/false).arena_bytes;
  for (const BufferLifetime& x : b) m.buffers += x.bytes > 0;
  const Shape input = batched_input(batch);
  const std::vector<Shape> shapes = shapes_at(batch);
  if (!inference_only_)
    for (const Node& n : nodes_) m.saved_bytes += n.layer->saved_bytes(input_shapes(shapes, input, n));
  return m;
}

void Graph::prepare(int64_t batch) {
  const int64_t elem = static_cast<int64_t>(dtype_size(compute_dtype_));
  if (batch > planned_batch_) {
    const std::vector<BufferLifetime> b = lifetimes(batch);
    const MemoryPlan plan = plan_memory(b, kArenaAlignment, reuse_memory_);
    // Drop the old arena (and every view of it) before allocating the new one.
    for (Node& n : nodes_) n.output = n.grad = Tensor();
    arena_ = Tensor();
    arena_ = Tensor::empty({std::max<int64_t>(plan.arena_bytes / elem, 1)}, compute_dtype_, device_);
    last_used_at_.assign(2 * nodes_.size(), {});
    for (size_t i = 0; i < nodes_.size(); ++i) {
      nodes_[i].output_offset = plan.offsets[2 * i] / elem;
      nodes_[i].grad_offset = plan.offsets[2 * i + 1] / elem;
      for (int j : {0, 1}) {
        const int id = static_cast<int>(2 * i + j);
        // The graph output stays the caller's; it is never poisoned.
        if (b[id].bytes > 0 && id != static_cast<int>(2 * nodes_.size() - 2)) last_used_at_[b[id].last].push_back(id);
      }
    }
    planned_batch_ = batch;
    views_batch_ = -1;
  }
  if (views_batch_ == batch) return;
  const std::vector<Shape> shapes = shapes_at(batch);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    n.output = arena_.slice_flat(n.output_offset, shapes[i]);
    // The last node's gradient is the caller's grad_output.
    const bool has_grad = !inference_only_ && n.needs_grad && i + 1 < nodes_.size();
    n.grad = has_grad ? arena_.slice_flat(n.grad_offset, shapes[i]) : Tensor();
  }
  views_batch_ = batch;
}

void Graph::poison_after(int step) {
  if (step < 0 || static_cast<size_t>(step) >= last_used_at_.size()) return;
  for (int id : last_used_at_[step]) {
    Node& n = nodes_[id / 2];
    Tensor& t = id % 2 ? n.grad : n.output;
    if (t.defined()) t.fill(std::nan(""));
  }
}

}  // namespace te
