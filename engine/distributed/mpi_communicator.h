#pragma once
// The MPI communicator: collectives over host memory (CPU ranks) with MPI_Allreduce / MPI_Bcast
// / MPI_Barrier on a duplicate of MPI_COMM_WORLD, errors returned (MPI_ERRORS_RETURN) and
// thrown as DistributedError with MPI's own message. Also the bootstrap channel for NCCL.
// Available when the build found MPI (TE_WITH_MPI); otherwise the factory throws.
#include <memory>

#include "engine/distributed/communicator.h"
#include "engine/distributed/launch_env.h"

namespace te {

// True when this build has MPI.
bool mpi_available();

// Initialises MPI (once per process) and checks that MPI's rank and size are the launcher's
// (`launch`); DistributedError otherwise, e.g. torchrun-style variables without mpirun.
// `timeout_s` > 0: a collective that waits longer ends the process (collective_watchdog.h).
std::unique_ptr<Communicator> make_mpi_communicator(const LaunchInfo& launch, double timeout_s);

}  // namespace te
