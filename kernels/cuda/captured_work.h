#pragma once
// A piece of GPU work recorded once into a CUDA graph and replayed: one launch instead of the
// hundreds of kernel launches (and the host time they cost) that a training step issues.
//
// capture(work) runs `work` with the compute stream in capture mode (relaxed: the allocator
// may still call cudaMalloc), so nothing executes; replay() runs what was recorded. Whatever
// `work` computes on the host is fixed at capture time: kernel arguments (a learning rate, a
// loss scale, a step counter), tensor addresses, the shapes. The caller re-captures when any
// of those change. Temporary device memory the work allocates comes from a private pool of the
// caching allocator and stays reserved for the replays.
//
// Host-only header: no CUDA types, so engine code can use it without the CUDA headers.
#include <functional>
#include <string>

namespace te::cuda {

class CapturedWork {
 public:
  CapturedWork();
  ~CapturedWork();
  CapturedWork(const CapturedWork&) = delete;
  CapturedWork& operator=(const CapturedWork&) = delete;

  // False, with the reason in `why`, when the work cannot be captured (an operation that is
  // not allowed while capturing, an exception from `work`); the stream is usable afterwards
  // and nothing has run. Replaces an earlier capture.
  bool capture(const std::function<void()>& work, std::string* why);
  // Temporary memory comes from this private pool of the caching allocator (shared by
  // captures that are never replayed interleaved, e.g. successive captures of one step slot,
  // so that re-captures do not reserve new memory each time); -1: a pool of its own.
  void use_pool(int pool) { pool_ = pool; }
  int pool() const { return pool_; }
  // Runs the captured work on the compute stream. Throws if nothing is captured.
  void replay();
  bool captured() const { return exec_ != nullptr; }
  void reset();

 private:
  void* graph_ = nullptr;  // cudaGraph_t
  void* exec_ = nullptr;   // cudaGraphExec_t
  int pool_ = -1;          // the allocator's private pool for this work
};

}  // namespace te::cuda
