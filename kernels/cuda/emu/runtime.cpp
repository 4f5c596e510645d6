// The CUDA runtime API, emulated on the host for the SIMT emulation build (te_cuda_emu links
// this instead of libcudart): the calls our backend makes, with the same C signatures, so the
// host code of kernels/cuda compiles unchanged. Streams and events are in streams.cpp; copies and
// memsets here are issued to them (run at once, or queued with deferred streams:
// stream_queue.h). Device memory is host memory; copies, memsets and frees are checked against the
// registry of allocations (memory_map.h) and fail where a GPU would fail.
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/cuda/emu/device_limits.h"
#include "kernels/cuda/emu/emulation.h"
#include "kernels/cuda/emu/memory_map.h"
#include "kernels/cuda/emu/runtime_error.h"
#include "kernels/cuda/emu/stream_queue.h"

namespace {
using te::emu::MemoryKind;

thread_local cudaError_t t_last_error = cudaSuccess;
thread_local std::string t_detail;  // why the last call failed, in words

using te::emu::fail;

std::string ptr_str(const void* p) { return std::to_string(reinterpret_cast<uintptr_t>(p)); }

bool device_range(const void* p, size_t bytes) {
  return bytes == 0 || te::emu::is_inside(p, bytes, MemoryKind::Device);
}

// TE_EMU_DEVICES (default 1): how many identical emulated GPUs this process sees, so that
// ranks launched together can each take the GPU of their local rank (data-parallel tests).
// They share the host's memory; a process uses one of them, as on a real machine.
int emulated_devices() {
  static const int n = [] {
    const char* v = std::getenv("TE_EMU_DEVICES");
    const int parsed = v ? std::atoi(v) : 1;
    return parsed >= 1 && parsed <= 64 ? parsed : 1;
  }();
  return n;
}
thread_local int t_device = 0;

bool bad_device(int device) { return device < 0 || device >= emulated_devices(); }
std::string devices_str() {
  return "devices 0.." + std::to_string(emulated_devices() - 1) +
         " are emulated (TE_EMU_DEVICES sets how many)";
}

const char* error_name(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorNotSupported: return "cudaErrorNotSupported";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorIllegalState: return "cudaErrorIllegalState";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureIsolation: return "cudaErrorStreamCaptureIsolation";
    default: return "cudaErrorUnknown";
  }
}
}  // namespace

cudaError_t te::emu::fail(cudaError_t code, const std::string& detail) {
  t_last_error = code;
  t_detail = "SIMT emulation: " + detail;
  return code;
}

extern "C" {

cudaError_t cudaGetLastError(void) {
  const cudaError_t e = t_last_error;
  t_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError(void) { return t_last_error; }
const char* cudaGetErrorName(cudaError_t error) { return error_name(error); }
const char* cudaGetErrorString(cudaError_t error) {
  if (error == cudaSuccess) return "no error";
  return t_detail.empty() ? error_name(error) : t_detail.c_str();
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = emulated_devices();
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  if (bad_device(device)) return fail(cudaErrorInvalidDevice, devices_str());
  t_device = device;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = t_device;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (bad_device(device)) return fail(cudaErrorInvalidDevice, devices_str());
  const te::emu::DeviceLimits& lim = te::emu::device_limits();
  *prop = cudaDeviceProp{};
  std::strncpy(prop->name, lim.name, sizeof(prop->name) - 1);
  prop->totalGlobalMem = lim.total_memory;
  prop->sharedMemPerBlock = size_t(lim.shared_per_block);
  prop->sharedMemPerBlockOptin = size_t(lim.shared_per_block_optin);
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = lim.max_threads_per_block;
  for (int i = 0; i < 3; ++i) {
    prop->maxThreadsDim[i] = lim.max_block[i];
    prop->maxGridSize[i] = static_cast<int>(lim.max_grid[i]);
  }
  prop->major = lim.major;
  prop->minor = lim.minor;
  prop->multiProcessorCount = lim.sm_count;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (bad_device(device)) return fail(cudaErrorInvalidDevice, devices_str());
  const te::emu::DeviceLimits& lim = te::emu::device_limits();
  switch (attr) {
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = lim.shared_per_block_optin; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = lim.shared_per_block; break;
    case cudaDevAttrMultiProcessorCount: *value = lim.sm_count; break;
    case cudaDevAttrMaxThreadsPerBlock: *value = lim.max_threads_per_block; break;
    case cudaDevAttrComputeCapabilityMajor: *value = lim.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = lim.minor; break;
    case cudaDevAttrWarpSize: *value = 32; break;
    default:
      return fail(cudaErrorInvalidValue,
                  "device attribute " + std::to_string(int(attr)) + " is not emulated");
  }
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize)
    return fail(cudaErrorInvalidValue, "function attribute " + std::to_string(int(attr)) + " is not emulated");
  if (value < 0 || value > te::emu::device_limits().shared_per_block_optin)
    return fail(cudaErrorInvalidValue, "dynamic shared memory of " + std::to_string(value) +
                                           " bytes is more than the device allows per block");
  te::emu::set_dynamic_shared_limit(func, size_t(value));
  return cudaSuccess;
}

// ---- memory ----
cudaError_t cudaMalloc(void** p, size_t size) {
  *p = nullptr;
  if (size == 0) return cudaSuccess;
  const te::emu::DeviceLimits& lim = te::emu::device_limits();
  if (size > lim.total_memory - te::emu::device_bytes_in_use())
    return fail(cudaErrorMemoryAllocation, "out of emulated device memory (" +
                                               std::to_string(size) + " bytes requested)");
  // cudaMalloc's alignment, and exactly `size` bytes, so sanitizers see the true bounds.
  if (posix_memalign(p, 256, size) != 0) return fail(cudaErrorMemoryAllocation, "host allocation failed");
  te::emu::register_allocation(*p, size, MemoryKind::Device);
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  if (te::emu::refused_while_any_capture("cudaFree")) return cudaErrorStreamCaptureUnsupported;
  te::emu::drain_all();  // cudaFree synchronises the device: queued work may still use `p`
  if (!te::emu::unregister_allocation(p, MemoryKind::Device))
    return fail(cudaErrorInvalidValue, "cudaFree of " + ptr_str(p) + ", which cudaMalloc did not return");
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaHostAlloc(void** p, size_t size, unsigned int) {
  if (posix_memalign(p, 4096, size ? size : 1) != 0) return fail(cudaErrorMemoryAllocation, "host allocation failed");
  te::emu::register_allocation(*p, size, MemoryKind::PinnedHost);
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void** p, size_t size) { return cudaHostAlloc(p, size, 0); }
cudaError_t cudaFreeHost(void* p) {
  if (!p) return cudaSuccess;
  if (te::emu::refused_while_any_capture("cudaFreeHost")) return cudaErrorStreamCaptureUnsupported;
  te::emu::drain_all();  // as cudaFree: queued copies may still use `p`
  if (!te::emu::unregister_allocation(p, MemoryKind::PinnedHost))
    return fail(cudaErrorInvalidValue, "cudaFreeHost of " + ptr_str(p) + ", which cudaHostAlloc did not return");
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total) {
  *total = te::emu::device_limits().total_memory;
  *free_bytes = *total - te::emu::device_bytes_in_use();
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  if (src_dev && !device_range(src, count))
    return fail(cudaErrorInvalidValue, "copy of " + std::to_string(count) + " bytes from " + ptr_str(src) +
                                           ", which is not inside one device allocation");
  if (dst_dev && !device_range(dst, count))
    return fail(cudaErrorInvalidValue, "copy of " + std::to_string(count) + " bytes to " + ptr_str(dst) +
                                           ", which is not inside one device allocation");
  if (count == 0) return cudaSuccess;
  // A copy with pageable host memory is synchronous with its stream: CUDA stages it through
  // a pinned buffer after the stream's earlier work, and a copy to the host returns finished.
  const void* host = kind == cudaMemcpyHostToDevice ? src : kind == cudaMemcpyDeviceToHost ? dst : nullptr;
  const bool pageable = kind == cudaMemcpyHostToHost ||
                        (host && !te::emu::is_inside(host, count, MemoryKind::PinnedHost));
  if (pageable) {
    if (te::emu::refused_while_capturing(stream, "a copy with pageable host memory"))
      return cudaErrorStreamCaptureUnsupported;
    te::emu::drain(stream);
    std::memmove(dst, src, count);
  } else {
    te::emu::submit(stream, [dst, src, count] { std::memmove(dst, src, count); });
  }
  return cudaSuccess;
}
// On the legacy default stream: after the blocking streams' work, finished on return.
cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  return cudaMemcpyAsync(dst, src, count, kind, nullptr);
}
// `height` rows of `width` bytes, rows `spitch` / `dpitch` bytes apart.
cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                              size_t height, cudaMemcpyKind kind, cudaStream_t stream) {
  if (width > dpitch || width > spitch)
    return fail(cudaErrorInvalidValue, "2-D copy rows of " + std::to_string(width) +
                                           " bytes are wider than a pitch");
  for (size_t r = 0; r < height; ++r) {
    const cudaError_t e = cudaMemcpyAsync(static_cast<char*>(dst) + r * dpitch,
                                          static_cast<const char*>(src) + r * spitch, width, kind, stream);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t count, cudaStream_t stream) {
  if (!device_range(p, count))
    return fail(cudaErrorInvalidValue, "memset of " + std::to_string(count) + " bytes at " + ptr_str(p) +
                                           ", which is not inside one device allocation");
  if (count) te::emu::submit(stream, [p, value, count] { std::memset(p, value, count); });
  return cudaSuccess;
}
cudaError_t cudaMemset(void* p, int value, size_t count) { return cudaMemsetAsync(p, value, count, nullptr); }

cudaError_t cudaEventElapsedTime(float*, cudaEvent_t, cudaEvent_t) {
  return fail(cudaErrorNotSupported, "no GPU timings in emulation");
}

}  // extern "C"
