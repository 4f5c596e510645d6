#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <set>

#include "dist_fixture.h"
#include "engine/core/error.h"
#include "engine/data/dataset.h"
#include "engine/data/epoch_shard.h"
#include "engine/data/loader.h"

namespace te {
namespace {

std::vector<int64_t> iota(int64_t n, int64_t shift = 1000) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), shift);  // values unlike positions, so a mix-up shows
  return v;
}

TEST(EpochShard, ValidationSharesCoverEverySampleOnce) {
  for (int64_t n : {1, 7, 32, 33, 100}) {
    for (int64_t batch : {1, 4, 16}) {
      for (int64_t ranks : {1, 2, 3, 8}) {
        const auto order = iota(n);
        std::multiset<int64_t> seen;
        for (int64_t r = 0; r < ranks; ++r) {
          const auto mine = shard_order(order, batch, {r, ranks}, /*drop_last=*/false);
          EXPECT_EQ(static_cast<int64_t>(mine.size()), shard_size(n, batch, {r, ranks}, false));
          seen.insert(mine.begin(), mine.end());
        }
        EXPECT_EQ(seen, std::multiset<int64_t>(order.begin(), order.end()))
            << "n " << n << " batch " << batch << " ranks " << ranks;
      }
    }
  }
}

TEST(EpochShard, TrainingSharesAreEqualDisjointAndDropOnlyTheRemainder) {
  for (int64_t n : {16, 33, 100, 257}) {
    for (int64_t batch : {1, 4, 16}) {
      for (int64_t ranks : {2, 3}) {
        const auto order = iota(n);
        std::multiset<int64_t> seen;
        const int64_t per_rank = n / (batch * ranks) * batch;
        for (int64_t r = 0; r < ranks; ++r) {
          const auto mine = shard_order(order, batch, {r, ranks}, /*drop_last=*/true);
          EXPECT_EQ(static_cast<int64_t>(mine.size()), per_rank);  // same step count everywhere
          seen.insert(mine.begin(), mine.end());
        }
        EXPECT_EQ(seen.size(), std::set<int64_t>(seen.begin(), seen.end()).size()) << "a repeat";
        // What is left out is exactly the permutation's last n mod (batch * ranks) positions.
        const int64_t kept = per_rank * ranks;
        EXPECT_EQ(seen, std::multiset<int64_t>(order.begin(), order.begin() + kept));
      }
    }
  }
}

// A step of R ranks at batch B sees the samples of one process's step at batch R*B.
TEST(EpochShard, RankBatchesAreSlicesOfTheGlobalBatch) {
  const auto order = iota(50);
  const int64_t batch = 4, ranks = 3;
  for (int64_t r = 0; r < ranks; ++r) {
    const auto mine = shard_order(order, batch, {r, ranks}, true);
    for (size_t k = 0; k * batch < mine.size(); ++k)
      for (int64_t i = 0; i < batch; ++i)
        EXPECT_EQ(mine[k * batch + i], order[(k * ranks + r) * batch + i]);
  }
}

TEST(EpochShard, BadArgumentsAreConfigErrors) {
  EXPECT_THROW(shard_order(iota(4), 2, {2, 2}, true), ConfigError);
  EXPECT_THROW(shard_order(iota(4), 0, {0, 2}, true), ConfigError);
  EXPECT_THROW(shard_size(4, 2, {-1, 2}, true), ConfigError);
}

struct LoadedEpoch {
  std::vector<std::vector<uint8_t>> batches;  // image bytes per batch
  std::vector<std::vector<int32_t>> labels;
};

LoadedEpoch load_epoch(const std::shared_ptr<Dataset>& data, int64_t batch, EpochShard shard,
                       bool drop_last, int64_t epoch) {
  TransformConfig t;
  t.image_size = 8;
  t.channels = 1;
  t.train = true;  // hflip on: augmentation must follow the sample, not the rank
  t.resize_ratio = 1.0;
  t.mean = {0.5f};
  t.std = {0.25f};
  t.augment.random_resized_crop = false;
  t.augment.hflip = true;
  LoaderOptions o;
  o.batch_size = batch;
  o.workers = 2;
  o.shuffle = true;
  o.drop_last = drop_last;
  o.seed = 7;
  o.pin_memory = false;
  o.shard = shard;
  DataLoader loader(data, t, o);
  loader.start_epoch(epoch);
  LoadedEpoch out;
  Batch b;
  while (loader.next(b)) {
    const uint8_t* p = b.images.data<uint8_t>();
    out.batches.emplace_back(p, p + b.images.numel());
    const int32_t* l = b.labels.data<int32_t>();
    out.labels.emplace_back(l, l + b.labels.numel());
  }
  return out;
}

// The loader with shards: rank r's batch k is the r-th slice of one process's batch k at
// twice the batch size, with the same pixels (augmentation included), every epoch.
TEST(EpochShard, LoaderShardsMatchOneProcessAtTheGlobalBatch) {
  const std::string dir = testing::temp_dir("loader_shards");
  testing::write_tiny_idx(dir, 45, 3);
  auto data = open_dataset(dir);
  for (int64_t epoch : {0, 3}) {
    const LoadedEpoch whole = load_epoch(data, 8, {0, 1}, true, epoch);
    const LoadedEpoch r0 = load_epoch(data, 4, {0, 2}, true, epoch);
    const LoadedEpoch r1 = load_epoch(data, 4, {1, 2}, true, epoch);
    ASSERT_EQ(whole.batches.size(), 5u);  // 45 / 8, remainder 5 dropped
    ASSERT_EQ(r0.batches.size(), whole.batches.size());
    ASSERT_EQ(r1.batches.size(), whole.batches.size());
    for (size_t k = 0; k < whole.batches.size(); ++k) {
      std::vector<uint8_t> joined = r0.batches[k];
      joined.insert(joined.end(), r1.batches[k].begin(), r1.batches[k].end());
      EXPECT_EQ(joined, whole.batches[k]) << "epoch " << epoch << " batch " << k;
      std::vector<int32_t> labels = r0.labels[k];
      labels.insert(labels.end(), r1.labels[k].begin(), r1.labels[k].end());
      EXPECT_EQ(labels, whole.labels[k]);
    }
  }
  // Validation: no drop; the ranks' images together are the whole set, each once.
  const LoadedEpoch all = load_epoch(data, 4, {0, 1}, false, 0);
  std::multiset<std::vector<uint8_t>> expected, got;
  const size_t image = 64;
  auto split = [&](const LoadedEpoch& e, std::multiset<std::vector<uint8_t>>& into) {
    for (const auto& b : e.batches)
      for (size_t i = 0; i < b.size(); i += image) into.emplace(b.begin() + i, b.begin() + i + image);
  };
  split(all, expected);
  split(load_epoch(data, 4, {0, 2}, false, 0), got);
  split(load_epoch(data, 4, {1, 2}, false, 0), got);
  EXPECT_EQ(expected.size(), 45u);
  EXPECT_EQ(got, expected);
}

TEST(EpochShard, TooFewSamplesForOneStepOfAllRanksIsADataError) {
  const std::string dir = testing::temp_dir("too_few");
  testing::write_tiny_idx(dir, 12, 3);
  try {
    load_epoch(open_dataset(dir), 8, {0, 2}, true, 0);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("2 ranks at batch_size 8 need 16 samples"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace te
