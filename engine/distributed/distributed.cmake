# Data parallelism (engine/distributed): MPI and NCCL are optional. Without MPI the trainer
# builds and runs one process, and refuses with a message when launched as several ranks.
# Included by engine/CMakeLists.txt after te_engine is defined.
# GLOBAL: the top level names te_engine's link interface too (the `te` link group).
find_package(MPI COMPONENTS CXX QUIET GLOBAL)
if(MPI_CXX_FOUND)
  target_link_libraries(te_engine PUBLIC MPI::MPI_CXX)
  target_compile_definitions(te_engine PUBLIC TE_WITH_MPI)
  message(STATUS "Data parallelism: MPI ${MPI_CXX_VERSION} (${MPIEXEC_EXECUTABLE})")
else()
  message(STATUS "Data parallelism: no MPI found (libopenmpi-dev): single-process only")
endif()

# NCCL for GPU ranks: the CUDA toolkit's (or libnccl-dev's) header and library.
if(TE_WITH_CUDA)
  find_path(TE_NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
  find_library(TE_NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR})
  if(TE_NCCL_INCLUDE_DIR AND TE_NCCL_LIBRARY AND MPI_CXX_FOUND)
    target_include_directories(te_engine PRIVATE ${TE_NCCL_INCLUDE_DIR})
    # The CUDA runtime comes from the backend: te_cuda links libcudart, te_cuda_emu is the
    # emulated runtime, so the emulated builds never fall through to the real one.
    target_include_directories(te_engine PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
    target_compile_definitions(te_engine PRIVATE TE_WITH_NCCL)
    # libnccl comes from the backend too: te_cuda links it (kernels/cuda/CMakeLists.txt), the
    # emulation has its own NCCL over MPI (kernels/cuda/emu/nccl.cpp).
    set_property(GLOBAL PROPERTY TE_NCCL_LINK ${TE_NCCL_LIBRARY})
    message(STATUS "Data parallelism on GPUs: NCCL (${TE_NCCL_LIBRARY})")
  else()
    message(STATUS "Data parallelism on GPUs: off (needs nccl.h, libnccl and MPI for the bootstrap)")
  endif()
endif()

# The launcher the multi-rank tests use (tests/distributed), as root where needed.
if(MPI_CXX_FOUND AND MPIEXEC_EXECUTABLE)
  target_compile_definitions(te_engine PUBLIC TE_MPIEXEC="${MPIEXEC_EXECUTABLE}")
endif()
