#include <gtest/gtest.h>

#include "engine/distributed/data_parallel.h"

namespace te {
namespace {

// Buckets cover the flat buffer exactly, from its end (the last layers' gradients, which
// backward produces first), each at most the bucket size.
TEST(DataParallel, BucketsTileTheBufferFromTheEnd) {
  const auto b = DataParallel::buckets(10, 4, 12);  // 3 floats per bucket
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0], (std::pair<int64_t, int64_t>{7, 10}));
  EXPECT_EQ(b[1], (std::pair<int64_t, int64_t>{4, 7}));
  EXPECT_EQ(b[2], (std::pair<int64_t, int64_t>{1, 4}));
  EXPECT_EQ(b[3], (std::pair<int64_t, int64_t>{0, 1}));
  EXPECT_EQ(DataParallel::buckets(10, 4, 1 << 20).size(), 1u);
  EXPECT_EQ(DataParallel::buckets(5, 8, 1).size(), 5u);  // smaller than one element: one each
  EXPECT_TRUE(DataParallel::buckets(0, 4, 16).empty());
}

}  // namespace
}  // namespace te
