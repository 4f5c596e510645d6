#include "engine/distributed/side_stream_reducer.h"

#include <chrono>

#include "kernels/cast.h"

namespace te {

SideStreamReducer::SideStreamReducer(BucketReadiness::Ranges buckets, std::shared_ptr<Communicator> comm,
                                     DType wire)
    : readiness_(std::move(buckets)), comm_(std::move(comm)), wire_(wire) {
  if (!comm_ || !comm_->has_side_stream())
    throw DistributedError("overlapped all-reduce on a side stream: the communicator has none");
}

void SideStreamReducer::arm(Tensor flat) {
  int64_t covered = 0;
  for (const auto& [begin, end] : readiness_.buckets()) covered += end - begin;
  if (covered != flat.numel())
    throw DistributedError("overlapped all-reduce: the buckets cover " + std::to_string(covered) +
                           " of " + std::to_string(flat.numel()) + " gradients");
  if (wire_ != DType::F32 && flat.dtype() == DType::F32 &&
      (!low_.defined() || low_.numel() != flat.numel()))
    low_ = Tensor::empty(Shape{flat.numel()}, wire_, flat.device());
  flat_ = std::move(flat);
  readiness_.restart();
  armed_ = true;
}

void SideStreamReducer::ready(int64_t offset, int64_t count) {
  if (!armed_) return;
  if (readiness_.report(offset, count)) {
    const size_t before = readiness_.next();
    queue_ready_buckets();
    early_ += static_cast<int64_t>(readiness_.next() - before);
  }
}

void SideStreamReducer::queue_ready_buckets() {
  const bool low = wire_ != DType::F32 && flat_.dtype() == DType::F32;
  while (readiness_.next_ready()) {
    const auto [begin, end] = readiness_.buckets()[readiness_.next()];
    Tensor bucket = flat_.slice_flat(begin, Shape{end - begin});
    if (low) {
      Tensor rounded = low_.slice_flat(begin, Shape{end - begin});
      ops::cast_scale(bucket, rounded, 1.0);  // on the compute stream, before the event
      comm_->side_allreduce_sum(rounded);
    } else {
      comm_->side_allreduce_mean(bucket);
    }
    readiness_.advance();
  }
}

void SideStreamReducer::finish() {
  if (!armed_) return;
  armed_ = false;
  readiness_.report_all();
  queue_ready_buckets();
  const auto start = std::chrono::steady_clock::now();
  comm_->join_side_stream();
  wait_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The same bf16 sums on every rank, scaled alike: the ranks stay bit-identical.
  if (wire_ != DType::F32 && flat_.dtype() == DType::F32) ops::cast_scale(low_, flat_, 1.0 / comm_->size());
  flat_ = Tensor();
}

}  // namespace te
