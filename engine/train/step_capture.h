#pragma once
// CUDA graphs for the training step: each micro-batch's device work (forward, loss, backward)
// is captured once per distinct situation and replayed afterwards, one graph launch instead of
// hundreds of kernel launches. A situation (StepKey) is everything the capture bakes in: the
// upload slot the input comes from, the micro-batch index (its loss slot), the batch rows, the
// activation arena's address and the loss scale. A key is run eagerly `warmup` times before it
// is captured (cuDNN plans, workspace and scratch sizes settle first). A capture is dropped when
// the shared cuDNN/cuBLAS workspace has moved since, or moved while it was being recorded; layers keep per-batch memory grow-only
// (ensure_view), so evaluations in between do not move what a capture recorded.
//
// Where capture is impossible it is not used, and one log line says why: a CPU run, a build
// without CUDA, a caller's reason (data parallelism's overlap or sync batch norm), a graph with dropout (its masks depend on the step counter, a host value the
// capture would freeze), `train.cuda_graphs: false`, or a capture that fails (the message is the
// CUDA error); after a failure the rest of the run is eager.
//
// The optimizer step, the gradient check and the loss-scale update stay outside: they depend
// on values that change every step (learning rate, Adam's step count) and read results back.
//
// The capture mechanism is a CaptureBackend: CUDA graphs in a CUDA build, a recording fake in
// the tests of this class's bookkeeping (tests/train/step_capture_test.cpp).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include "engine/graph/graph.h"

namespace te {

struct StepKey {
  int slot = 0;
  int64_t micro = 0, rows = 0;
  const void* arena = nullptr;
  const void* input = nullptr;
  double loss_scale = 1.0;
  bool operator<(const StepKey& o) const {
    return std::tie(slot, micro, rows, arena, input, loss_scale) <
           std::tie(o.slot, o.micro, o.rows, o.arena, o.input, o.loss_scale);
  }
};

// One captured piece of work (cuda::CapturedWork behind it on a GPU).
class CapturedStep {
 public:
  virtual ~CapturedStep() = default;
  // False with `why` when capture fails; nothing has run then.
  virtual bool capture(const std::function<void()>& work, std::string* why) = 0;
  virtual void replay() = 0;
  // The allocator pool its temporary memory comes from (-1: a new one on capture).
  virtual void use_pool(int pool) = 0;
  virtual int pool() const = 0;
};

struct CaptureBackend {
  std::function<std::unique_ptr<CapturedStep>()> make;
  // Where the shared workspace is now (captures that recorded another address are stale).
  std::function<const void*()> workspace;
};

class StepCapture {
 public:
  // `wanted`: train.cuda_graphs. Decides at once whether capture can apply to this graph,
  // and uses CUDA graphs. `ruled_out`: the caller's reason against capture ("" if none).
  StepCapture(bool wanted, const Graph& graph, const std::string& ruled_out = "", int warmup = 2);
  // Always active, over `backend` (tests).
  StepCapture(CaptureBackend backend, int warmup);
  ~StepCapture();

  bool active() const { return active_; }
  // Runs `device_work` for `key`: replayed, captured (then replayed), or eager.
  void run(const StepKey& key, const std::function<void()>& device_work);
  int64_t replays() const { return replays_; }
  int64_t captures() const { return captures_; }
  // Captures discarded because the workspace moved while they were recorded.
  int64_t dropped_captures() const { return dropped_captures_; }

 private:
  struct Entry {
    int eager_runs = 0;
    std::unique_ptr<CapturedStep> work;  // set once captured
    const void* workspace = nullptr;     // what the capture recorded
  };
  bool active_ = false;
  int warmup_;
  CaptureBackend backend_;
  int64_t replays_ = 0, captures_ = 0, dropped_captures_ = 0;
  std::map<StepKey, Entry> entries_;
  // One private allocator pool per (slot, micro-batch): its captures replace each other.
  std::map<std::pair<int, int64_t>, int> pools_;
};

}  // namespace te
