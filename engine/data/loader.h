#pragma once
// The data loader: worker threads decode and augment samples into collated batches (uint8
// NHWC images in pinned host memory when the CUDA backend is present, int32 labels), a
// bounded window of batches ahead of the consumer, delivered in order.
//
// Determinism: the epoch's order is a Fisher-Yates shuffle driven by (seed, epoch), and each
// sample's augmentation by (seed, epoch, sample index) (sample_rng), so a batch's content does
// not depend on the number of threads, and start_epoch(epoch, first_batch) resumes mid-epoch
// with exactly the batches an uninterrupted run would have produced.
//
// Bad files: a sample whose data fails to decode (BadImageError) is skipped with one warning
// naming the file and the reason, remembered (it is not tried again in later epochs) and
// counted. Its place in the batch goes to the next sample of the epoch's order (position p+1,
// p+2, ..., wrapping) that decodes, with that sample's own augmentation, so the batch keeps its
// size and never contains a blank image. When more than max_skip_fraction of the data set has
// been skipped, next() throws DataError. A file that cannot be read at all (permissions, I/O)
// is a DataError at once.
// Why this is deterministic: whether a file is bad does not depend on its crop (the JPEG
// decoder validates the entropy-coded data of the whole file even when it decodes only part of
// it), so it fails the same way whichever thread, epoch or resumed run tries it first.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/data/dataset.h"
#include "engine/data/epoch_shard.h"
#include "engine/data/transform.h"

namespace te {

struct LoaderOptions {
  int64_t batch_size = 64;
  int workers = 0;   // 0: the core count
  int prefetch = 4;  // batches ready or in progress ahead of the consumer (at least `workers`)
  bool shuffle = true;
  bool drop_last = false;
  uint64_t seed = 0;
  double max_skip_fraction = 0.01;
  bool pin_memory = true;  // batches from pinned_host_allocator() (plain memory without CUDA)
  // Data parallelism: this rank's share of each epoch's order (epoch_shard.h); batches and
  // positions count within the share, and a bad file's place goes to the next sample of it.
  EpochShard shard;
};

struct Batch {
  Tensor images;  // [N, H, W, C] uint8, pinned when CUDA is present
  Tensor labels;  // [N] int32
  int64_t index = 0;  // batch index within the epoch
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<Dataset> dataset, const TransformConfig& transform,
             const LoaderOptions& options);
  DataLoader(std::shared_ptr<Dataset> dataset, const Transform& transform,
             const LoaderOptions& options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t batches_per_epoch() const;
  // Starts (or restarts) `epoch` at batch `first_batch`; discards batches of a previous epoch.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch of the epoch, in order; false at the end of the epoch.
  bool next(Batch& out);

  // Distinct files found unreadable so far (over all epochs of this loader).
  int64_t skipped_files() const;
  // Distinct unreadable files passed over in the current epoch: found bad now or known from an
  // earlier epoch (a bad file is skipped again every epoch). After start_epoch(e, first_batch > 0)
  // only the batches from first_batch on count.
  int64_t epoch_skipped_files() const;
  // Images delivered by next() since start_epoch, per second of wall time.
  double images_per_second() const;
  int64_t epoch() const { return epoch_; }
  int64_t workers() const { return static_cast<int64_t>(threads_.size()); }
  const Dataset& dataset() const { return *dataset_; }
  const Transform& transform() const { return transform_; }
  const LoaderOptions& options() const { return options_; }

 private:
  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };
  void worker_loop();
  Batch build_batch(int64_t b, int64_t epoch, const std::vector<int64_t>& order, uint64_t generation);
  int32_t load_sample(int64_t position, int64_t epoch, const std::vector<int64_t>& order,
                      uint64_t generation, uint8_t* out);
  // True for a known bad file, which it also counts as skipped this epoch.
  bool skip_if_bad(int64_t index);
  void mark_bad(int64_t index, const std::string& reason);

  std::shared_ptr<Dataset> dataset_;
  Transform transform_;
  LoaderOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  std::vector<std::thread> threads_;
  bool stop_ = false, active_ = false, summary_logged_ = false;
  std::atomic<uint64_t> generation_{0};
  int64_t epoch_ = 0, claim_ = 0, deliver_ = 0, end_ = 0, window_ = 1, busy_ = 0;
  std::shared_ptr<const std::vector<int64_t>> order_;
  std::map<int64_t, Slot> ready_;
  int64_t delivered_images_ = 0;
  std::chrono::steady_clock::time_point epoch_start_;

  mutable std::mutex bad_mutex_;
  std::unordered_set<int64_t> bad_;
  std::unordered_set<int64_t> epoch_bad_;  // bad_ entries met in the current epoch
};

}  // namespace te
