#pragma once
// The CUDA backend's per-process state: which GPU is used, its streams, library handles, the
// workspace arena and the allocators. Host-only header (no CUDA types leak into callers that
// only need initialize / gpu_usable).
//
// One GPU per process: initialize(device) picks it; every CUDA tensor must live on it (ops
// check). Work is issued on one compute stream, so kernels are ordered without extra events;
// host<->device copies of tensors synchronise with it (Tensor::copy_from is synchronous), and a
// second copy stream serves asynchronous batch uploads (copy_to_device_async).
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/core/allocator.h"
#include "kernels/cuda/caching_allocator.h"
#include "kernels/cuda/device_query.h"

// Opaque handle types, so this header does not need the CUDA headers.
struct CUstream_st;
struct CUevent_st;
struct cudnnContext;
struct cublasContext;
struct cublasLtContext;

namespace te::cuda {

// True when a GPU can be used by this process; otherwise `why` (if given) says why not.
bool gpu_usable(std::string* why = nullptr);

// Selects `device`, creates the streams, handles and allocators, and installs the caching
// device allocator and the device copy function into the core (te::set_device_allocator,
// te::set_device_copy). Idempotent for the same device; throws te::DeviceError when the device
// does not exist or cannot be used, or when another device was initialised before.
void initialize(int device = 0);
bool initialized();
// The device chosen by initialize(); throws if initialize() has not run.
int current_device();

// Numerics switches, read when an algorithm is chosen (changing them invalidates the caches).
// TF32: lets fp32 convolutions and GEMMs run on tensor cores with 10-bit mantissas.
void set_allow_tf32(bool allow);
bool allow_tf32();
// Deterministic: only cuDNN algorithms whose results do not vary between runs.
void set_deterministic(bool deterministic);
bool deterministic();
// Bumped whenever a numerics switch changes; per-shape caches key on it.
uint64_t numerics_epoch();

// The state of the initialised device. Everything is created once by initialize().
struct Context {
  int device = 0;
  CUstream_st* compute = nullptr;  // every kernel and library call
  CUstream_st* copy = nullptr;     // asynchronous host->device batch uploads
  cudnnContext* cudnn = nullptr;   // bound to `compute`
  cublasContext* cublas = nullptr; // bound to `compute`
  cublasLtContext* cublaslt = nullptr;
  CachingDeviceAllocator* device_allocator = nullptr;
  PinnedHostAllocator* pinned_allocator = nullptr;
  int sm_count = 0;
  int cc_major = 0, cc_minor = 0;
};
// Throws te::DeviceError if initialize() has not run.
Context& context();

// Device scratch memory for cuDNN/cuBLAS, grown to the largest request and then reused: one
// buffer, so workspace never costs an allocation in steady state. Valid until the next call.
void* workspace(size_t bytes);
size_t workspace_bytes();
// Where the workspace is now: it moves when a larger request grows it, which invalidates
// captured graphs that recorded the old address (engine/train/step_capture.h).
const void* workspace_address();

// Page-locked host memory for batches that are uploaded asynchronously.
Allocator& pinned_allocator();
AllocatorStats device_memory_stats();
void reset_peak_memory();

// Waits for all work on the compute stream.
void synchronize();

// Asynchronous upload on the copy stream; the compute stream waits for it before its next work.
// `host` must be page-locked (pinned_allocator) and stay untouched until the compute stream
// has passed this point (e.g. until the next synchronize()).
void copy_to_device_async(void* device_dst, const void* host_src, size_t bytes);
// Double-buffered uploads that overlap compute (kernels/upload.h). A copy into slot 0 or 1's
// device buffers first waits, on the copy stream, until the compute stream has passed the last
// release_upload_slot(slot) (it has finished reading what the slot held before);
// use_upload_slot(slot) makes later compute work wait for the slot's copies.
void copy_to_slot_async(void* device_dst, const void* host_src, size_t bytes, int slot);
void use_upload_slot(int slot);
void release_upload_slot(int slot);
// Blocks the host until every upload issued so far has completed, so their pinned host
// buffers may be reused or freed.
void wait_uploads();

// Throws a DeviceError naming `what` when `device` is not the initialised CUDA device.
void require_current(const Device& device, const char* what);

}  // namespace te::cuda
