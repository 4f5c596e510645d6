#pragma once
// Collective operations among the ranks of one training job, behind one interface so the
// training loop does not care whether MPI (CPU tensors) or NCCL (CUDA tensors) moves the bytes.
// Every rank must call the same collectives in the same order with the same sizes; a
// collective that fails or a peer that vanished is a DistributedError naming the operation.
#include <cstdint>
#include <memory>
#include <string>

#include "engine/core/error.h"
#include "engine/core/tensor.h"

namespace te {

// A collective failed, timed out, or the ranks disagree about the run.
class DistributedError : public Error { using Error::Error; };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "mpi", "nccl"

  // In place: every rank ends with the element-wise sum over ranks. `t` is contiguous, F32,
  // F64 or BF16 (summed in float, rounded to bf16 after each addition; the same bytes on every
  // rank), on the device this communicator serves.
  virtual void allreduce_sum(Tensor& t) = 0;
  // The same, divided by size() (the gradient average of data parallelism); F32 or F64.
  virtual void allreduce_mean(Tensor& t) = 0;
  // Host values (statistics, flags), summed in double on every rank.
  virtual void allreduce_sum(double* values, int64_t count) = 0;
  // In place: every rank ends with `root`'s bytes (any dtype).
  virtual void broadcast(Tensor& t, int root) = 0;
  virtual void broadcast_bytes(void* data, int64_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // True when a thread other than the one that created the communicator may issue the
  // collectives, one thread at a time (MPI_THREAD_SERIALIZED): the overlapped gradient average.
  virtual bool collectives_from_another_thread() const { return false; }
  // GPU communicators (NCCL): all-reduces on a stream of the communicator's own, each ordered
  // after the work queued on the compute stream when it is called, none waited for by the
  // host, so backward goes on queueing while they run (the overlapped gradient average of GPU
  // ranks). join_side_stream orders the compute stream's later work after all of them and
  // waits, under the collective timeout, until they completed (a peer's failure or a hang is
  // a DistributedError there). Same dtypes as allreduce_sum / allreduce_mean.
  virtual bool has_side_stream() const { return false; }
  virtual void side_allreduce_sum(Tensor& t) { no_side_stream(); }
  virtual void side_allreduce_mean(Tensor& t) { no_side_stream(); }
  virtual void join_side_stream() { no_side_stream(); }
  // Every rank got this far without an error: the destructor may end the collectives in order.
  // Without it (an exception on this rank) the destructor leaves the others to the launcher,
  // which ends the job, rather than wait for peers that may be blocked.
  virtual void shutdown() = 0;

 private:
  [[noreturn]] void no_side_stream() const {
    throw DistributedError("the " + backend() + " communicator has no side stream (GPU ranks only)");
  }
};

// Rank `root`'s string on every rank (e.g. the run directory, which has a timestamp in it).
inline std::string broadcast_string(Communicator& comm, const std::string& s, int root = 0) {
  int64_t n = static_cast<int64_t>(s.size());
  comm.broadcast_bytes(&n, sizeof(n), root);
  std::string out = comm.rank() == root ? s : std::string(static_cast<size_t>(n), '\0');
  if (n > 0) comm.broadcast_bytes(out.data(), n, root);
  return out;
}

}  // namespace te
