#include "engine/distributed/data_parallel.h"

#include <algorithm>
#include <chrono>

namespace te {

DataParallel::DataParallel(std::shared_ptr<Communicator> comm, int64_t bucket_bytes)
    : comm_(std::move(comm)), bucket_bytes_(bucket_bytes) {
  if (!comm_) throw DistributedError("data parallelism without a communicator");
  if (bucket_bytes_ <= 0)
    throw ConfigError("gradient bucket size must be positive, got " + std::to_string(bucket_bytes_) +
                      " bytes");
}

DataParallel::~DataParallel() = default;

std::vector<std::pair<int64_t, int64_t>> DataParallel::buckets(int64_t numel, int64_t elem_bytes,
                                                               int64_t bucket_bytes) {
  const int64_t per = std::max<int64_t>(1, bucket_bytes / std::max<int64_t>(1, elem_bytes));
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t end = numel; end > 0; end -= per) out.emplace_back(std::max<int64_t>(0, end - per), end);
  return out;
}

void DataParallel::average_gradients(Tensor& flat) {
  const auto start = std::chrono::steady_clock::now();
  for (const auto& [begin, end] :
       buckets(flat.numel(), static_cast<int64_t>(dtype_size(flat.dtype())), bucket_bytes_)) {
    Tensor bucket = flat.slice_flat(begin, Shape{end - begin});
    comm_->allreduce_mean(bucket);
  }
  gradient_seconds_ +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void DataParallel::arm_overlap(Tensor& flat) {
  if (!can_overlap())
    throw DistributedError("overlapped all-reduce: the " + comm_->backend() +
                           " communicator does not take collectives from a second thread");
  if (!reducer_ || reducer_numel_ != flat.numel()) {
    reducer_.reset();
    // The comm thread owns a reference to the communicator: it may outlive this object when
    // it is stuck in a collective (overlapped_reducer.h).
    reducer_ = std::make_unique<OverlappedReducer>(
        buckets(flat.numel(), static_cast<int64_t>(dtype_size(flat.dtype())), bucket_bytes_),
        [comm = comm_](Tensor& bucket) { comm->allreduce_mean(bucket); });
    reducer_numel_ = flat.numel();
  }
  reducer_->arm(flat);
}

void DataParallel::gradients_ready(int64_t offset, int64_t count) {
  if (reducer_) reducer_->ready(offset, count);
}

void DataParallel::finish_overlap() {
  if (reducer_) reducer_->finish();
}

void DataParallel::average_buffers(std::vector<NamedTensor>& buffers) {
  for (auto& b : buffers) {
    if (b.tensor.dtype() == DType::F32 || b.tensor.dtype() == DType::F64)
      comm_->allreduce_mean(b.tensor);
    else
      comm_->broadcast(b.tensor, 0);
  }
}

void DataParallel::check_same(int64_t value, const std::string& what) {
  int64_t root = value;
  comm_->broadcast_bytes(&root, sizeof(root), 0);
  // Every rank must learn of a mismatch, or the matching ones would wait for the others.
  double mismatches = root != value ? 1.0 : 0.0;
  comm_->allreduce_sum(&mismatches, 1);
  if (root != value)
    throw DistributedError("rank " + std::to_string(rank()) + " has " + what + " = " +
                           std::to_string(value) + " but rank 0 has " + std::to_string(root) +
                           ": every rank must run the same config on the same data");
  if (mismatches > 0)
    throw DistributedError("rank " + std::to_string(rank()) + ": " + std::to_string(int(mismatches)) +
                           " other rank(s) disagree with rank 0 about " + what + " (see their messages)");
}

}  // namespace te
