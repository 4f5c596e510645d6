#pragma once
// The NCCL communicator: collectives over CUDA tensors on the engine's compute stream (so they
// are ordered after the backward pass without a device-wide sync), or, for the all-reduce
// overlapped with backward, on a side stream of its own behind an event on the compute stream
// (communicator.h); one GPU per rank (the local rank's). Rank 0 creates the NCCL unique id and the others receive it over `bootstrap` (MPI),
// which also carries the host-side collectives (step statistics, flags); or, without MPI,
// over the TCP rendezvous, NCCL then carrying the host-side collectives too.
// Failure handling: each collective waits by polling the stream and ncclCommGetAsyncError; a
// NCCL error or a wait past the timeout aborts the communicator (ncclCommAbort) and throws a
// DistributedError naming this rank and the operation.
// Built when the CUDA backend and nccl.h are found (TE_WITH_NCCL). NOT yet run on a GPU with
// the real NCCL; in the emulation build it runs over an NCCL emulated on MPI
// (kernels/cuda/emu/nccl.cpp), which the two-rank GPU tests use (tests/distributed/emu).
#include <memory>

#include "engine/distributed/communicator.h"
#include "engine/distributed/launch_env.h"

namespace te {

bool nccl_available();

// Takes over `bootstrap` (its rank and size are this job's). The CUDA backend must already be
// initialised on this rank's GPU.
std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> bootstrap,
                                                     double timeout_s);

// torchrun-style launch without MPI: rank 0's unique id reaches the others over the TCP
// rendezvous (tcp_rendezvous.h), and NCCL also carries the host-side collectives (through small
// buffers on `device`, this rank's GPU). Written and compiled, never run (no GPU here).
std::unique_ptr<Communicator> make_nccl_communicator(const LaunchInfo& launch, Device device,
                                                     double timeout_s);

}  // namespace te
