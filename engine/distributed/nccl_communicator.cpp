#include "engine/distributed/nccl_communicator.h"

#ifdef TE_WITH_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "engine/distributed/tcp_rendezvous.h"
#include "kernels/cuda/context.h"
#endif

namespace te {

#ifndef TE_WITH_NCCL

bool nccl_available() { return false; }

namespace {
[[noreturn]] void no_nccl() {
  throw DistributedError("GPU ranks need NCCL, and this trainer was built without it (no CUDA "
                         "backend or no nccl.h found): install NCCL (libnccl-dev or the CUDA "
                         "toolkit's) and rebuild, or train on CPU ranks with --device cpu");
}
}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator>, double) { no_nccl(); }
std::unique_ptr<Communicator> make_nccl_communicator(const LaunchInfo&, Device, double) { no_nccl(); }

#else

bool nccl_available() { return true; }

namespace {

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(std::unique_ptr<Communicator> bootstrap, double timeout_s)
      : boot_(std::move(bootstrap)), rank_(boot_->rank()), size_(boot_->size()), timeout_s_(timeout_s) {
    ncclUniqueId id;
    if (rank_ == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    boot_->broadcast_bytes(&id, sizeof(id), 0);
    // Non-blocking init would let us time it out too; blocking keeps the first version simple.
    check(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
  }

  // Without MPI: the id over the TCP rendezvous; host collectives through `device` buffers.
  NcclCommunicator(const LaunchInfo& launch, Device device, double timeout_s)
      : rank_(launch.rank), size_(launch.world_size), device_(device), timeout_s_(timeout_s) {
    ncclUniqueId id;
    std::memset(&id, 0, sizeof(id));
    if (rank_ == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    const std::string bytes = tcp_broadcast_from_root(
        launch, std::string(reinterpret_cast<const char*>(&id), sizeof(id)), timeout_s > 0 ? timeout_s : 300);
    if (bytes.size() != sizeof(id))
      throw DistributedError("rank " + std::to_string(rank_) + ": the rendezvous passed " +
                             std::to_string(bytes.size()) + " bytes, not an NCCL unique id (" +
                             std::to_string(sizeof(id)) + "): another NCCL version on rank 0?");
    std::memcpy(&id, bytes.data(), sizeof(id));
    check(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
  }

  ~NcclCommunicator() override {
    if (comm_ != nullptr) {
      if (clean_) ncclCommDestroy(comm_);
      else ncclCommAbort(comm_);  // peers may be stuck; do not wait for them
    }
    if (side_event_) cudaEventDestroy(side_event_);
    if (side_) cudaStreamDestroy(side_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }

  void allreduce_sum(Tensor& t) override { allreduce(t, ncclSum, "all-reduce"); }
  void allreduce_mean(Tensor& t) override { allreduce(t, ncclAvg, "all-reduce (average)"); }
  void allreduce_sum(double* values, int64_t count) override {
    if (boot_) return boot_->allreduce_sum(values, count);
    if (count <= 0) return;
    Tensor t = Tensor::from_vector_f64(Shape{count}, std::vector<double>(values, values + count)).to(device_);
    allreduce(t, ncclSum, "all-reduce of host values");
    const std::vector<double> sum = t.to_f64_vector();
    std::memcpy(values, sum.data(), sum.size() * sizeof(double));
  }

  bool has_side_stream() const override { return true; }
  void side_allreduce_sum(Tensor& t) override { side_allreduce(t, ncclSum); }
  void side_allreduce_mean(Tensor& t) override { side_allreduce(t, ncclAvg); }
  void join_side_stream() override {
    if (!side_) return;
    cuda_check(cudaEventRecord(side_event_, side_), "cudaEventRecord");
    cuda_check(cudaStreamWaitEvent(stream(), side_event_, 0), "cudaStreamWaitEvent");
    wait(side_, "overlapped gradient all-reduce");
  }

  void broadcast(Tensor& t, int root) override {
    if (t.device().is_cpu()) return broadcast_bytes(t.raw(), static_cast<int64_t>(t.nbytes()), root);
    check(ncclBroadcast(t.raw(), t.raw(), t.nbytes(), ncclUint8, root, comm_, stream()), "ncclBroadcast");
    wait(stream(), "broadcast");
  }
  void broadcast_bytes(void* data, int64_t bytes, int root) override {
    if (boot_) return boot_->broadcast_bytes(data, bytes, root);
    if (bytes <= 0) return;
    Tensor host = Tensor::empty(Shape{bytes}, DType::U8);
    std::memcpy(host.raw(), data, static_cast<size_t>(bytes));
    Tensor t = host.to(device_);
    broadcast(t, root);
    std::memcpy(data, t.to(Device::cpu()).raw(), static_cast<size_t>(bytes));
  }
  void barrier() override {
    if (boot_) return boot_->barrier();
    double token = 0;
    allreduce_sum(&token, 1);
  }
  void shutdown() override {
    clean_ = true;
    if (boot_) boot_->shutdown();
  }

 private:
  static cudaStream_t stream() { return reinterpret_cast<cudaStream_t>(cuda::context().compute); }

  static ncclDataType_t nccl_type(const Tensor& t, const char* what) {
    if (t.device().is_cpu())
      throw DistributedError(std::string("NCCL ") + what + " of a CPU tensor: NCCL serves CUDA tensors");
    switch (t.dtype()) {
      case DType::F32: return ncclFloat32;
      case DType::F64: return ncclFloat64;
      case DType::BF16: return ncclBfloat16;
      case DType::F16: return ncclFloat16;
      default:
        throw DistributedError(std::string("NCCL ") + what + " of a " + dtype_name(t.dtype()) + " tensor");
    }
  }

  void allreduce(Tensor& t, ncclRedOp_t op, const char* what) {
    const ncclDataType_t type = nccl_type(t, what);
    check(ncclAllReduce(t.raw(), t.raw(), static_cast<size_t>(t.numel()), type, op, comm_, stream()),
          "ncclAllReduce");
    wait(stream(), what);
  }

  // The side stream waits for what the compute stream has queued so far (the gradients of
  // `t` among it), then reduces; nothing waits on the host until join_side_stream.
  void side_allreduce(Tensor& t, ncclRedOp_t op) {
    const ncclDataType_t type = nccl_type(t, "overlapped all-reduce");
    if (!side_) {
      // Non-blocking: the side stream must not serialise with the legacy default stream.
      cuda_check(cudaStreamCreateWithFlags(&side_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
      cuda_check(cudaEventCreateWithFlags(&side_event_, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    }
    // One event serves every bucket: a wait takes the event's state when it is issued.
    cuda_check(cudaEventRecord(side_event_, stream()), "cudaEventRecord");
    cuda_check(cudaStreamWaitEvent(side_, side_event_, 0), "cudaStreamWaitEvent");
    check(ncclAllReduce(t.raw(), t.raw(), static_cast<size_t>(t.numel()), type, op, comm_, side_),
          "ncclAllReduce (side stream)");
  }

  // Polls instead of blocking in cudaStreamSynchronize, so that a peer's failure (async
  // error) or a hang (timeout) becomes an abort and an exception rather than a hang.
  void wait(cudaStream_t on, const char* what) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      const cudaError_t q = cudaStreamQuery(on);
      if (q == cudaSuccess) return;
      if (q != cudaErrorNotReady)
        fail(std::string(what) + ": CUDA error " + cudaGetErrorString(q));
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      if (async != ncclSuccess && async != ncclInProgress)
        fail(std::string(what) + ": " + ncclGetErrorString(async));
      const double waited =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (timeout_s_ > 0 && waited > timeout_s_)
        fail(std::string(what) + " did not complete within " + std::to_string(timeout_s_) +
             " s: a peer rank died or stopped responding (--collective-timeout sets the limit)");
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  [[noreturn]] void fail(const std::string& what) {
    ncclCommAbort(comm_);
    comm_ = nullptr;
    throw DistributedError("rank " + std::to_string(rank()) + ": NCCL " + what);
  }

  void cuda_check(cudaError_t e, const char* call) {
    if (e != cudaSuccess)
      throw DistributedError("rank " + std::to_string(rank_) + ": " + call + " failed: " +
                             cudaGetErrorString(e));
  }

  void check(ncclResult_t r, const char* call) {
    if (r != ncclSuccess)
      throw DistributedError("rank " + std::to_string(rank_) + ": " + call +
                             " failed: " + ncclGetErrorString(r));
  }

  std::unique_ptr<Communicator> boot_;  // MPI; null after the TCP rendezvous
  int rank_ = 0, size_ = 1;
  Device device_ = Device::cpu();  // host collectives' buffers when boot_ is null
  double timeout_s_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t side_ = nullptr;  // the overlapped all-reduces (created on first use)
  cudaEvent_t side_event_ = nullptr;
  bool clean_ = false;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> bootstrap,
                                                     double timeout_s) {
  return std::make_unique<NcclCommunicator>(std::move(bootstrap), timeout_s);
}

std::unique_ptr<Communicator> make_nccl_communicator(const LaunchInfo& launch, Device device,
                                                     double timeout_s) {
  return std::make_unique<NcclCommunicator>(launch, device, timeout_s);
}

#endif

}  // namespace te
