#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "engine/core/suggest.h"

namespace te {

TEST(Parallel, CoversEveryIndexOnce) {
  for (int threads : {1, 3}) {
    set_num_threads(threads);
    std::vector<std::atomic<int>> hits(1000);
    parallel_for(1000, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[i]++;
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  }
}

TEST(Parallel, RethrowsWorkerExceptions) {
  set_num_threads(2);
  EXPECT_THROW(parallel_for(10, [](int64_t b, int64_t) {
                 if (b > 0) throw Error("boom");
               }),
               Error);
  // The pool still works afterwards.
  std::atomic<int> n{0};
  parallel_for(4, [&](int64_t b, int64_t e) { n += static_cast<int>(e - b); });
  EXPECT_EQ(n.load(), 4);
}

TEST(Suggest, FindsTypos) {
  EXPECT_EQ(closest_match("learning_rat", {"lr", "learning_rate", "momentum"}), "learning_rate");
  EXPECT_EQ(closest_match("momentun", {"lr", "momentum"}), "momentum");
  EXPECT_EQ(closest_match("zzzzzz", {"lr", "momentum"}), "");
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3);
}

}  // namespace te
