#pragma once
// What data parallelism does to a training step, on top of a Communicator:
// - the gradient average: the flat gradient buffer in buckets of `bucket_bytes`, taken from the
//   end (the last layers' gradients, which backward produces first) in the same order on every
//   rank, each all-reduced and divided by the world size; either after the whole backward
//   (average_gradients) or overlapped with it on a communication thread (arm_overlap ..
//   finish_overlap, overlapped_reducer.h), which gives the same bytes: same buckets, same
//   order, same reduction. On the wire in f32, or bf16 (train.allreduce_dtype: each bucket
//   rounded to bf16, summed in float with bf16 rounding, divided by the ranks in f32: half
//   the bytes, ~3 significant digits per gradient);
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
#include "engine/distributed/overlapped_reducer.h"
#include "engine/distributed/side_stream_reducer.h"

namespace te {

class DataParallel {
 public:
  static constexpr int64_t kDefaultBucketBytes = 25ll << 20;  // PyTorch DDP's default

  // `wire`: the dtype buckets travel in, F32 or BF16 (of f32 gradients).
  DataParallel(std::shared_ptr<Communicator> comm, int64_t bucket_bytes = kDefaultBucketBytes,
               DType wire = DType::F32);
  ~DataParallel();

  int rank() const { return comm_->rank(); }
  int size() const { return comm_->size(); }
  bool is_root() const { return comm_->rank() == 0; }
  Communicator& comm() { return *comm_; }

  void average_gradients(Tensor& flat_gradients);

  // The overlapped gradient average: on a communication thread for communicators that take
  // collectives from a second thread (CPU ranks, MPI_THREAD_SERIALIZED; overlapped_reducer.h),
  // on the communicator's side stream for GPU ranks (NCCL; side_stream_reducer.h).
  // arm_overlap before the backward whose gradients are reduced (the last micro-batch's);
  // that backward's gradients-ready hook calls gradients_ready; finish_overlap after it waits
  // for every bucket, and must come before any other collective of this rank.
  bool can_overlap() const {
    return comm_->collectives_from_another_thread() || comm_->has_side_stream();
  }
  void arm_overlap(Tensor& flat_gradients);
  void gradients_ready(int64_t offset, int64_t count);
  void finish_overlap();
  // Overlapped path, summed: the comm thread inside all-reduces (CPU ranks; 0 on GPU ranks,
  // whose all-reduces run on the GPU unobserved by the host), and finish_overlap waiting for
  // them once backward had ended (the part backward did not hide).
  double overlap_busy_seconds() const { return reducer_ ? reducer_->busy_seconds() : 0; }
  double overlap_wait_seconds() const;
  int64_t overlap_early_buckets() const;
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
  struct BucketAverage;  // one bucket's average in the wire dtype; shared with the comm thread
  std::shared_ptr<BucketAverage> average_;
  DType wire_;
  // Created by the first arm_overlap (one of the two, by the communicator).
  std::unique_ptr<OverlappedReducer> reducer_;
  std::unique_ptr<SideStreamReducer> side_reducer_;
  int64_t reducer_numel_ = 0;
};

}  // namespace te
