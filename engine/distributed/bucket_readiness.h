#pragma once
// Which gradient buckets backward has finished: backward reports final ranges of the flat
// gradients, and a bucket is ready once every element of it was reported. Buckets are taken
// strictly in their fixed order (bucket 0 first), whatever order they complete in, so every
// rank issues the same collectives in the same order. Not thread-safe (callers lock).
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace te {

class BucketReadiness {
 public:
  using Ranges = std::vector<std::pair<int64_t, int64_t>>;  // [begin, end) elements
  explicit BucketReadiness(Ranges buckets)
      : buckets_(std::move(buckets)), pending_(buckets_.size(), 0), next_(buckets_.size()) {}

  const Ranges& buckets() const { return buckets_; }
  // A new backward: nothing reported, bucket 0 next.
  void restart() {
    for (size_t i = 0; i < buckets_.size(); ++i) pending_[i] = buckets_[i].second - buckets_[i].first;
    next_ = 0;
  }
  // [offset, offset + count) is final; true when some bucket became complete.
  bool report(int64_t offset, int64_t count) {
    bool completed = false;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      const int64_t overlap = std::min(offset + count, buckets_[i].second) -
                              std::max(offset, buckets_[i].first);
      if (overlap <= 0) continue;
      pending_[i] -= overlap;
      completed |= pending_[i] <= 0;
    }
    return completed;
  }
  // Backward is over: whatever was not reported counts as final.
  void report_all() { std::fill(pending_.begin(), pending_.end(), 0); }
  bool next_ready() const { return next_ < buckets_.size() && pending_[next_] <= 0; }
  size_t next() const { return next_; }
  void advance() { ++next_; }
  bool all_taken() const { return next_ == buckets_.size(); }

 private:
  Ranges buckets_;
  std::vector<int64_t> pending_;  // per bucket: elements not reported final yet
  size_t next_;                   // the bucket taken next
};

}  // namespace te
