#include "engine/distributed/data_parallel.h"

#include <algorithm>
#include <chrono>

#include "kernels/cast.h"

namespace te {

struct DataParallel::BucketAverage {
  std::shared_ptr<Communicator> comm;  // the comm thread may outlive DataParallel (overlapped_reducer.h)
  DType wire = DType::F32;
  Tensor scratch;  // bf16 copy of the bucket; one bucket at a time on either path

  void operator()(Tensor& bucket) {
    if (wire == DType::F32 || bucket.dtype() != DType::F32) return comm->allreduce_mean(bucket);
    if (!scratch.defined() || scratch.numel() < bucket.numel())
      scratch = Tensor::empty(Shape{bucket.numel()}, wire, bucket.device());
    Tensor low = scratch.slice_flat(0, bucket.shape());
    ops::cast_scale(bucket, low, 1.0);
    comm->allreduce_sum(low);
    // The same bf16 sum on every rank, scaled the same way: the ranks stay bit-identical.
    ops::cast_scale(low, bucket, 1.0 / comm->size());
  }
};

DataParallel::DataParallel(std::shared_ptr<Communicator> comm, int64_t bucket_bytes, DType wire)
    : comm_(std::move(comm)), bucket_bytes_(bucket_bytes), wire_(wire) {
  if (!comm_) throw DistributedError("data parallelism without a communicator");
  if (wire != DType::F32 && wire != DType::BF16)
    throw ConfigError(std::string("gradient all-reduce in ") + dtype_name(wire) + ": f32 or bf16 only");
  average_ = std::make_shared<BucketAverage>();
  average_->comm = comm_;
  average_->wire = wire;
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
    (*average_)(bucket);
  }
  gradient_seconds_ +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void DataParallel::arm_overlap(Tensor& flat) {
  if (!can_overlap())
    throw DistributedError("overlapped all-reduce: the " + comm_->backend() +
                           " communicator has neither a side stream nor collectives from a second thread");
  const auto elem = static_cast<int64_t>(dtype_size(flat.dtype()));
  if (comm_->has_side_stream()) {
    if (!side_reducer_ || reducer_numel_ != flat.numel())
      side_reducer_ = std::make_unique<SideStreamReducer>(buckets(flat.numel(), elem, bucket_bytes_), comm_, wire_);
    reducer_numel_ = flat.numel();
    return side_reducer_->arm(flat);
  }
  if (!reducer_ || reducer_numel_ != flat.numel()) {
    reducer_.reset();
    // The comm thread owns a reference to the communicator: it may outlive this object when
    // it is stuck in a collective (overlapped_reducer.h).
    reducer_ = std::make_unique<OverlappedReducer>(
        buckets(flat.numel(), elem, bucket_bytes_),
        [average = average_](Tensor& bucket) { (*average)(bucket); });
    reducer_numel_ = flat.numel();
  }
  reducer_->arm(flat);
}

void DataParallel::gradients_ready(int64_t offset, int64_t count) {
  if (side_reducer_) side_reducer_->ready(offset, count);
  if (reducer_) reducer_->ready(offset, count);
}

void DataParallel::finish_overlap() {
  if (side_reducer_) side_reducer_->finish();
  if (reducer_) reducer_->finish();
}

double DataParallel::overlap_wait_seconds() const {
  return reducer_ ? reducer_->wait_seconds() : side_reducer_ ? side_reducer_->wait_seconds() : 0;
}

int64_t DataParallel::overlap_early_buckets() const {
  return reducer_ ? reducer_->early_buckets() : side_reducer_ ? side_reducer_->early_buckets() : 0;
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
