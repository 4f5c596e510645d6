// Real photographs: the whole catdog training folder through the loader, every file decoded,
// none skipped. Skips with a message where the folder is absent.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "engine/data/loader.h"

namespace te {
namespace {

std::string catdog_dir() {
  if (const char* env = std::getenv("TE_CATDOG_DIR")) return env;
  return std::string(TE_SOURCE_DIR) + "/../shared/data/catdog";
}

TEST(CatdogSmoke, WholeTrainingFolderLoadsWithoutSkips) {
  const std::string root = catdog_dir() + "/train";
  if (!std::filesystem::exists(root))
    GTEST_SKIP() << "real-data smoke test skipped: " << root
                 << " is absent (set TE_CATDOG_DIR to the catdog folder)";
  const auto ds = open_dataset(root);
  EXPECT_EQ(ds->class_names(), (std::vector<std::string>{"cat", "dog"}));
  EXPECT_GE(ds->size(), 100);
  TransformConfig cfg;
  cfg.image_size = 64;  // small output: DCT-scaled decoding keeps this quick
  LoaderOptions o;
  o.batch_size = 128;
  o.seed = 1;
  DataLoader loader(ds, cfg, o);
  loader.start_epoch(0);
  Batch b;
  int64_t images = 0, dogs = 0;
  double sum = 0, sum_sq = 0;
  while (loader.next(b)) {
    images += b.labels.numel();
    for (int64_t i = 0; i < b.labels.numel(); ++i) dogs += b.labels.data<int32_t>()[i];
    const uint8_t* p = b.images.data<uint8_t>();
    for (int64_t i = 0; i < b.images.numel(); i += 97) {
      sum += p[i];
      sum_sq += double(p[i]) * p[i];
    }
  }
  EXPECT_EQ(images, ds->size());
  EXPECT_EQ(loader.skipped_files(), 0);
  EXPECT_GT(dogs, images / 4);
  EXPECT_LT(dogs, images * 3 / 4);
  const double n = static_cast<double>(images * 64 * 64 * 3) / 97;
  const double mean = sum / n, stddev = std::sqrt(sum_sq / n - mean * mean);
  EXPECT_GT(mean, 60);   // photographs: neither black nor white
  EXPECT_LT(mean, 190);
  EXPECT_GT(stddev, 30);
  std::printf("catdog: %lld images at %.0f images/s (64 px, %lld workers)\n",
              static_cast<long long>(images), loader.images_per_second(),
              static_cast<long long>(loader.workers()));
}

}  // namespace
}  // namespace te
