#pragma once
// Turns a hang into an exit. A collective blocks until every rank joins it; a peer that died
// without its launcher noticing, or that is stuck, would leave the others waiting forever.
// Each collective is bracketed by begin()/end(); a thread checks that none lasts longer than
// the timeout, and otherwise hands a message naming the rank, the operation and the wait to
// the program's timeout handler. The trainer's (engine/cli/cmd_train.cpp) prints it and ends
// the process with exit code 124 (the launcher then ends the others): library code decides
// no exit codes. Without a handler the message is printed and the rank keeps waiting.
// Why an exit and not an exception: the waiting thread is inside MPI or NCCL and cannot be
// unblocked portably (MPI has no cancellable collectives), so nothing could catch it.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace te {

// Called on the watchdog's thread when a collective outlasts the timeout.
using CollectiveTimeoutHandler = void (*)(const std::string& message);
void set_collective_timeout_handler(CollectiveTimeoutHandler handler);

class CollectiveWatchdog {
 public:
  // timeout_s <= 0 disables it.
  CollectiveWatchdog(int rank, double timeout_s);
  ~CollectiveWatchdog();
  CollectiveWatchdog(const CollectiveWatchdog&) = delete;
  CollectiveWatchdog& operator=(const CollectiveWatchdog&) = delete;

  void begin(const char* operation, int64_t bytes);
  void end();
  double timeout_s() const { return timeout_s_; }

 private:
  void watch();
  int rank_;
  double timeout_s_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false, busy_ = false;
  const char* operation_ = "";
  int64_t bytes_ = 0, sequence_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::thread thread_;
};

// RAII bracket for one collective.
class WatchedCollective {
 public:
  WatchedCollective(CollectiveWatchdog* w, const char* operation, int64_t bytes) : w_(w) {
    if (w_) w_->begin(operation, bytes);
  }
  ~WatchedCollective() {
    if (w_) w_->end();
  }
  WatchedCollective(const WatchedCollective&) = delete;
  WatchedCollective& operator=(const WatchedCollective&) = delete;

 private:
  CollectiveWatchdog* w_;
};

}  // namespace te
