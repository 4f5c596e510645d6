// Data set sources: class folders, list files, IDX (plain and gzipped), shards; and the errors
// for missing, empty and malformed input.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <functional>

#include "engine/core/error.h"
#include "engine/data/dataset.h"
#include "engine/data/image_decode.h"
#include "engine/data/shard_writer.h"
#include "tests/data/image_files.h"

namespace te {
namespace {

void expect_data_error(const std::function<void()>& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected DataError mentioning '" << needle << "'";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(ImageFolder, ClassesSortedByNameGiveLabels) {
  test::TempDir dir;
  const auto px = test::pattern(8, 6, 3);
  test::write_file(dir / "zebra/b.jpg", test::jpeg_bytes(px, 8, 6, 3));
  test::write_file(dir / "zebra/a.JPEG", test::jpeg_bytes(px, 8, 6, 3));
  test::write_file(dir / "ant/nested/x.png", test::png_bytes(px, 8, 6, 3));
  test::write_file(dir / "mole/only.jpg", test::jpeg_bytes(px, 8, 6, 3));
  test::write_text(dir / "mole/.DS_Store", "junk");  // hidden files are not samples
  test::write_text(dir / "README.txt", "files at the root are not samples");
  const auto ds = open_dataset(dir.path());
  EXPECT_EQ(ds->kind(), "image folder");
  EXPECT_EQ(ds->class_names(), (std::vector<std::string>{"ant", "mole", "zebra"}));
  ASSERT_EQ(ds->size(), 4);
  EXPECT_EQ(ds->label(0), 0);
  EXPECT_EQ(ds->label(1), 1);
  EXPECT_EQ(ds->label(2), 2);
  EXPECT_EQ(ds->label(3), 2);
  EXPECT_NE(ds->describe(2).find("zebra/a.JPEG"), std::string::npos);
  SampleData s;
  ds->read(0, s);
  EXPECT_EQ(detect_image_format(s.data, s.size), ImageFormat::Png);
}

TEST(ImageFolder, ClearErrors) {
  test::TempDir dir;
  expect_data_error([&] { open_dataset(dir / "missing"); }, "does not exist");
  expect_data_error([&] { open_dataset(dir.path()); }, "no class folders");
  std::filesystem::create_directories(dir / "cat");
  test::write_file(dir / "dog/1.jpg", test::jpeg_bytes(test::pattern(8, 8, 3), 8, 8, 3));
  expect_data_error([&] { open_dataset(dir.path()); }, "/cat");
}

TEST(ListFile, PathsRelativeToTheListAndIntegerLabels) {
  test::TempDir dir;
  const auto px = test::pattern(8, 6, 3);
  test::write_file(dir / "imgs/a b.jpg", test::jpeg_bytes(px, 8, 6, 3));
  test::write_file(dir / "imgs/c.png", test::png_bytes(px, 8, 6, 3));
  test::write_text(dir / "list.txt", "# comment\nimgs/a b.jpg 2\n\nimgs/c.png\t0\n");
  const auto ds = open_dataset(dir / "list.txt");
  EXPECT_EQ(ds->kind(), "list file");
  ASSERT_EQ(ds->size(), 2);
  EXPECT_EQ(ds->label(0), 2);
  EXPECT_EQ(ds->label(1), 0);
  EXPECT_EQ(ds->class_names().size(), 3u);
  SampleData s;
  ds->read(0, s);
  EXPECT_EQ(detect_image_format(s.data, s.size), ImageFormat::Jpeg);
  test::write_text(dir / "bad.txt", "imgs/c.png cat\n");
  expect_data_error([&] { open_dataset(dir / "bad.txt"); }, "bad.txt:1");
  test::write_text(dir / "missing.txt", "imgs/nothere.jpg 1\n");
  const auto m = open_dataset(dir / "missing.txt");
  expect_data_error([&] { m->read(0, s); }, "nothere.jpg");  // unreadable: a hard error
}

std::vector<uint8_t> idx_bytes(uint8_t rank, const std::vector<uint32_t>& dims,
                               const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b = {0, 0, 0x08, rank};
  for (uint32_t d : dims) b.insert(b.end(), {uint8_t(d >> 24), uint8_t(d >> 16), uint8_t(d >> 8), uint8_t(d)});
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

TEST(Idx, ParsesPlainAndGzippedSplits) {
  test::TempDir dir;
  // 3 images of 2 x 4 pixels.
  std::vector<uint8_t> pixels(3 * 2 * 4);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(7 * i + 1);
  test::write_file(dir / "train-images-idx3-ubyte", idx_bytes(3, {3, 2, 4}, pixels));
  test::write_file(dir / "train-labels-idx1-ubyte", idx_bytes(1, {3}, {4, 0, 9}));
  write_gz(dir / "t10k-images-idx3-ubyte.gz", idx_bytes(3, {2, 2, 4}, std::vector<uint8_t>(pixels.begin(), pixels.begin() + 16)));
  write_gz(dir / "t10k-labels-idx1-ubyte.gz", idx_bytes(1, {2}, {1, 2}));
  const auto train = open_dataset(dir.path());
  EXPECT_EQ(train->kind(), "IDX");
  ASSERT_EQ(train->size(), 3);
  EXPECT_EQ(train->class_names().size(), 10u);
  EXPECT_EQ(train->label(2), 9);
  SampleData s;
  train->read(1, s);
  EXPECT_EQ(s.kind, SampleData::Kind::Pixels);
  EXPECT_EQ(s.width, 4);
  EXPECT_EQ(s.height, 2);
  ASSERT_EQ(s.size, 8u);
  EXPECT_EQ(s.data[0], pixels[8]);
  EXPECT_EQ(s.data[7], pixels[15]);
  DatasetOptions opts;
  opts.split = "test";
  const auto test_split = open_dataset(dir.path(), opts);
  ASSERT_EQ(test_split->size(), 2);
  EXPECT_EQ(test_split->label(1), 2);
  const auto by_file = open_dataset(dir / "t10k-images-idx3-ubyte.gz");
  EXPECT_EQ(by_file->size(), 2);
  opts.split = "val";
  expect_data_error([&] { open_dataset(dir.path(), opts); }, "no val split");
  // Header and data disagree.
  test::write_file(dir / "train-images-idx3-ubyte", idx_bytes(3, {4, 2, 4}, pixels));
  expect_data_error([&] { open_dataset(dir.path()); }, "header declares");
}

TEST(Idx, FashionMnistWhenInstalled) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << dir << " is absent (Debian dataset-fashion-mnist)";
  DatasetOptions opts;
  opts.split = "test";
  const auto ds = open_dataset(dir, opts);
  EXPECT_EQ(ds->size(), 10000);
  EXPECT_EQ(ds->class_names().size(), 10u);
}

TEST(Shards, RoundTripJpegAndRaw) {
  test::TempDir dir;
  const auto big = test::pattern(90, 60, 3, 1);
  const auto small = test::pattern(20, 30, 3, 2);
  test::write_file(dir / "src/a/big.jpg", test::jpeg_bytes(big, 90, 60, 3, 95));
  test::write_file(dir / "src/b/small.png", test::png_bytes(small, 20, 30, 3));
  test::write_text(dir / "src/b/notes.jpg", "not an image");
  const auto src = open_dataset(dir / "src");
  for (const std::string format : {"raw", "jpeg"}) {
    PackOptions o;
    o.size = 40;
    o.format = format;
    o.quality = 95;
    o.shard_bytes = 1000;  // forces several shard files
    const std::string dst = dir / ("shards-" + format);
    const PackReport r = pack_shards(*src, dst, o);
    EXPECT_EQ(r.packed, 2);
    ASSERT_EQ(r.left_out.size(), 1u);
    EXPECT_NE(r.left_out[0].first.find("notes.jpg"), std::string::npos);
    const auto ds = open_dataset(dst);
    EXPECT_EQ(ds->kind(), "shards");
    EXPECT_EQ(ds->class_names(), src->class_names());
    ASSERT_EQ(ds->size(), 2);
    EXPECT_EQ(ds->label(0), 0);
    EXPECT_EQ(ds->label(1), 1);
    SampleData s;
    ds->read(0, s);  // 90 x 60 -> shorter side 40: 60 x 40
    DecodedImage img;
    if (format == "raw") {
      EXPECT_EQ(s.kind, SampleData::Kind::Pixels);
      EXPECT_EQ(s.width, 60);
      EXPECT_EQ(s.height, 40);
    } else {
      img = decode_image(s.data, s.size, 3, {});
      EXPECT_EQ(img.width, 60);
      EXPECT_EQ(img.height, 40);
    }
    ds->read(1, s);  // 20 x 30: already small, never enlarged
    if (format == "raw") {
      ASSERT_EQ(s.size, small.size());
      EXPECT_TRUE(std::equal(small.begin(), small.end(), s.data));
    } else {
      img = decode_image(s.data, s.size, 3, {});
      EXPECT_EQ(img.width, 20);
      EXPECT_EQ(img.height, 30);
    }
    expect_data_error([&] { pack_shards(*src, dst, o); }, "not an empty folder");
  }
}

}  // namespace
}  // namespace te
