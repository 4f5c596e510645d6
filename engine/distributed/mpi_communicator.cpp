#include "engine/distributed/mpi_communicator.h"

#ifdef TE_WITH_MPI
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "engine/core/half.h"
#include "engine/distributed/collective_watchdog.h"
#endif

namespace te {

#ifndef TE_WITH_MPI

bool mpi_available() { return false; }

std::unique_ptr<Communicator> make_mpi_communicator(const LaunchInfo& launch, double) {
  throw DistributedError("launched as " + launch.describe() +
                         ", but this trainer was built without MPI, which CPU ranks and the NCCL "
                         "bootstrap need: install libopenmpi-dev (scripts/install_deps.sh) and "
                         "rebuild, or run a single process");
}

#else

bool mpi_available() { return true; }

namespace {

std::string mpi_message(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<size_t>(length));
}

// MPI has no bf16: a user operation over 16-bit words, each addition in float rounded back.
void bf16_sum(void* in, void* inout, int* count, MPI_Datatype*) {
  const uint16_t* a = static_cast<const uint16_t*>(in);
  uint16_t* b = static_cast<uint16_t*>(inout);
  for (int i = 0; i < *count; ++i) b[i] = float_to_bf16(bf16_to_float(a[i]) + bf16_to_float(b[i]));
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(const LaunchInfo& launch, double timeout_s) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      // The training thread calls MPI, and during backward the overlapped all-reduce's comm
      // thread, never both at once (the loader's workers and the watchdog never do).
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
      owns_mpi_ = true;
    }
    int level = MPI_THREAD_SINGLE;
    MPI_Query_thread(&level);
    serialized_ = level >= MPI_THREAD_SERIALIZED;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    if (rank_ != launch.rank || size_ != launch.world_size)
      throw DistributedError(
          "the launcher says " + launch.describe() + " but MPI sees rank " + std::to_string(rank_) +
          " of " + std::to_string(size_) + " processes: start CPU ranks with mpirun or srun "
          "(torchrun-style variables alone start GPU ranks only)");
    // Declared non-commutative: MPI then combines in rank order, so every rank gets the same
    // bytes whatever the algorithm (rounded bf16 sums are not associative).
    check(MPI_Op_create(&bf16_sum, /*commute=*/0, &bf16_sum_), "MPI_Op_create");
    watchdog_ = std::make_unique<CollectiveWatchdog>(rank_, timeout_s);
  }

  ~MpiCommunicator() override {
    // After an error on this rank the others may wait inside a collective, and MPI_Finalize
    // would wait for them: leave MPI unfinalized, so the launcher ends the job (it does when a
    // rank exits without finalizing).
    if (!clean_) return;
    MPI_Op_free(&bf16_sum_);
    MPI_Comm_free(&comm_);
    if (owns_mpi_) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  void allreduce_sum(Tensor& t) override {
    if (!t.device().is_cpu())
      throw DistributedError("MPI all-reduce of a " + t.device().str() +
                             " tensor: the MPI communicator serves CPU ranks (GPU ranks use NCCL)");
    const bool bf16 = t.dtype() == DType::BF16;
    MPI_Datatype type = t.dtype() == DType::F32   ? MPI_FLOAT
                        : t.dtype() == DType::F64 ? MPI_DOUBLE
                        : bf16                    ? MPI_UINT16_T
                                                  : MPI_DATATYPE_NULL;
    if (type == MPI_DATATYPE_NULL)
      throw DistributedError(std::string("all-reduce of a ") + dtype_name(t.dtype()) +
                             " tensor: only f32, f64 and bf16 are summed");
    char* p = static_cast<char*>(t.raw());
    const size_t elem = dtype_size(t.dtype());
    WatchedCollective w(watchdog_.get(), "all-reduce", static_cast<int64_t>(t.nbytes()));
    for (int64_t done = 0, n = t.numel(); done < n;) {  // MPI counts are int
      const int count = static_cast<int>(std::min<int64_t>(n - done, INT_MAX / 2));
      check(MPI_Allreduce(MPI_IN_PLACE, p + done * elem, count, type, bf16 ? bf16_sum_ : MPI_SUM, comm_),
            "MPI_Allreduce");
      done += count;
    }
  }

  void allreduce_mean(Tensor& t) override {
    if (t.dtype() != DType::F32 && t.dtype() != DType::F64)
      throw DistributedError(std::string("all-reduce mean of a ") + dtype_name(t.dtype()) +
                             " tensor: f32 and f64 only (sum bf16, then scale in f32)");
    allreduce_sum(t);
    // The same sum on every rank times the same factor: the ranks stay bit-identical.
    const double inv = 1.0 / size_;
    if (t.dtype() == DType::F32) {
      float* p = t.data<float>();
      const float f = static_cast<float>(inv);
      for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] *= f;
    } else {
      double* p = t.data<double>();
      for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] *= inv;
    }
  }

  void allreduce_sum(double* values, int64_t count) override {
    WatchedCollective w(watchdog_.get(), "all-reduce of step statistics", count * 8);
    check(MPI_Allreduce(MPI_IN_PLACE, values, static_cast<int>(count), MPI_DOUBLE, MPI_SUM, comm_),
          "MPI_Allreduce");
  }

  void broadcast(Tensor& t, int root) override {
    if (!t.device().is_cpu())
      throw DistributedError("MPI broadcast of a " + t.device().str() + " tensor: CPU ranks only");
    broadcast_bytes(t.raw(), static_cast<int64_t>(t.nbytes()), root);
  }

  void broadcast_bytes(void* data, int64_t bytes, int root) override {
    WatchedCollective w(watchdog_.get(), "broadcast", bytes);
    char* p = static_cast<char*>(data);
    for (int64_t done = 0; done < bytes;) {
      const int count = static_cast<int>(std::min<int64_t>(bytes - done, INT_MAX / 2));
      check(MPI_Bcast(p + done, count, MPI_BYTE, root, comm_), "MPI_Bcast");
      done += count;
    }
  }

  void barrier() override {
    WatchedCollective w(watchdog_.get(), "barrier", 0);
    check(MPI_Barrier(comm_), "MPI_Barrier");
  }

  void shutdown() override { clean_ = true; }
  bool collectives_from_another_thread() const override { return serialized_; }

 private:
  void check(int code, const char* call) const {
    if (code != MPI_SUCCESS)
      throw DistributedError("rank " + std::to_string(rank_) + ": " + call + " failed: " +
                             mpi_message(code));
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Op bf16_sum_ = MPI_OP_NULL;
  int rank_ = 0, size_ = 1;
  bool owns_mpi_ = false, clean_ = false;
  bool serialized_ = false;  // MPI grants MPI_THREAD_SERIALIZED or more
  std::unique_ptr<CollectiveWatchdog> watchdog_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(const LaunchInfo& launch, double timeout_s) {
  return std::make_unique<MpiCommunicator>(launch, timeout_s);
}

#endif

}  // namespace te
