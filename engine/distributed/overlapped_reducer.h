#pragma once
// The gradient all-reduce overlapped with backward (PyTorch DDP's design), for CPU ranks.
// Backward reports each layer's flat gradient range as final (Graph's gradients-ready hook);
// a bucket whose every element is final is reduced on a communication thread while backward
// goes on. Buckets are reduced strictly in their fixed order (bucket 0, the end of the flat
// buffer, first), whatever order they become ready in, so every rank issues the same
// collectives in the same order, and the result is the bytes of reducing them after backward.
//
// Only the communication thread calls the communicator between arm() and finish(); the caller
// must not issue collectives of its own in that window (the communicator allows one thread at
// a time, MPI_THREAD_SERIALIZED). The collectives still go through the communicator, so the
// collective watchdog covers them.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"

namespace te {

class OverlappedReducer {
 public:
  // Reduces one bucket (a view into the flat gradients) in place; runs on the comm thread.
  using ReduceBucket = std::function<void(Tensor& bucket)>;
  // `buckets`: [begin, end) element ranges, in the order they are reduced.
  OverlappedReducer(std::vector<std::pair<int64_t, int64_t>> buckets, ReduceBucket reduce);
  // Stops the thread. If it is blocked inside a collective (a peer vanished after this rank
  // failed), it is left behind rather than joined: the launcher or the watchdog ends the job.
  ~OverlappedReducer();
  OverlappedReducer(const OverlappedReducer&) = delete;
  OverlappedReducer& operator=(const OverlappedReducer&) = delete;

  // The next backward is the one whose gradients get reduced (with gradient accumulation, the
  // last micro-batch's): from now on ready() counts. `flat` must cover every bucket.
  void arm(Tensor flat);
  bool armed() const;
  // [offset, offset + count) of the flat gradients is final. Ignored when not armed.
  void ready(int64_t offset, int64_t count);
  // Backward is over: whatever was not reported counts as final; waits until every bucket is
  // reduced and disarms. Rethrows the comm thread's error (a DistributedError from a collective).
  void finish();

  // Seconds, summed since construction: the comm thread inside reductions, and finish()
  // waiting for them after backward ended (the communication backward did not hide).
  double busy_seconds() const;
  double wait_seconds() const;
  // Buckets whose reduction started before finish() was called, i.e. while backward ran.
  int64_t early_buckets() const;

 private:
  struct State;
  static void run(const std::shared_ptr<State>& s);
  std::shared_ptr<State> state_;  // shared with the thread (see the destructor)
  std::thread thread_;
};

}  // namespace te
