// BatchFeed on the CPU (engine/train/batch_feed.h): the batches it hands out are the loader's,
// normalised as prepare_batch does, and running past the epoch is an error that says so. (Its
// GPU double buffering is tested in tests/cuda/train_feed_test.cpp.)
#include <gtest/gtest.h>

#include <memory>

#include "engine/core/philox.h"
#include "engine/data/dataset.h"
#include "engine/data/loader.h"
#include "engine/train/batch_feed.h"

namespace te {
namespace {

// Random 5x4 gray pixels per sample, labels i % 3.
class PixelDataset : public Dataset {
 public:
  int64_t size() const override { return 23; }
  const std::vector<std::string>& class_names() const override { return names_; }
  int32_t label(int64_t i) const override { return static_cast<int32_t>(i % 3); }
  std::string describe(int64_t i) const override { return "pixels#" + std::to_string(i); }
  void read(int64_t i, SampleData& out) const override {
    out.kind = SampleData::Kind::Pixels;
    out.height = 5;
    out.width = 4;
    out.channels = 1;
    out.storage.resize(20);
    CounterRng rng(2, static_cast<uint64_t>(i), 0);
    for (uint8_t& v : out.storage) v = static_cast<uint8_t>(rng.next_u32() & 0xff);
    out.own();
  }
  std::string kind() const override { return "pixels"; }

 private:
  std::vector<std::string> names_{"a", "b", "c"};
};

std::unique_ptr<DataLoader> loader() {
  TransformConfig t;
  t.image_size = 4;
  t.channels = 1;
  t.train = false;
  t.mean = {0.5f};
  t.std = {0.25f};
  LoaderOptions o;
  o.batch_size = 4;
  o.workers = 2;
  o.shuffle = true;
  o.seed = 3;
  o.drop_last = true;
  return std::make_unique<DataLoader>(std::make_shared<PixelDataset>(), t, o);
}

TEST(BatchFeed, CpuBatchesAreTheLoadersNormalised) {
  auto a = loader(), b = loader();
  BatchFeed feed(*a, Device::cpu(), {0.5f}, {0.25f});
  a->start_epoch(1, 0);
  b->start_epoch(1, 0);
  const int64_t batches = a->batches_per_epoch();
  ASSERT_EQ(batches, 5);
  feed.start_epoch(batches);
  for (int64_t k = 0; k < batches; ++k) {
    const DeviceBatch& got = feed.next();
    Batch raw;
    ASSERT_TRUE(b->next(raw));
    DeviceBatch want;
    prepare_batch(raw, Device::cpu(), {0.5f}, {0.25f}, want);
    EXPECT_EQ(got.input.shape(), Shape({4, 1, 4, 4}));
    EXPECT_EQ(got.input.to_vector(), want.input.to_vector()) << k;
    EXPECT_EQ(got.labels.to_vector(), raw.labels.to_vector()) << k;
    feed.release();
  }
  EXPECT_THROW(feed.next(), Error);  // the epoch's batches are used up
}

TEST(BatchFeed, ALoaderThatEndsEarlyIsAClearError) {
  auto a = loader();
  BatchFeed feed(*a, Device::cpu(), {0.5f}, {0.25f});
  a->start_epoch(0, 3);  // resumed at batch 3: two batches are left
  feed.start_epoch(4);   // but four are asked for
  feed.next();
  feed.next();
  try {
    feed.next();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ended the epoch early (after 2 batches, 4 expected)"),
              std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace te
