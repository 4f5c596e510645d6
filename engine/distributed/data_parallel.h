#pragma once
// What data parallelism does to a training step, on top of a Communicator:
// - the gradient average: the flat gradient buffer in buckets of `bucket_bytes`, taken from the
//   end (the last layers' gradients, which backward produces first) in the same order on every
//   rank, each all-reduced and divided by the world size. For now after the whole backward
//   (no overlap yet; the bucket order is the one an overlapped version will use);
// - the step's statistics (mean loss, correct predictions, images, stop request) summed;
// - buffers (batch-norm running statistics) averaged, so every rank holds the same ones;
// - rank 0's parameters broadcast at the start;
// - a cheap agreement check (each rank's value of something that must match).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/named_tensor.h"
#include "engine/distributed/communicator.h"

namespace te {

class DataParallel {
 public:
  static constexpr int64_t kDefaultBucketBytes = 25ll << 20;  // PyTorch DDP's default

  DataParallel(std::shared_ptr<Communicator> comm, int64_t bucket_bytes = kDefaultBucketBytes);

  int rank() const { return comm_->rank(); }
  int size() const { return comm_->size(); }
  bool is_root() const { return comm_->rank() == 0; }
  Communicator& comm() { return *comm_; }

  void average_gradients(Tensor& flat_gradients);
  // Bucket boundaries [begin, end) in elements, in the order they are reduced.
  static std::vector<std::pair<int64_t, int64_t>> buckets(int64_t numel, int64_t elem_bytes,
                                                          int64_t bucket_bytes);

  // Float buffers (running_mean, running_var) become the mean over ranks; integer ones
  // (num_batches_tracked, equal on every rank) are taken from rank 0.
  void average_buffers(std::vector<NamedTensor>& buffers);
  void broadcast_from_root(Tensor& t) { comm_->broadcast(t, 0); }

  // Throws DistributedError naming `what`, this rank's value and rank 0's when they differ.
  void check_same(int64_t value, const std::string& what);

  // Seconds spent in gradient all-reduces since construction (this rank).
  double gradient_seconds() const { return gradient_seconds_; }

 private:
  std::shared_ptr<Communicator> comm_;
  int64_t bucket_bytes_;
  double gradient_seconds_ = 0;
};

}  // namespace te
