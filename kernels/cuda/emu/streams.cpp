// Streams, events and CUDA graphs of the emulated CUDA runtime (the cudaStream*, cudaEvent* and
// cudaGraph* calls), the work queues behind deferred streams and stream capture
// (stream_queue.h). One recursive mutex guards every queue and capture and is held while
// queued work runs: work may drain other queues (a wait on an event), and host threads other
// than the one that issued the work may make it run.
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <cuda_runtime_api.h>

#include "kernels/cuda/emu/emulation.h"
#include "kernels/cuda/emu/runtime_error.h"
#include "kernels/cuda/emu/stream_queue.h"

namespace te::emu {
namespace {

using Work = std::function<void()>;

// A stream's queued work, in issue order. Positions count every item ever pushed, so an event
// can name "everything up to here" after earlier items have run.
class WorkQueue {
 public:
  explicit WorkQueue(bool blocking) : blocking_(blocking) {}

  void push(Work work) { pending_.push_back({++pushed_, std::move(work)}); }
  // The position an event recorded now marks: the newest item issued.
  uint64_t newest() const { return pushed_; }
  bool idle() const { return pending_.empty(); }
  bool blocking() const { return blocking_; }

  // Runs the items up to `position`, oldest first. Each is removed before it runs, so a nested
  // drain of this queue (through another stream's wait) never runs an item twice.
  void run_until(uint64_t position) {
    while (!pending_.empty() && pending_.front().position <= position) {
      Work work = std::move(pending_.front().work);
      pending_.pop_front();
      work();
    }
  }
  void run_all() { run_until(UINT64_MAX); }

 private:
  struct Item {
    uint64_t position;
    Work work;
  };
  std::deque<Item> pending_;
  uint64_t pushed_ = 0;
  bool blocking_;
};

// A stream capture in progress: the work issued to the stream is recorded, not run. `invalid`
// holds the first operation CUDA would refuse during it (the capture then ends in an error).
struct Capture {
  cudaStreamCaptureMode mode;
  std::vector<Work> nodes;
  std::string invalid;
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
std::set<std::shared_ptr<Capture>>& active_captures() {
  static auto* s = new std::set<std::shared_ptr<Capture>>;
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

void invalidate(Capture& c, const std::string& why) {
  if (c.invalid.empty()) c.invalid = why;
}

}  // namespace
}  // namespace te::emu

struct CUstream_st {
  unsigned flags;
  std::shared_ptr<te::emu::WorkQueue> queue;
  std::shared_ptr<te::emu::Capture> capture;  // while capturing
};
// The last record: the queue and position it marks (none: complete, as a fresh event is), or
// the capture it was recorded in.
struct CUevent_st {
  unsigned flags;
  std::shared_ptr<te::emu::WorkQueue> queue;
  uint64_t position = 0;
  std::shared_ptr<te::emu::Capture> captured;
};
struct CUgraph_st {
  std::vector<te::emu::Work> nodes;
};
struct CUgraphExec_st {
  std::vector<te::emu::Work> nodes;
};

namespace te::emu {
namespace {
bool capturing(cudaStream_t s) { return !is_default_stream(s) && s->capture; }

// An operation CUDA refuses on a capturing stream: invalidates its capture and records the error.
cudaError_t refuse_on_capturing_stream(cudaStream_t s, const std::string& what) {
  invalidate(*s->capture, what);
  return fail(cudaErrorStreamCaptureUnsupported,
              what + " while the stream is capturing a CUDA graph (not allowed: the capture is invalidated)");
}
}  // namespace

bool streams_deferred() { return options().deferred_streams; }

void submit(cudaStream_t stream, Work work) {
  std::lock_guard lock(queue_mutex());
  if (is_default_stream(stream)) {
    drain_queues(/*blocking_only=*/true);
    work();
  } else if (stream->capture) {
    stream->capture->nodes.push_back(std::move(work));
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

bool refused_while_capturing(cudaStream_t stream, const char* what) {
  std::lock_guard lock(queue_mutex());
  if (!capturing(stream)) return false;
  refuse_on_capturing_stream(stream, what);
  return true;
}

bool refused_while_any_capture(const char* what) {
  std::lock_guard lock(queue_mutex());
  if (active_captures().empty()) return false;
  for (const auto& c : active_captures()) invalidate(*c, what);
  fail(cudaErrorStreamCaptureUnsupported,
       std::string(what) + " while a stream is capturing a CUDA graph (it synchronises the device: "
                           "not allowed, the capture is invalidated)");
  return true;
}

}  // namespace te::emu

extern "C" {

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned int flags) {
  std::lock_guard lock(te::emu::queue_mutex());
  auto queue = std::make_shared<te::emu::WorkQueue>((flags & cudaStreamNonBlocking) == 0);
  te::emu::live_queues().insert(queue);
  *s = new CUstream_st{flags, std::move(queue), nullptr};
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  if (te::emu::is_default_stream(s)) return cudaErrorInvalidResourceHandle;
  std::lock_guard lock(te::emu::queue_mutex());
  if (s->capture) te::emu::active_captures().erase(s->capture);
  s->queue->run_all();  // a GPU finishes the work of a destroyed stream
  te::emu::live_queues().erase(s->queue);
  delete s;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  std::lock_guard lock(te::emu::queue_mutex());
  if (te::emu::capturing(s)) return te::emu::refuse_on_capturing_stream(s, "cudaStreamSynchronize");
  te::emu::drain(s);
  return cudaSuccess;
}
// Work still queued is "not ready"; it runs now, so the next query (a polling loop) succeeds.
cudaError_t cudaStreamQuery(cudaStream_t s) {
  std::lock_guard lock(te::emu::queue_mutex());
  if (te::emu::is_default_stream(s)) return cudaSuccess;
  if (s->capture) return te::emu::refuse_on_capturing_stream(s, "cudaStreamQuery");
  if (s->queue->idle()) return cudaSuccess;
  s->queue->run_all();
  return cudaErrorNotReady;
}
cudaError_t cudaDeviceSynchronize(void) {
  if (te::emu::refused_while_any_capture("cudaDeviceSynchronize")) return cudaErrorStreamCaptureUnsupported;
  te::emu::drain_all();
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned int flags) {
  *e = new CUevent_st{flags, nullptr, 0, nullptr};
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
  e->queue = nullptr;
  e->position = 0;
  e->captured = nullptr;
  if (te::emu::is_default_stream(s)) {
    te::emu::drain_queues(/*blocking_only=*/true);
  } else if (s->capture) {
    e->captured = s->capture;  // a node of the graph being captured
  } else {
    e->queue = s->queue;
    e->position = s->queue->newest();
  }
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  std::lock_guard lock(te::emu::queue_mutex());
  if (e->captured) {
    te::emu::invalidate(*e->captured, "cudaEventSynchronize of an event recorded during the capture");
    return te::emu::fail(cudaErrorStreamCaptureUnsupported,
                         "cudaEventSynchronize of an event recorded while capturing a CUDA graph");
  }
  if (e->queue) e->queue->run_until(e->position);
  return cudaSuccess;
}
// The wait takes the event's state when it is issued, as on a GPU (a later record does not
// move it). Inside a capture, CUDA allows waits on events of the same capture only (or, with
// cudaEventWaitExternal, on any event); an event recorded in a capture makes a stream that is
// not capturing join it, which the emulation does not do (one stream per capture).
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags) {
  te::emu::note_stream_wait(stream, event);  // counted for tests
  std::lock_guard lock(te::emu::queue_mutex());
  const bool waiter_captures = te::emu::capturing(stream);
  if (event->captured) {
    if (waiter_captures && stream->capture == event->captured) return cudaSuccess;  // in order already
    te::emu::invalidate(*event->captured, "a wait on one of its events from another stream");
    if (waiter_captures) te::emu::invalidate(*stream->capture, "a wait on an event of another capture");
    return te::emu::fail(cudaErrorStreamCaptureIsolation,
                         waiter_captures ? "a capturing stream waited on an event of another capture"
                                         : "a stream joining a capture through an event: cross-stream "
                                           "capture is not emulated");
  }
  std::shared_ptr<te::emu::WorkQueue> producer = event->queue;
  if (!producer) return cudaSuccess;  // never recorded, or complete
  if (waiter_captures && !(flags & cudaEventWaitExternal)) {
    te::emu::invalidate(*stream->capture, "a wait on an event recorded outside the capture");
    return te::emu::fail(cudaErrorStreamCaptureIsolation,
                         "a capturing stream waited on an event recorded outside the capture "
                         "(CUDA allows that only with cudaEventWaitExternal)");
  }
  const uint64_t position = event->position;
  te::emu::submit(stream, [producer, position] { producer->run_until(position); });
  return cudaSuccess;
}

// ---- stream capture and CUDA graphs ----
// A graph is the capture's work items in issue order; launching it issues them to a stream
// again, with the arguments they were captured with (kernel parameters, copy addresses), as a
// GPU replays a graph's nodes.
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode) {
  std::lock_guard lock(te::emu::queue_mutex());
  if (te::emu::is_default_stream(s))
    return te::emu::fail(cudaErrorStreamCaptureUnsupported, "capture on the legacy default stream");
  if (s->capture) return te::emu::fail(cudaErrorIllegalState, "the stream is already capturing");
  s->capture = std::make_shared<te::emu::Capture>(te::emu::Capture{mode, {}, ""});
  te::emu::active_captures().insert(s->capture);
  return cudaSuccess;
}
cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* status) {
  std::lock_guard lock(te::emu::queue_mutex());
  if (!te::emu::capturing(s)) *status = cudaStreamCaptureStatusNone;
  else if (s->capture->invalid.empty()) *status = cudaStreamCaptureStatusActive;
  else *status = cudaStreamCaptureStatusInvalidated;
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph) {
  std::lock_guard lock(te::emu::queue_mutex());
  *graph = nullptr;
  if (!te::emu::capturing(s)) return te::emu::fail(cudaErrorIllegalState, "the stream is not capturing");
  std::shared_ptr<te::emu::Capture> capture = std::move(s->capture);
  s->capture = nullptr;
  te::emu::active_captures().erase(capture);
  if (!capture->invalid.empty())
    return te::emu::fail(cudaErrorStreamCaptureInvalidated,
                         "the capture was invalidated by " + capture->invalid);
  *graph = new CUgraph_st{std::move(capture->nodes)};
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (!graph) return te::emu::fail(cudaErrorInvalidValue, "cudaGraphInstantiate of a null graph");
  *exec = new CUgraphExec_st{graph->nodes};
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
  if (!exec) return te::emu::fail(cudaErrorInvalidValue, "cudaGraphLaunch of a null graph");
  std::lock_guard lock(te::emu::queue_mutex());
  for (const te::emu::Work& node : exec->nodes) te::emu::submit(s, node);
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

}  // extern "C"
