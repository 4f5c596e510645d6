// The bookkeeping of StepCapture (engine/train/step_capture.h) over a recording fake backend:
// when work runs eagerly, is captured or replayed, and what invalidates a capture. Replaying a
// capture whose recorded memory has moved would corrupt training silently, so these rules are
// tested here, without a GPU; tests/cuda/step_capture_test.cpp checks the real CUDA graphs.
#include <gtest/gtest.h>

#include "engine/train/step_capture.h"

namespace te {
namespace {

struct Record {
  int eager = 0, captured = 0, replayed = 0, next_pool = 0;
  bool fail_next_capture = false;
  const void* workspace = nullptr;
  const void* workspace_after_capture = nullptr;  // set: the workspace grows during a capture
  std::vector<int> pools_used;  // the pool each successful capture used
};

class FakeStep : public CapturedStep {
 public:
  explicit FakeStep(Record& r) : r_(r) {}
  bool capture(const std::function<void()>& work, std::string* why) override {
    if (r_.fail_next_capture) {
      r_.fail_next_capture = false;
      *why = "operation not permitted when stream is capturing";
      return false;
    }
    capturing_ = true;
    work();  // host code runs; on a GPU nothing would execute
    capturing_ = false;
    if (r_.workspace_after_capture) {
      r_.workspace = r_.workspace_after_capture;
      r_.workspace_after_capture = nullptr;
    }
    if (pool_ < 0) pool_ = r_.next_pool++;
    r_.pools_used.push_back(pool_);
    ++r_.captured;
    return true;
  }
  void replay() override { ++r_.replayed; }
  void use_pool(int pool) override { pool_ = pool; }
  int pool() const override { return pool_; }
  static bool capturing_;

 private:
  Record& r_;
  int pool_ = -1;
};
bool FakeStep::capturing_ = false;

struct Harness {
  Record rec;
  StepCapture sc;
  explicit Harness(int warmup) : sc(backend(), warmup) {}
  CaptureBackend backend() {
    CaptureBackend b;
    b.make = [this] { return std::make_unique<FakeStep>(rec); };
    b.workspace = [this] { return rec.workspace; };
    return b;
  }
  void run(const StepKey& k) {
    sc.run(k, [this] {
      if (!FakeStep::capturing_) ++rec.eager;
    });
  }
};

StepKey key(int slot, const void* arena, int64_t rows = 8) {
  StepKey k;
  k.slot = slot;
  k.rows = rows;
  k.arena = arena;
  return k;
}

int a0, a1;  // two arena addresses

TEST(StepCapture, WarmsUpThenCapturesOnceAndReplays) {
  Harness h(2);
  for (int i = 0; i < 6; ++i) h.run(key(0, &a0));
  EXPECT_EQ(h.rec.eager, 2);
  EXPECT_EQ(h.rec.captured, 1);
  EXPECT_EQ(h.rec.replayed, 4);  // the capture's own step, then three more
  EXPECT_EQ(h.sc.replays(), 4);
}

TEST(StepCapture, SlotsAreCapturedSeparately) {
  Harness h(1);
  for (int i = 0; i < 6; ++i) h.run(key(i % 2, &a0));
  EXPECT_EQ(h.rec.eager, 2);
  EXPECT_EQ(h.rec.captured, 2);
  EXPECT_EQ(h.rec.replayed, 4);
  EXPECT_NE(h.rec.pools_used[0], h.rec.pools_used[1]);
}

TEST(StepCapture, AMovedArenaNeverReplaysTheOldCapture) {
  Harness h(1);
  for (int i = 0; i < 3; ++i) h.run(key(0, &a0));  // eager, capture, replay
  ASSERT_EQ(h.rec.captured, 1);
  h.run(key(0, &a1));  // the arena moved: warm up again
  EXPECT_EQ(h.rec.eager, 2);
  h.run(key(0, &a0));  // the old address again: its capture was dropped, not replayed
  EXPECT_EQ(h.rec.eager, 3);
  EXPECT_EQ(h.rec.replayed, 2);
  h.run(key(0, &a0));  // re-captured, in the same pool
  EXPECT_EQ(h.rec.captured, 2);
  EXPECT_EQ(h.rec.pools_used[1], h.rec.pools_used[0]);
}

TEST(StepCapture, AMovedWorkspaceDropsTheCapture) {
  Harness h(1);
  int w0, w1;
  h.rec.workspace = &w0;
  for (int i = 0; i < 3; ++i) h.run(key(0, &a0));
  ASSERT_EQ(h.rec.replayed, 2);
  h.rec.workspace = &w1;
  h.run(key(0, &a0));
  EXPECT_EQ(h.rec.eager, 2);     // warmed up again instead of replaying the stale graph
  EXPECT_EQ(h.rec.replayed, 2);
  h.run(key(0, &a0));
  EXPECT_EQ(h.rec.captured, 2);
  EXPECT_EQ(h.rec.replayed, 3);
}

// A layer asking for more workspace in the middle of a capture moves it: the nodes recorded
// before point into the freed block, so that graph must never be replayed.
TEST(StepCapture, AWorkspaceThatMovesDuringTheCaptureDropsIt) {
  Harness h(1);
  int w0, w1;
  h.rec.workspace = &w0;
  h.run(key(0, &a0));  // eager warm-up
  h.rec.workspace_after_capture = &w1;
  h.run(key(0, &a0));  // captured, workspace moved: dropped, the step runs eagerly instead
  EXPECT_EQ(h.rec.captured, 1);
  EXPECT_EQ(h.rec.replayed, 0);
  EXPECT_EQ(h.rec.eager, 2);
  EXPECT_EQ(h.sc.dropped_captures(), 1);
  EXPECT_TRUE(h.sc.active());
  h.run(key(0, &a0));  // captured again with the workspace at rest, and replayed
  EXPECT_EQ(h.rec.captured, 2);
  EXPECT_EQ(h.rec.replayed, 1);
  EXPECT_EQ(h.rec.eager, 2);
  h.run(key(0, &a0));
  EXPECT_EQ(h.rec.replayed, 2);
}

TEST(StepCapture, AFailedCaptureRunsTheWorkOnceAndStaysEager) {
  Harness h(1);
  h.rec.fail_next_capture = true;
  for (int i = 0; i < 4; ++i) h.run(key(0, &a0));
  EXPECT_FALSE(h.sc.active());
  EXPECT_EQ(h.rec.eager, 4);  // every step ran exactly once
  EXPECT_EQ(h.rec.captured, 0);
  EXPECT_EQ(h.rec.replayed, 0);
}

}  // namespace
}  // namespace te
