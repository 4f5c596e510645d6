// Streams and events of the emulated CUDA runtime (the cudaStream* and cudaEvent* calls), and
// the work queues behind deferred streams (stream_queue.h). One recursive mutex guards every
// queue and is held while queued work runs: work may drain other queues (a wait on an event),
// and host threads other than the one that issued the work may make it run.
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include <cuda_runtime_api.h>

#include "kernels/cuda/emu/emulation.h"
#include "kernels/cuda/emu/stream_queue.h"

namespace te::emu {
namespace {

// A stream's queued work, in issue order. Positions count every item ever pushed, so an event
// can name "everything up to here" after earlier items have run.
class WorkQueue {
 public:
  explicit WorkQueue(bool blocking) : blocking_(blocking) {}

  void push(std::function<void()> work) { pending_.push_back({++pushed_, std::move(work)}); }
  // The position an event recorded now marks: the newest item issued.
  uint64_t newest() const { return pushed_; }
  bool idle() const { return pending_.empty(); }
  bool blocking() const { return blocking_; }

  // Runs the items up to `position`, oldest first. Each is removed before it runs, so a nested
  // drain of this queue (through another stream's wait) never runs an item twice.
  void run_until(uint64_t position) {
    while (!pending_.empty() && pending_.front().position <= position) {
      std::function<void()> work = std::move(pending_.front().work);
      pending_.pop_front();
      work();
    }
  }
  void run_all() { run_until(UINT64_MAX); }

 private:
  struct Item {
    uint64_t position;
    std::function<void()> work;
  };
  std::deque<Item> pending_;
  uint64_t pushed_ = 0;
  bool blocking_;
};

std::recursive_mutex& queue_mutex() {
  static auto* m = new std::recursive_mutex;  // never destroyed: streams may outlive statics
  return *m;
}
// Every live stream's queue (for device-wide and legacy-stream synchronisation).
std::set<std::shared_ptr<WorkQueue>>& live_queues() {
  static auto* s = new std::set<std::shared_ptr<WorkQueue>>;
  return *s;
}

// The legacy default stream (null, cudaStreamLegacy) and the per-thread default stream have no
// queue: their work runs when issued.
bool is_default_stream(cudaStream_t s) { return reinterpret_cast<uintptr_t>(s) < 16; }

void drain_queues(bool blocking_only) {
  // A snapshot: queued work may not create or destroy streams, but draining is reentrant.
  const std::vector<std::shared_ptr<WorkQueue>> queues(live_queues().begin(), live_queues().end());
  for (const auto& q : queues)
    if (!blocking_only || q->blocking()) q->run_all();
}

}  // namespace
}  // namespace te::emu

struct CUstream_st {
  unsigned flags;
  std::shared_ptr<te::emu::WorkQueue> queue;
};
// The last record: the queue and position it marks (none: complete, as a fresh event is).
struct CUevent_st {
  unsigned flags;
  std::shared_ptr<te::emu::WorkQueue> queue;
  uint64_t position = 0;
};

namespace te::emu {

bool streams_deferred() { return options().deferred_streams; }

void submit(cudaStream_t stream, std::function<void()> work) {
  std::lock_guard lock(queue_mutex());
  if (is_default_stream(stream)) {
    drain_queues(/*blocking_only=*/true);
    work();
  } else if (streams_deferred()) {
    stream->queue->push(std::move(work));
  } else {
    work();
  }
}

void drain(cudaStream_t stream) {
  std::lock_guard lock(queue_mutex());
  if (is_default_stream(stream)) drain_queues(/*blocking_only=*/true);
  else stream->queue->run_all();
}

void drain_all() {
  std::lock_guard lock(queue_mutex());
  drain_queues(/*blocking_only=*/false);
}

}  // namespace te::emu

extern "C" {

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int flags) {
  std::lock_guard lock(te::emu::queue_mutex());
  auto queue = std::make_shared<te::emu::WorkQueue>((flags & cudaStreamNonBlocking) == 0);
  te::emu::live_queues().insert(queue);
  *s = new CUstream_st{flags, std::move(queue)};
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  if (te::emu::is_default_stream(s)) return cudaErrorInvalidResourceHandle;
  std::lock_guard lock(te::emu::queue_mutex());
  s->queue->run_all();  // a GPU finishes the work of a destroyed stream
  te::emu::live_queues().erase(s->queue);
  delete s;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  te::emu::drain(s);
  return cudaSuccess;
}
// Work still queued is "not ready"; it runs now, so the next query (a polling loop) succeeds.
cudaError_t cudaStreamQuery(cudaStream_t s) {
  std::lock_guard lock(te::emu::queue_mutex());
  if (te::emu::is_default_stream(s) || s->queue->idle()) return cudaSuccess;
  s->queue->run_all();
  return cudaErrorNotReady;
}
cudaError_t cudaDeviceSynchronize(void) {
  te::emu::drain_all();
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int flags) {
  *e = new CUevent_st{flags, nullptr, 0};
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, 0); }
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  std::lock_guard lock(te::emu::queue_mutex());
  delete e;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  std::lock_guard lock(te::emu::queue_mutex());
  if (te::emu::is_default_stream(s)) {
    te::emu::drain_queues(/*blocking_only=*/true);
    e->queue = nullptr;
    e->position = 0;
  } else {
    e->queue = s->queue;
    e->position = s->queue->newest();
  }
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  std::lock_guard lock(te::emu::queue_mutex());
  if (e->queue) e->queue->run_until(e->position);
  return cudaSuccess;
}
// The wait takes the event's state when it is issued, as on a GPU (a later record does not
// move it).
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int) {
  te::emu::note_stream_wait(stream, event);  // counted for tests
  std::lock_guard lock(te::emu::queue_mutex());
  std::shared_ptr<te::emu::WorkQueue> producer = event->queue;
  if (!producer) return cudaSuccess;
  const uint64_t position = event->position;
  te::emu::submit(stream, [producer, position] { producer->run_until(position); });
  return cudaSuccess;
}

}  // extern "C"
