// The overlapped reducer's bookkeeping with a recording reduction in place of a collective.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "engine/distributed/communicator.h"
#include "engine/distributed/data_parallel.h"
#include "engine/distributed/overlapped_reducer.h"

namespace te {
namespace {

struct Recorder {
  std::mutex mutex;
  std::vector<int64_t> begins;  // each reduced bucket's first element, in order
  std::vector<std::vector<float>> seen;  // the bucket's values when it was reduced
  void record(Tensor& bucket, int64_t begin) {
    std::lock_guard<std::mutex> lock(mutex);
    begins.push_back(begin);
    seen.push_back(bucket.to_vector());
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mutex);
    return begins.size();
  }
};

// Waits (bounded) until `n` buckets were reduced; the reduction runs on another thread.
bool wait_for(Recorder& r, size_t n) {
  for (int i = 0; i < 2000 && r.count() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return r.count() >= n;
}

// 10 floats in buckets of 3 from the end: [7,10) [4,7) [1,4) [0,1).
struct Fixture {
  Tensor flat = Tensor::zeros({10});
  Recorder rec;
  OverlappedReducer reducer{DataParallel::buckets(10, 4, 12), [this](Tensor& b) {
                              rec.record(b, (static_cast<float*>(b.raw()) - flat.data<float>()));
                            }};
};

TEST(OverlappedReducer, ReducesABucketOnlyOnceAllOfItIsFinalAndInTheFixedOrder) {
  Fixture f;
  f.reducer.arm(f.flat);
  f.reducer.ready(4, 3);  // bucket 1 complete, but bucket 0 comes first
  f.reducer.ready(8, 2);  // bucket 0 still misses element 7
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(f.rec.count(), 0u);
  f.flat.data<float>()[7] = 5;  // its final value, written before it is reported
  f.reducer.ready(7, 1);
  ASSERT_TRUE(wait_for(f.rec, 2));  // 0, then the already complete 1
  f.reducer.finish();  // 2 and 3 were never reported: reduced now
  EXPECT_EQ(f.rec.begins, (std::vector<int64_t>{7, 4, 1, 0}));
  EXPECT_EQ(f.rec.seen[0][0], 5);  // the value written before the report
  EXPECT_EQ(f.reducer.early_buckets(), 2);
  EXPECT_FALSE(f.reducer.armed());
}

TEST(OverlappedReducer, ReportsOutsideAnArmedBackwardAreIgnored) {
  Fixture f;
  f.reducer.ready(0, 10);  // e.g. a micro-batch before the last
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(f.rec.count(), 0u);
  f.reducer.arm(f.flat);
  f.reducer.ready(5, 5);  // ranges straddling buckets
  ASSERT_TRUE(wait_for(f.rec, 1));
  f.reducer.ready(0, 5);
  f.reducer.finish();
  EXPECT_EQ(f.rec.begins.size(), 4u);
  f.reducer.finish();  // not armed: nothing to do
  EXPECT_EQ(f.rec.begins.size(), 4u);
}

TEST(OverlappedReducer, AFailedCollectiveIsThrownByFinishAndStopsTheRest) {
  std::atomic<int> calls{0};
  OverlappedReducer reducer(DataParallel::buckets(10, 4, 12), [&](Tensor&) {
    if (++calls == 2) throw DistributedError("rank 1: MPI_Allreduce failed: peer gone");
  });
  Tensor flat = Tensor::zeros({10});
  reducer.arm(flat);
  try {
    reducer.finish();
    FAIL() << "no error";
  } catch (const DistributedError& e) {
    EXPECT_NE(std::string(e.what()).find("peer gone"), std::string::npos);
  }
  EXPECT_EQ(calls.load(), 2);  // the buckets after the failed one are not attempted
  EXPECT_THROW(reducer.arm(flat), DistributedError);
}

}  // namespace
}  // namespace te
