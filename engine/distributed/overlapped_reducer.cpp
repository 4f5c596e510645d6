#include "engine/distributed/overlapped_reducer.h"

#include <algorithm>
#include <chrono>

#include "engine/distributed/bucket_readiness.h"
#include "engine/distributed/communicator.h"

namespace te {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
}  // namespace

struct OverlappedReducer::State {
  explicit State(BucketReadiness::Ranges buckets) : readiness(std::move(buckets)) {}
  BucketReadiness readiness;
  ReduceBucket reduce;
  std::mutex mutex;
  std::condition_variable cv;
  Tensor flat;
  bool armed = false, stop = false, in_collective = false;
  bool backward_over = false;    // finish() was called for this arming
  int64_t early = 0;
  std::exception_ptr error;      // a failed reduction: the collective order is broken for good
  double busy = 0, wait = 0;
};

OverlappedReducer::OverlappedReducer(std::vector<std::pair<int64_t, int64_t>> buckets,
                                     ReduceBucket reduce)
    : state_(std::make_shared<State>(std::move(buckets))) {
  state_->reduce = std::move(reduce);
  thread_ = std::thread([s = state_] { run(s); });
}

OverlappedReducer::~OverlappedReducer() {
  bool blocked;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop = true;
    blocked = state_->in_collective;
  }
  state_->cv.notify_all();
  // A thread inside a collective whose peers never come cannot be unblocked (MPI collectives
  // are not cancellable): joining would hang this rank's error exit. It keeps the state alive.
  if (blocked)
    thread_.detach();
  else
    thread_.join();
}

void OverlappedReducer::run(const std::shared_ptr<State>& s) {
  std::unique_lock<std::mutex> lock(s->mutex);
  for (;;) {
    s->cv.wait(lock, [&] {
      return s->stop || (s->armed && !s->error && s->readiness.next_ready());
    });
    if (s->stop) return;
    const auto [begin, end] = s->readiness.buckets()[s->readiness.next()];
    Tensor bucket = s->flat.slice_flat(begin, Shape{end - begin});
    s->in_collective = true;
    if (!s->backward_over) ++s->early;
    lock.unlock();
    const auto start = Clock::now();
    std::exception_ptr error;
    try {
      s->reduce(bucket);
    } catch (...) {
      error = std::current_exception();
    }
    const double took = seconds_since(start);
    lock.lock();
    s->in_collective = false;
    s->busy += took;
    if (error)
      s->error = error;
    else
      s->readiness.advance();
    s->cv.notify_all();
  }
}

void OverlappedReducer::arm(Tensor flat) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (state_->error) std::rethrow_exception(state_->error);
  for (const auto& [begin, end] : state_->readiness.buckets())
    if (begin < 0 || end > flat.numel())
      throw DistributedError("overlapped all-reduce: bucket [" + std::to_string(begin) + ", " +
                             std::to_string(end) + ") outside the " + std::to_string(flat.numel()) +
                             " gradients");
  state_->flat = std::move(flat);
  state_->readiness.restart();
  state_->armed = true;
  state_->backward_over = false;
}

bool OverlappedReducer::armed() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->armed;
}

void OverlappedReducer::ready(int64_t offset, int64_t count) {
  bool some_bucket_ready = false;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    if (!state_->armed) return;
    some_bucket_ready = state_->readiness.report(offset, count);
  }
  if (some_bucket_ready) state_->cv.notify_all();
}

void OverlappedReducer::finish() {
  std::unique_lock<std::mutex> lock(state_->mutex);
  if (!state_->armed) return;
  state_->backward_over = true;
  state_->readiness.report_all();
  state_->cv.notify_all();
  const auto start = Clock::now();
  state_->cv.wait(lock, [&] { return state_->error || state_->readiness.all_taken(); });
  state_->wait += seconds_since(start);
  state_->armed = false;
  state_->flat = Tensor();
  if (state_->error) std::rethrow_exception(state_->error);
}

double OverlappedReducer::busy_seconds() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->busy;
}

int64_t OverlappedReducer::early_buckets() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->early;
}

double OverlappedReducer::wait_seconds() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->wait;
}

}  // namespace te
