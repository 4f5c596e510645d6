// The loader: determinism across thread counts, epochs and resume; drop_last; bad files
// skipped, counted and replaced deterministically; the skip limit; hard errors.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <set>
#include <sstream>

#include "engine/data/loader.h"
#include "tests/data/image_files.h"

namespace te {
namespace {

// Sample i is a constant 12 x 10 grey image of value i + 1, so every output pixel names its
// sample; indices in `bad` hold undecodable bytes, those in `missing` cannot be read.
class MemoryDataset final : public Dataset {
 public:
  MemoryDataset(int64_t n, std::set<int64_t> bad = {}, std::set<int64_t> missing = {})
      : n_(n), bad_(std::move(bad)), missing_(std::move(missing)), names_{"a", "b", "c"} {}
  int64_t size() const override { return n_; }
  const std::vector<std::string>& class_names() const override { return names_; }
  int32_t label(int64_t i) const override { return static_cast<int32_t>(i % 3); }
  std::string describe(int64_t i) const override { return "mem#" + std::to_string(i); }
  std::string kind() const override { return "memory"; }
  void read(int64_t i, SampleData& out) const override {
    if (missing_.count(i)) throw DataError("cannot read '" + describe(i) + "': gone");
    if (bad_.count(i)) {
      out.kind = SampleData::Kind::Encoded;
      out.storage = test::random_bytes(100, static_cast<uint32_t>(i));
    } else {
      out.kind = SampleData::Kind::Pixels;
      out.storage.assign(12 * 10, static_cast<uint8_t>(i + 1));
      out.width = 12, out.height = 10, out.channels = 1;
    }
    out.own();
  }

 private:
  int64_t n_;
  std::set<int64_t> bad_, missing_;
  std::vector<std::string> names_;
};

TransformConfig grey_config(int64_t size = 6) {
  TransformConfig c;
  c.image_size = size;
  c.channels = 1;
  return c;
}

// The sample index each image of the batch came from (images are constant).
std::vector<int64_t> sample_ids(const Batch& b) {
  std::vector<int64_t> ids;
  const int64_t per = b.images.numel() / b.images.dim(0);
  const uint8_t* p = b.images.data<uint8_t>();
  for (int64_t k = 0; k < b.images.dim(0); ++k) {
    for (int64_t j = 0; j < per; ++j) EXPECT_EQ(p[k * per + j], p[k * per]);
    ids.push_back(static_cast<int64_t>(p[k * per]) - 1);
  }
  return ids;
}

std::vector<std::vector<uint8_t>> run_epoch(DataLoader& loader, int64_t epoch, int64_t first = 0) {
  std::vector<std::vector<uint8_t>> out;
  loader.start_epoch(epoch, first);
  Batch b;
  while (loader.next(b)) {
    std::vector<uint8_t> bytes(b.images.data<uint8_t>(), b.images.data<uint8_t>() + b.images.numel());
    const int32_t* l = b.labels.data<int32_t>();
    for (int64_t i = 0; i < b.labels.numel(); ++i) bytes.push_back(static_cast<uint8_t>(l[i]));
    bytes.push_back(static_cast<uint8_t>(b.index));
    out.push_back(std::move(bytes));
  }
  return out;
}

TEST(Loader, EpochVisitsEverySampleOnceAndReshuffles) {
  auto ds = std::make_shared<MemoryDataset>(40);
  LoaderOptions o;
  o.batch_size = 6;
  o.workers = 2;
  o.seed = 11;
  DataLoader loader(ds, grey_config(), o);
  EXPECT_EQ(loader.batches_per_epoch(), 7);
  std::vector<std::vector<int64_t>> orders;
  for (int64_t epoch : {0, 1}) {
    loader.start_epoch(epoch);
    Batch b;
    std::vector<int64_t> order;
    int64_t expect_index = 0;
    while (loader.next(b)) {
      EXPECT_EQ(b.index, expect_index++);
      EXPECT_EQ(b.images.shape(), (Shape{b.labels.numel(), 6, 6, 1}));
      const auto ids = sample_ids(b);
      for (size_t k = 0; k < ids.size(); ++k) EXPECT_EQ(b.labels.data<int32_t>()[k], ids[k] % 3);
      order.insert(order.end(), ids.begin(), ids.end());
    }
    ASSERT_EQ(order.size(), 40u);
    EXPECT_EQ(std::set<int64_t>(order.begin(), order.end()).size(), 40u);
    orders.push_back(order);
  }
  EXPECT_NE(orders[0], orders[1]);
  o.shuffle = false;
  o.drop_last = true;
  DataLoader plain(ds, grey_config(), o);
  EXPECT_EQ(plain.batches_per_epoch(), 6);
  plain.start_epoch(0);
  Batch b;
  std::vector<int64_t> order;
  while (plain.next(b)) {
    const auto ids = sample_ids(b);
    order.insert(order.end(), ids.begin(), ids.end());
  }
  ASSERT_EQ(order.size(), 36u);
  for (int64_t i = 0; i < 36; ++i) EXPECT_EQ(order[i], i);
}

class FolderLoader : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 30; ++i) {
      const auto px = test::pattern(48 + i, 40 - i / 2, 3, i);
      const std::string name = dir_ / ("c" + std::to_string(i % 3) + "/img" + std::to_string(i));
      if (i % 4 == 0) test::write_file(name + ".png", test::png_bytes(px, 48 + i, 40 - i / 2, 3));
      else test::write_file(name + ".jpg", test::jpeg_bytes(px, 48 + i, 40 - i / 2, 3, 90, i % 4 == 1));
    }
    ds_ = open_dataset(dir_.path());
    cfg_.image_size = 24;
    cfg_.augment.color_jitter = 0.2;
  }
  test::TempDir dir_;
  std::shared_ptr<Dataset> ds_;
  TransformConfig cfg_;
};

TEST_F(FolderLoader, SameSeedSameBatchesWithOneOrFourThreads) {
  LoaderOptions o;
  o.batch_size = 7;
  o.seed = 3;
  o.workers = 1;
  DataLoader one(ds_, cfg_, o);
  o.workers = 4;
  o.prefetch = 2;
  DataLoader four(ds_, cfg_, o);
  for (int64_t epoch : {0, 1}) EXPECT_EQ(run_epoch(one, epoch), run_epoch(four, epoch));
  o.seed = 4;
  DataLoader other(ds_, cfg_, o);
  EXPECT_NE(run_epoch(one, 0), run_epoch(other, 0));
}

TEST_F(FolderLoader, ResumeMidEpochEqualsUninterruptedRun) {
  LoaderOptions o;
  o.batch_size = 4;
  o.seed = 8;
  o.workers = 2;
  DataLoader full(ds_, cfg_, o);
  const auto all = run_epoch(full, 2);
  ASSERT_EQ(all.size(), 8u);
  DataLoader resumed(ds_, cfg_, o);
  // Start the epoch, take two batches, then "restart the process" at batch 5.
  resumed.start_epoch(2);
  Batch b;
  ASSERT_TRUE(resumed.next(b));
  const auto tail = run_epoch(resumed, 2, 5);
  ASSERT_EQ(tail.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(tail[i], all[5 + i]);
  EXPECT_GT(full.images_per_second(), 0);
  EXPECT_THROW(resumed.start_epoch(2, 9), DataError);
}

// Captures spdlog output for the duration of a test.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return stream_.str(); }
  int count(const std::string& needle) const {
    const std::string t = text();
    int n = 0;
    for (size_t at = t.find(needle); at != std::string::npos; at = t.find(needle, at + 1)) ++n;
    return n;
  }

 private:
  std::ostringstream stream_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(LoaderSkips, BadSamplesReplacedByTheNextGoodOneOnceWarned) {
  LogCapture log;
  const std::set<int64_t> bad = {3, 4, 17};
  auto ds = std::make_shared<MemoryDataset>(40, bad);
  LoaderOptions o;
  o.batch_size = 8;
  o.shuffle = false;
  o.workers = 3;
  o.max_skip_fraction = 0.1;
  DataLoader loader(ds, grey_config(), o);
  for (int64_t epoch : {0, 1}) {
    loader.start_epoch(epoch);
    Batch b;
    std::vector<int64_t> order;
    while (loader.next(b)) {
      EXPECT_EQ(b.labels.numel(), 8);  // batches keep their size
      const auto ids = sample_ids(b);
      order.insert(order.end(), ids.begin(), ids.end());
    }
    // Unshuffled: positions 3 and 4 get sample 5 (the next good one), position 17 gets 18.
    ASSERT_EQ(order.size(), 40u);
    EXPECT_EQ(order[3], 5);
    EXPECT_EQ(order[4], 5);
    EXPECT_EQ(order[17], 18);
    for (int64_t id : order) EXPECT_EQ(bad.count(id), 0u);  // never a bad (blank) image
    // Found in epoch 0, passed over again in epoch 1: counted in both.
    EXPECT_EQ(loader.epoch_skipped_files(), 3) << "epoch " << epoch;
  }
  EXPECT_EQ(loader.skipped_files(), 3);
  // A resumed epoch counts from its first batch: batch 4 (positions 32-39) holds no bad file.
  loader.start_epoch(2, 4);
  Batch rest;
  while (loader.next(rest)) {
  }
  EXPECT_EQ(loader.epoch_skipped_files(), 0);
  for (int64_t i : bad) EXPECT_EQ(log.count("'mem#" + std::to_string(i) + "'"), 1) << log.text();
  EXPECT_EQ(log.count("not a JPEG or PNG"), 3);
  EXPECT_EQ(log.count("3 unreadable files skipped this epoch"), 2);
}

TEST(LoaderSkips, ReplacementDoesNotDependOnThreads) {
  LogCapture log;
  auto ds = std::make_shared<MemoryDataset>(60, std::set<int64_t>{0, 9, 10, 11, 42, 59});
  LoaderOptions o;
  o.batch_size = 5;
  o.seed = 21;
  o.max_skip_fraction = 0.2;
  o.workers = 1;
  DataLoader one(ds, grey_config(), o);
  o.workers = 4;
  DataLoader four(ds, grey_config(), o);
  for (int64_t epoch : {0, 1, 2}) EXPECT_EQ(run_epoch(one, epoch), run_epoch(four, epoch));
}

TEST(LoaderSkips, TooManyBadFilesStopTheRun) {
  LogCapture log;
  auto ds = std::make_shared<MemoryDataset>(40, std::set<int64_t>{1, 2, 3});
  LoaderOptions o;
  o.batch_size = 8;
  o.shuffle = false;
  o.workers = 2;
  o.max_skip_fraction = 0.05;  // 2 of 40 allowed
  DataLoader loader(ds, grey_config(), o);
  loader.start_epoch(0);
  Batch b;
  try {
    while (loader.next(b)) {
    }
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("3 of 40 files"), std::string::npos) << e.what();
  }
}

TEST(LoaderSkips, UnreadableFileIsAnErrorNotASkip) {
  LogCapture log;
  auto ds = std::make_shared<MemoryDataset>(20, std::set<int64_t>{}, std::set<int64_t>{7});
  LoaderOptions o;
  o.batch_size = 4;
  o.shuffle = false;
  o.workers = 2;
  DataLoader loader(ds, grey_config(), o);
  loader.start_epoch(0);
  Batch b;
  EXPECT_TRUE(loader.next(b));
  try {
    while (loader.next(b)) {
    }
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("mem#7"), std::string::npos) << e.what();
  }
  EXPECT_THROW(DataLoader(std::make_shared<MemoryDataset>(0), grey_config(), o), DataError);
}

TEST(LoaderSkips, GeneratedBadAndUnusualFilesInAFolder) {
  LogCapture log;
  test::TempDir dir;
  const auto px = test::pattern(64, 48, 3, 6);
  const auto jpg = test::jpeg_bytes(px, 64, 48, 3, 90);
  const auto png = test::png_bytes(px, 64, 48, 3);
  // Valid, unusual.
  test::write_file(dir / "ok/grey.jpg", test::jpeg_bytes(test::pattern(30, 20, 1), 30, 20, 1));
  std::vector<uint8_t> cmyk;
  for (int i = 0; i < 20 * 20; ++i) cmyk.insert(cmyk.end(), {uint8_t(i), 100, 50, 255});
  test::write_file(dir / "ok/cmyk.jpg", test::jpeg_bytes(cmyk, 20, 20, 4));
  test::write_file(dir / "ok/progressive.JPEG", test::jpeg_bytes(px, 64, 48, 3, 90, true));
  test::write_file(dir / "ok/plain.png", png);
  std::vector<uint8_t> rgba;
  for (int i = 0; i < 16 * 16; ++i) rgba.insert(rgba.end(), {200, uint8_t(i), 50, uint8_t(255 - i)});
  test::write_file(dir / "ok/rgba.png", test::png_bytes(rgba, 16, 16, 4));
  test::write_file(dir / "ok/png_named.jpg", png);
  test::write_file(dir / "ok/tiny.jpg", test::jpeg_bytes(test::pattern(7, 5, 3), 7, 5, 3));
  // Bad.
  test::write_file(dir / "ok/truncated.jpg", test::truncated(jpg, 0.5));
  test::write_file(dir / "ok/empty.jpg", {});
  test::write_file(dir / "ok/random.jpg", test::random_bytes(2000, 3));
  test::write_text(dir / "ok/text.jpg", "hello\n");
  test::write_file(dir / "ok/header.jpg", test::header_only(jpg));
  test::write_file(dir / "ok/huge.jpg", test::with_huge_size(jpg));
  test::write_file(dir / "ok/flipped.jpg", test::flipped_middle(jpg));
  auto ds = open_dataset(dir.path());
  ASSERT_EQ(ds->size(), 14);
  LoaderOptions o;
  o.batch_size = 5;
  o.workers = 2;
  o.max_skip_fraction = 0.6;
  TransformConfig cfg;
  cfg.image_size = 16;
  cfg.train = false;
  DataLoader loader(ds, cfg, o);
  loader.start_epoch(0);
  Batch b;
  int64_t images = 0;
  while (loader.next(b)) {
    const uint8_t* p = b.images.data<uint8_t>();
    for (int64_t k = 0; k < b.images.dim(0); ++k) {
      int64_t nonzero = 0;
      for (int64_t j = 0; j < 16 * 16 * 3; ++j) nonzero += p[k * 768 + j] != 0;
      EXPECT_GT(nonzero, 100) << "blank image in batch " << b.index;
    }
    images += b.images.dim(0);
  }
  EXPECT_EQ(images, 14);
  EXPECT_EQ(loader.skipped_files(), 7) << log.text();
  for (const char* name : {"truncated", "empty", "random", "text", "header", "huge", "flipped"})
    EXPECT_EQ(log.count(std::string(name) + ".jpg'"), 1) << name << "\n" << log.text();
  for (const char* name : {"grey", "cmyk", "progressive", "plain", "rgba", "png_named", "tiny"})
    EXPECT_EQ(log.count(std::string("/") + name), 0) << name << "\n" << log.text();
}

}  // namespace
}  // namespace te
