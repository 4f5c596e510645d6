#include "engine/distributed/nccl_communicator.h"

#ifdef TE_WITH_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <thread>

#include "kernels/cuda/context.h"
#endif

namespace te {

#ifndef TE_WITH_NCCL

bool nccl_available() { return false; }

std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator>, double) {
  throw DistributedError("GPU ranks need NCCL, and this trainer was built without it (no CUDA "
                         "backend or no nccl.h found): install NCCL (libnccl-dev or the CUDA "
                         "toolkit's) and rebuild, or train on CPU ranks with --device cpu");
}

#else

bool nccl_available() { return true; }

namespace {

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(std::unique_ptr<Communicator> bootstrap, double timeout_s)
      : boot_(std::move(bootstrap)), timeout_s_(timeout_s) {
    ncclUniqueId id;
    if (boot_->rank() == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    boot_->broadcast_bytes(&id, sizeof(id), 0);
    // Non-blocking init would let us time it out too; blocking keeps the first version simple.
    check(ncclCommInitRank(&comm_, boot_->size(), id, boot_->rank()), "ncclCommInitRank");
  }

  ~NcclCommunicator() override {
    if (comm_ == nullptr) return;
    if (clean_) ncclCommDestroy(comm_);
    else ncclCommAbort(comm_);  // peers may be stuck; do not wait for them
  }

  int rank() const override { return boot_->rank(); }
  int size() const override { return boot_->size(); }
  std::string backend() const override { return "nccl"; }

  void allreduce_sum(Tensor& t) override { allreduce(t, ncclSum, "all-reduce"); }
  void allreduce_mean(Tensor& t) override { allreduce(t, ncclAvg, "all-reduce (average)"); }
  void allreduce_sum(double* values, int64_t count) override { boot_->allreduce_sum(values, count); }

  void broadcast(Tensor& t, int root) override {
    if (t.device().is_cpu()) return boot_->broadcast(t, root);
    check(ncclBroadcast(t.raw(), t.raw(), t.nbytes(), ncclUint8, root, comm_, stream()), "ncclBroadcast");
    wait("broadcast");
  }
  void broadcast_bytes(void* data, int64_t bytes, int root) override {
    boot_->broadcast_bytes(data, bytes, root);
  }
  void barrier() override { boot_->barrier(); }
  void shutdown() override {
    clean_ = true;
    boot_->shutdown();
  }

 private:
  static cudaStream_t stream() { return reinterpret_cast<cudaStream_t>(cuda::context().compute); }

  void allreduce(Tensor& t, ncclRedOp_t op, const char* what) {
    if (t.device().is_cpu())
      throw DistributedError(std::string("NCCL ") + what + " of a CPU tensor: NCCL serves CUDA tensors");
    const ncclDataType_t type = t.dtype() == DType::F32   ? ncclFloat32
                                : t.dtype() == DType::F64 ? ncclFloat64
                                : t.dtype() == DType::BF16 ? ncclBfloat16
                                : t.dtype() == DType::F16 ? ncclFloat16
                                                          : ncclUint8;
    if (type == ncclUint8)
      throw DistributedError(std::string("NCCL ") + what + " of a " + dtype_name(t.dtype()) + " tensor");
    check(ncclAllReduce(t.raw(), t.raw(), static_cast<size_t>(t.numel()), type, op, comm_, stream()),
          "ncclAllReduce");
    wait(what);
  }

  // Polls instead of blocking in cudaStreamSynchronize, so that a peer's failure (async
  // error) or a hang (timeout) becomes an abort and an exception rather than a hang.
  void wait(const char* what) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
      const cudaError_t q = cudaStreamQuery(stream());
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

  void check(ncclResult_t r, const char* call) {
    if (r != ncclSuccess)
      throw DistributedError("rank " + std::to_string(boot_ ? boot_->rank() : -1) + ": " + call +
                             " failed: " + ncclGetErrorString(r));
  }

  std::unique_ptr<Communicator> boot_;
  double timeout_s_;
  ncclComm_t comm_ = nullptr;
  bool clean_ = false;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> bootstrap,
                                                     double timeout_s) {
  return std::make_unique<NcclCommunicator>(std::move(bootstrap), timeout_s);
}

#endif

}  // namespace te
