#include "engine/distributed/collective_watchdog.h"

#include <cstdio>
#include <cstdlib>

namespace te {
namespace {
std::atomic<CollectiveTimeoutHandler> g_timeout_handler{nullptr};
}  // namespace

void set_collective_timeout_handler(CollectiveTimeoutHandler handler) { g_timeout_handler = handler; }

CollectiveWatchdog::CollectiveWatchdog(int rank, double timeout_s) : rank_(rank), timeout_s_(timeout_s) {
  if (timeout_s_ > 0) thread_ = std::thread([this] { watch(); });
}

CollectiveWatchdog::~CollectiveWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CollectiveWatchdog::begin(const char* operation, int64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  busy_ = true;
  operation_ = operation;
  bytes_ = bytes;
  ++sequence_;
  started_ = std::chrono::steady_clock::now();
  cv_.notify_all();
}

void CollectiveWatchdog::end() {
  std::lock_guard<std::mutex> lock(mutex_);
  busy_ = false;
}

void CollectiveWatchdog::watch() {
  const auto timeout = std::chrono::duration<double>(timeout_s_);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    if (!busy_) {
      cv_.wait(lock, [&] { return stop_ || busy_; });
      continue;
    }
    const int64_t seq = sequence_;
    const auto deadline = started_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
    if (cv_.wait_until(lock, deadline, [&] { return stop_ || !busy_ || sequence_ != seq; })) continue;
    char message[512];
    std::snprintf(message, sizeof(message),
                  "rank %d waited %.0f s in %s (%lld bytes) for the other ranks: a peer rank died "
                  "or stopped responding (see the launcher's and the other ranks' messages)",
                  rank_, timeout_s_, operation_, static_cast<long long>(bytes_));
    if (const CollectiveTimeoutHandler handler = g_timeout_handler.load()) {
      lock.unlock();
      handler(message);
      lock.lock();
    } else {
      std::fprintf(stderr, "warning: %s\n", message);
    }
    // Reported once per collective: wait for this one to end (or the handler ended the process).
    cv_.wait(lock, [&] { return stop_ || !busy_ || sequence_ != seq; });
  }
}

}  // namespace te
