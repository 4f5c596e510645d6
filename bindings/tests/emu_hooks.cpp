// Test-only functions of trainer_engine._core_emu (the module built against the emulated CUDA
// runtime): read device memory back, make a consumer stream, and see the stream waits and the
// device bytes in use, which the DLPack device tests check.
#include <cuda_runtime_api.h>
#include <nanobind/stl/pair.h>

#include <string>

#include "bindings/src/bindings.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/emu/emulation.h"

namespace te::py {

void register_emu_test_hooks(nb::module_& m) {
  m.def("_device_to_host", [](uintptr_t device_ptr, size_t nbytes) {
    std::string bytes(nbytes, '\0');
    TE_CUDA_CHECK(cudaMemcpy(bytes.data(), reinterpret_cast<const void*>(device_ptr), nbytes, cudaMemcpyDeviceToHost));
    return nb::bytes(bytes.data(), bytes.size());
  });
  // The same, issued on `stream` (a consumer's) and waited for: it sees what that stream's
  // order guarantees, so with deferred streams an upload it was not made to wait for is missing.
  m.def("_device_to_host_on_stream", [](uintptr_t device_ptr, size_t nbytes, uintptr_t stream) {
    std::string bytes(nbytes, '\0');
    auto* s = reinterpret_cast<cudaStream_t>(stream);
    TE_CUDA_CHECK(cudaMemcpyAsync(bytes.data(), reinterpret_cast<const void*>(device_ptr), nbytes,
                                  cudaMemcpyDeviceToHost, s));
    TE_CUDA_CHECK(cudaStreamSynchronize(s));
    return nb::bytes(bytes.data(), bytes.size());
  });
  m.def("_create_stream", [] {
    cudaStream_t s = nullptr;
    // cudaStreamCreate is not emulated (it would reach the real libcudart that NCCL pulls in)
    TE_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    return reinterpret_cast<uintptr_t>(s);
  });
  m.def("_stream_wait_count", [] { return te::emu::stream_wait_count(); });
  m.def("_last_stream_wait", [] {
    const te::emu::StreamWait w = te::emu::last_stream_wait();
    return std::make_pair(reinterpret_cast<uintptr_t>(w.stream), reinterpret_cast<uintptr_t>(w.event));
  });
  m.def("_device_bytes_in_use", [] { return te::cuda::device_memory_stats().in_use_bytes; });
}

}  // namespace te::py
