#pragma once
// The gradient all-reduce overlapped with backward on GPU ranks (PyTorch DDP's design, with
// CUDA streams instead of a thread). Backward's host code reports each layer's gradient range
// once its kernels are queued (Graph's gradients-ready hook); a bucket whose every element was
// reported is queued at once on the communicator's side stream, behind an event on the compute
// stream, so it runs on the GPU while the rest of backward does. Buckets go strictly in their
// fixed order (BucketReadiness), as on CPU ranks, and give the bytes of reducing them after
// backward: the same buckets, the same NCCL operation on the same values.
//
// Wire dtype bf16 (train.allreduce_dtype): each bucket is rounded into its own slice of a bf16
// copy of the whole gradient buffer (every bucket stays in flight until finish), summed, and
// finish() writes the sums back divided by the ranks: DataParallel's bf16 bytes.
#include <cstdint>
#include <memory>

#include "engine/distributed/bucket_readiness.h"
#include "engine/distributed/communicator.h"

namespace te {

class SideStreamReducer {
 public:
  // `buckets` must tile [0, numel) of the gradients they will be armed with; `comm` must have
  // a side stream (Communicator::has_side_stream).
  SideStreamReducer(BucketReadiness::Ranges buckets, std::shared_ptr<Communicator> comm, DType wire);

  // The next backward is the one whose gradients get reduced.
  void arm(Tensor flat);
  // [offset, offset + count) of the flat gradients is queued for the last time. Ignored when
  // not armed.
  void ready(int64_t offset, int64_t count);
  // Backward is queued: the remaining buckets go, then the compute stream and the host wait
  // for all of them (Communicator::join_side_stream). Disarms.
  void finish();

  // Buckets queued before finish(), i.e. while backward was being queued.
  int64_t early_buckets() const { return early_; }
  // Seconds the host waited in finish() for the side stream (communication not hidden).
  double wait_seconds() const { return wait_; }

 private:
  void queue_ready_buckets();

  BucketReadiness readiness_;
  std::shared_ptr<Communicator> comm_;
  DType wire_;
  Tensor flat_, low_;  // low_: the bf16 copy (wire bf16 only)
  bool armed_ = false;
  int64_t early_ = 0;
  double wait_ = 0;
};

}  // namespace te
