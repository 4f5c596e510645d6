#include "engine/data/loader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "engine/core/philox.h"
#include "engine/data/image_decode.h"

namespace te {
namespace {
constexpr uint64_t kShuffleStream = 0x5348554600000000ull;  // "SHUF"

// Thrown inside a worker when start_epoch() abandons the batch it is building.
struct Cancelled {};

std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  if (!shuffle) return order;
  CounterRng rng(seed, kShuffleStream + static_cast<uint64_t>(epoch), 0);
  for (int64_t i = n - 1; i > 0; --i) {
    // Two 32-bit draws give an unbiased-enough index for data sets past 2^32 samples too.
    const uint64_t r = (static_cast<uint64_t>(rng.next_u32()) << 32) | rng.next_u32();
    std::swap(order[i], order[r % static_cast<uint64_t>(i + 1)]);
  }
  return order;
}
}  // namespace

DataLoader::DataLoader(std::shared_ptr<Dataset> dataset, const TransformConfig& transform,
                       const LoaderOptions& options)
    : DataLoader(std::move(dataset), Transform(transform), options) {}

DataLoader::DataLoader(std::shared_ptr<Dataset> dataset, const Transform& transform,
                       const LoaderOptions& options)
    : dataset_(std::move(dataset)), transform_(transform), options_(options) {
  if (!dataset_) throw DataError("data loader: no data set");
  if (dataset_->size() == 0) throw DataError("data loader: the data set is empty");
  if (options_.batch_size <= 0)
    throw ConfigError("data loader: batch_size must be positive, got " +
                      std::to_string(options_.batch_size));
  if (options_.drop_last && dataset_->size() < options_.batch_size)
    throw DataError("data loader: drop_last with batch_size " + std::to_string(options_.batch_size) +
                    " leaves no batch of the " + std::to_string(dataset_->size()) + " samples");
  if (options_.drop_last && batches_per_epoch() == 0)
    throw DataError("data loader: " + std::to_string(options_.shard.count) + " ranks at batch_size " +
                    std::to_string(options_.batch_size) + " need " +
                    std::to_string(options_.shard.count * options_.batch_size) +
                    " samples for one step, the data set has " + std::to_string(dataset_->size()));
  const int workers = options_.workers > 0
                          ? options_.workers
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  window_ = std::max<int64_t>(options_.prefetch, workers);
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { worker_loop(); });
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    ++generation_;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

int64_t DataLoader::batches_per_epoch() const {
  const int64_t b = options_.batch_size;
  const int64_t n = shard_size(dataset_->size(), b, options_.shard, options_.drop_last);
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void DataLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  const int64_t total = batches_per_epoch();
  if (first_batch < 0 || first_batch > total)
    throw DataError("data loader: cannot resume at batch " + std::to_string(first_batch) +
                    " of an epoch of " + std::to_string(total) + " batches");
  std::vector<int64_t> global = epoch_order(dataset_->size(), options_.shuffle, options_.seed, epoch);
  auto order = std::make_shared<const std::vector<int64_t>>(
      options_.shard.count > 1
          ? shard_order(global, options_.batch_size, options_.shard, options_.drop_last)
          : std::move(global));
  std::unique_lock<std::mutex> lock(mutex_);
  ++generation_;
  active_ = false;
  ready_cv_.wait(lock, [&] { return busy_ == 0; });  // abandoned batches finish or cancel
  ready_.clear();
  {
    // No worker of the previous epoch runs any more (busy_ == 0), so none can count into it.
    std::lock_guard<std::mutex> bad_lock(bad_mutex_);
    epoch_bad_.clear();
  }
  order_ = std::move(order);
  epoch_ = epoch;
  claim_ = deliver_ = first_batch;
  end_ = total;
  delivered_images_ = 0;
  summary_logged_ = false;
  epoch_start_ = std::chrono::steady_clock::now();
  active_ = true;
  lock.unlock();
  work_cv_.notify_all();
}

void DataLoader::worker_loop() {
  for (;;) {
    std::unique_lock<std::mutex> lock(mutex_);
    work_cv_.wait(lock, [&] { return stop_ || (active_ && claim_ < end_ && claim_ < deliver_ + window_); });
    if (stop_) return;
    const int64_t b = claim_++;
    const uint64_t generation = generation_;
    const int64_t epoch = epoch_;
    const auto order = order_;
    ++busy_;
    lock.unlock();
    Slot slot;
    bool cancelled = false;
    try {
      slot.batch = build_batch(b, epoch, *order, generation);
    } catch (const Cancelled&) {
      cancelled = true;
    } catch (...) {
      slot.error = std::current_exception();
    }
    lock.lock();
    --busy_;
    if (!cancelled && generation == generation_) ready_.emplace(b, std::move(slot));
    lock.unlock();
    ready_cv_.notify_all();
  }
}

Batch DataLoader::build_batch(int64_t b, int64_t epoch, const std::vector<int64_t>& order,
                              uint64_t generation) {
  const int64_t n = static_cast<int64_t>(order.size());  // this rank's share
  const int64_t begin = b * options_.batch_size;
  const int64_t count = std::min(options_.batch_size, n - begin);
  const TransformConfig& tc = transform_.config();
  Batch batch;
  batch.index = b;
  Allocator& alloc = options_.pin_memory ? pinned_host_allocator() : cpu_allocator();
  batch.images = Tensor::empty_with(Shape{count, tc.image_size, tc.image_size, tc.channels}, DType::U8, alloc);
  batch.labels = Tensor::empty_with(Shape{count}, DType::I32, alloc);
  uint8_t* images = batch.images.data<uint8_t>();
  int32_t* labels = batch.labels.data<int32_t>();
  const int64_t bytes = transform_.output_bytes();
  for (int64_t k = 0; k < count; ++k)
    labels[k] = load_sample(begin + k, epoch, order, generation, images + k * bytes);
  return batch;
}

int32_t DataLoader::load_sample(int64_t position, int64_t epoch, const std::vector<int64_t>& order,
                                uint64_t generation, uint8_t* out) {
  const int64_t n = static_cast<int64_t>(order.size());  // this rank's share
  SampleData sample;
  for (int64_t step = 0; step < n; ++step) {
    if (generation_.load() != generation) throw Cancelled{};
    const int64_t index = order[(position + step) % n];
    if (skip_if_bad(index)) continue;
    dataset_->read(index, sample);  // DataError (unreadable file) propagates: stops the run
    CounterRng rng = sample_rng(options_.seed, epoch, index);
    try {
      transform_.apply(sample, rng, out);
      return dataset_->label(index);
    } catch (const BadImageError& e) {
      mark_bad(index, e.what());
    }
  }
  throw DataError("data loader: no sample of the " + std::to_string(n) + " in the data set could be decoded");
}

bool DataLoader::skip_if_bad(int64_t index) {
  std::lock_guard<std::mutex> lock(bad_mutex_);
  if (bad_.count(index) == 0) return false;
  epoch_bad_.insert(index);
  return true;
}

void DataLoader::mark_bad(int64_t index, const std::string& reason) {
  std::lock_guard<std::mutex> lock(bad_mutex_);
  epoch_bad_.insert(index);
  if (!bad_.insert(index).second) return;
  spdlog::warn("skipping '{}': {}", dataset_->describe(index), reason);
  const int64_t n = dataset_->size();
  const double limit = options_.max_skip_fraction * static_cast<double>(n);
  if (static_cast<double>(bad_.size()) > limit)
    throw DataError("data loader: " + std::to_string(bad_.size()) + " of " + std::to_string(n) +
                    " files could not be decoded, more than the limit of " +
                    std::to_string(options_.max_skip_fraction * 100) +
                    "% (max_skip_fraction); check the data set (see the warnings above)");
}

bool DataLoader::next(Batch& out) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!active_) throw Error("data loader: call start_epoch() before next()");
  if (deliver_ >= end_) {
    if (!summary_logged_) {
      summary_logged_ = true;
      const int64_t skipped = epoch_skipped_files();
      if (skipped > 0)
        spdlog::warn("epoch {}: {} unreadable files skipped this epoch", epoch_, skipped);
    }
    return false;
  }
  ready_cv_.wait(lock, [&] { return ready_.count(deliver_) != 0; });
  auto it = ready_.find(deliver_);
  Slot slot = std::move(it->second);
  ready_.erase(it);
  ++deliver_;
  lock.unlock();
  work_cv_.notify_all();
  if (slot.error) std::rethrow_exception(slot.error);
  delivered_images_ += slot.batch.labels.numel();
  out = std::move(slot.batch);
  return true;
}

int64_t DataLoader::skipped_files() const {
  std::lock_guard<std::mutex> lock(bad_mutex_);
  return static_cast<int64_t>(bad_.size());
}

int64_t DataLoader::epoch_skipped_files() const {
  std::lock_guard<std::mutex> lock(bad_mutex_);
  return static_cast<int64_t>(epoch_bad_.size());
}

double DataLoader::images_per_second() const {
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start_).count();
  return s > 0 ? static_cast<double>(delivered_images_) / s : 0.0;
}

}  // namespace te
