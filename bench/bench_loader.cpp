// Data loader throughput: decode + random-resized-crop to 128x128 + flip, images/s, from a JPEG
// image folder and from shards packed from it (JPEG, shorter side 160).
//   bench_loader [FOLDER] [--shards DIR] [--workers N] [--epochs N] [--size 128]
// FOLDER defaults to $TE_CATDOG_DIR/train or ../shared/data/catdog/train (run from the repo
// root). Without --shards it packs FOLDER into a temporary folder first (and removes it).
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "engine/core/error.h"
#include "engine/data/loader.h"
#include "engine/data/shard_writer.h"

using namespace te;

namespace {

// Returns the best wall-clock images/s; *per_cpu_s gets images per second of process CPU time
// over the measured epochs, which shows what the cores can do when others share them.
double measure(const std::shared_ptr<Dataset>& ds, const TransformConfig& cfg, int workers,
               int epochs, int64_t* skipped, double* per_cpu_s) {
  LoaderOptions o;
  o.batch_size = 64;
  o.workers = workers;
  o.seed = 1;
  DataLoader loader(ds, cfg, o);
  double best = 0;
  std::clock_t cpu0 = 0;
  int64_t images = 0;
  // Epoch 0 warms the page cache; the best of the following epochs is reported.
  for (int e = 0; e <= epochs; ++e) {
    if (e == 1) cpu0 = std::clock();
    loader.start_epoch(e);
    Batch b;
    while (loader.next(b))
      if (e > 0) images += b.labels.numel();
    if (e > 0) best = std::max(best, loader.images_per_second());
  }
  *skipped = loader.skipped_files();
  *per_cpu_s = images / (static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC);
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::string folder, shards;
  int workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int epochs = 2;
  int64_t size = 128;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--shards" && i + 1 < argc) shards = argv[++i];
    else if (a == "--workers" && i + 1 < argc) workers = std::atoi(argv[++i]);
    else if (a == "--epochs" && i + 1 < argc) epochs = std::atoi(argv[++i]);
    else if (a == "--size" && i + 1 < argc) size = std::atoll(argv[++i]);
    else folder = a;
  }
  if (folder.empty()) {
    const char* env = std::getenv("TE_CATDOG_DIR");
    folder = env ? std::string(env) + "/train" : "../shared/data/catdog/train";
  }
  try {
    TransformConfig cfg;  // random-resized-crop (0.08-1, 3/4-4/3) + horizontal flip
    cfg.image_size = size;
    const auto ds = open_dataset(folder);
    std::printf("bench_loader: %lld images from %s, %lld px, random-resized-crop + flip, %d workers, "
                "batch 64, best of %d epochs after a warm-up epoch\n",
                static_cast<long long>(ds->size()), folder.c_str(), static_cast<long long>(size),
                workers, epochs);
    int64_t skipped = 0;
    double per_cpu = 0;
    const double folder_rate = measure(ds, cfg, workers, epochs, &skipped, &per_cpu);
    std::printf("  jpeg folder: %8.0f images/s  (%.0f images per CPU-second; skipped %lld)\n",
                folder_rate, per_cpu, static_cast<long long>(skipped));

    std::filesystem::path tmp;
    if (shards.empty()) {
      tmp = std::filesystem::temp_directory_path() /
            ("te_bench_shards_" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
      PackOptions p;
      p.size = 160;
      p.workers = workers;
      const auto t0 = std::chrono::steady_clock::now();
      const PackReport r = pack_shards(*ds, tmp.string(), p);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("  packed %lld images (JPEG q90, shorter side 160) into %.1f MiB in %.1f s (%.0f images/s)\n",
                  static_cast<long long>(r.packed), r.bytes / 1048576.0, s, r.packed / s);
      shards = tmp.string();
    }
    const auto sds = open_dataset(shards);
    const double shard_rate = measure(sds, cfg, workers, epochs, &skipped, &per_cpu);
    std::printf("  shards:      %8.0f images/s  (%.0f images per CPU-second; skipped %lld)\n",
                shard_rate, per_cpu, static_cast<long long>(skipped));
    if (!tmp.empty()) std::filesystem::remove_all(tmp);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
