// NCCL, emulated over MPI for the SIMT emulation build (te_cuda_emu links this instead of
// libnccl, as runtime.cpp replaces libcudart): the calls engine/distributed/nccl_communicator.cpp
// makes, with NCCL's C signatures, so the GPU ranks' code of data parallelism (the NCCL
// communicator, the bucketed all-reduce on its own stream, synchronised batch norm) runs under
// `mpirun -np 2` on machines without a GPU. A test double, not a transport of the product: the
// bytes move by MPI between host buffers that stand for device memory.
//
// A collective runs in its stream's order like any emulated work (at once, or queued with
// deferred streams: stream_queue.h); an MPI failure then becomes the communicator's
// asynchronous error, as NCCL reports one. Buffers must be emulated device memory (memory_map.h),
// as NCCL requires device pointers. MPI must already be initialised (the trainer's MPI
// bootstrap does it); the TCP-rendezvous launch without MPI is refused here.
#include <mpi.h>
#include <nccl.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/core/half.h"
#include "kernels/cuda/emu/memory_map.h"
#include "kernels/cuda/emu/stream_queue.h"

struct ncclComm {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0, size = 1;
  // Shared with queued collectives, which may run after an abort deleted the communicator.
  std::shared_ptr<std::atomic<ncclResult_t>> async_error =
      std::make_shared<std::atomic<ncclResult_t>>(ncclSuccess);
};

namespace {

constexpr char kMagic[] = "te-emulated-nccl";

// MPI has no 16-bit floats: user operations over 16-bit words, each addition in float rounded
// back (NCCL's own bf16/f16 sums also round after each step; the order may differ).
template <float (*ToFloat)(uint16_t), uint16_t (*FromFloat)(float)>
void sum16(void* in, void* inout, int* count, MPI_Datatype*) {
  const auto* a = static_cast<const uint16_t*>(in);
  auto* b = static_cast<uint16_t*>(inout);
  for (int i = 0; i < *count; ++i) b[i] = FromFloat(ToFloat(a[i]) + ToFloat(b[i]));
}

struct Ops {
  MPI_Op bf16 = MPI_OP_NULL, f16 = MPI_OP_NULL;
};
Ops& ops() {
  static Ops o = [] {
    Ops made;
    MPI_Op_create(&sum16<te::bf16_to_float, te::float_to_bf16>, 0, &made.bf16);
    MPI_Op_create(&sum16<te::f16_to_float, te::float_to_f16>, 0, &made.f16);
    return made;
  }();
  return o;
}

bool on_device(const void* p, size_t bytes) {
  return bytes == 0 || te::emu::is_inside(p, bytes, te::emu::MemoryKind::Device);
}

size_t type_size(ncclDataType_t t) {
  switch (t) {
    case ncclInt8: case ncclUint8: return 1;
    case ncclFloat16: case ncclBfloat16: return 2;
    case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
    case ncclInt64: case ncclUint64: case ncclFloat64: return 8;
    default: return 0;
  }
}

template <typename T>
void scale(void* p, size_t n, double by) {
  auto* v = static_cast<T*>(p);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<T>(v[i] * by);
}

void scale16(void* p, size_t n, double by, float (*to)(uint16_t), uint16_t (*from)(float)) {
  auto* v = static_cast<uint16_t*>(p);
  for (size_t i = 0; i < n; ++i) v[i] = from(static_cast<float>(to(v[i]) * by));
}

}  // namespace

extern "C" {

const char* ncclGetErrorString(ncclResult_t result) {
  switch (result) {
    case ncclSuccess: return "no error";
    case ncclInvalidArgument: return "invalid argument (emulated NCCL)";
    case ncclInvalidUsage: return "invalid usage (emulated NCCL: needs MPI initialised, device buffers)";
    case ncclSystemError: return "system error (emulated NCCL: an MPI call failed)";
    default: return "unhandled error (emulated NCCL)";
  }
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  std::memset(id, 0, sizeof(*id));
  std::memcpy(id->internal, kMagic, sizeof(kMagic));
  std::random_device rd;
  for (size_t i = sizeof(kMagic); i < sizeof(id->internal); ++i)
    id->internal[i] = static_cast<char>(rd());
  return ncclSuccess;
}

// Every rank of MPI_COMM_WORLD takes part (the emulation serves one job per launch).
ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized || std::memcmp(id.internal, kMagic, sizeof(kMagic)) != 0) return ncclInvalidUsage;
  auto made = new ncclComm;
  if (MPI_Comm_split(MPI_COMM_WORLD, 0, rank, &made->comm) != MPI_SUCCESS) {
    delete made;
    return ncclSystemError;
  }
  MPI_Comm_rank(made->comm, &made->rank);
  MPI_Comm_size(made->comm, &made->size);
  // All ranks must hold rank 0's id, as with NCCL (which would hang or fail otherwise).
  ncclUniqueId root = id;
  MPI_Bcast(root.internal, sizeof(root.internal), MPI_BYTE, 0, made->comm);
  if (made->size != nranks || made->rank != rank ||
      std::memcmp(root.internal, id.internal, sizeof(id.internal)) != 0) {
    MPI_Comm_free(&made->comm);
    delete made;
    return ncclInvalidArgument;
  }
  *comm = made;
  return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (comm == nullptr) return ncclInvalidArgument;
  te::emu::drain_all();  // queued collectives use the MPI communicator freed below
  MPI_Comm_free(&comm->comm);
  delete comm;
  return ncclSuccess;
}

// Peers may be stuck: nothing collective here (the MPI communicator is left to MPI's exit).
ncclResult_t ncclCommAbort(ncclComm_t comm) {
  delete comm;
  return ncclSuccess;
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* error) {
  if (comm == nullptr) return ncclInvalidArgument;
  *error = comm->async_error->load();
  return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, ncclDataType_t type,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
  const size_t elem = type_size(type);
  if (comm == nullptr || elem == 0 || (op != ncclSum && op != ncclAvg)) return ncclInvalidArgument;
  if (!on_device(send, count * elem) || !on_device(recv, count * elem)) return ncclInvalidUsage;
  if (count == 0) return ncclSuccess;
  MPI_Datatype mpi_type = MPI_BYTE;
  MPI_Op mpi_op = MPI_SUM;
  switch (type) {
    case ncclFloat32: mpi_type = MPI_FLOAT; break;
    case ncclFloat64: mpi_type = MPI_DOUBLE; break;
    case ncclInt32: mpi_type = MPI_INT32_T; break;
    case ncclInt64: mpi_type = MPI_INT64_T; break;
    case ncclBfloat16: mpi_type = MPI_UINT16_T; mpi_op = ops().bf16; break;
    case ncclFloat16: mpi_type = MPI_UINT16_T; mpi_op = ops().f16; break;
    default: return ncclInvalidArgument;
  }
  // NCCL averages floating types only.
  if (op == ncclAvg && (type == ncclInt32 || type == ncclInt64)) return ncclInvalidArgument;
  if (count > static_cast<size_t>(INT32_MAX)) return ncclInvalidArgument;
  const MPI_Comm mpi = comm->comm;
  const int size = comm->size;
  auto error = comm->async_error;
  te::emu::submit(stream, [=] {
    const void* from = send == recv ? MPI_IN_PLACE : send;
    if (MPI_Allreduce(from, recv, static_cast<int>(count), mpi_type, mpi_op, mpi) != MPI_SUCCESS) {
      error->store(ncclSystemError);
      return;
    }
    if (op != ncclAvg) return;
    const double by = 1.0 / size;
    switch (type) {
      case ncclFloat32: scale<float>(recv, count, by); break;
      case ncclFloat64: scale<double>(recv, count, by); break;
      case ncclBfloat16: scale16(recv, count, by, te::bf16_to_float, te::float_to_bf16); break;
      case ncclFloat16: scale16(recv, count, by, te::f16_to_float, te::float_to_f16); break;
      default: break;  // refused above
    }
  });
  return ncclSuccess;
}

ncclResult_t ncclBroadcast(const void* send, void* recv, size_t count, ncclDataType_t type,
                           int root, ncclComm_t comm, cudaStream_t stream) {
  const size_t bytes = count * type_size(type);
  if (comm == nullptr || type_size(type) == 0 || root < 0 || root >= comm->size) return ncclInvalidArgument;
  if (!on_device(recv, bytes) || (comm->rank == root && !on_device(send, bytes))) return ncclInvalidUsage;
  if (bytes > static_cast<size_t>(INT32_MAX)) return ncclInvalidArgument;
  const MPI_Comm mpi = comm->comm;
  const bool copy_in = comm->rank == root && send != recv && bytes > 0;
  auto error = comm->async_error;
  te::emu::submit(stream, [=] {
    if (copy_in) std::memmove(recv, send, bytes);
    if (MPI_Bcast(recv, static_cast<int>(bytes), MPI_BYTE, root, mpi) != MPI_SUCCESS)
      error->store(ncclSystemError);
  });
  return ncclSuccess;
}

}  // extern "C"
