#include "kernels/cuda/context.h"

#include <cuda_runtime.h>

#include <atomic>
#include <mutex>

#include "engine/core/tensor.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/library_handles.h"
#include "kernels/cuda/probe.h"

namespace te::cuda {
namespace {
#ifdef TE_CUDA_EMULATION
// Emulated device memory is served in exactly the requested sizes, so AddressSanitizer sees
// the true end of every tensor (a rounded-up block would hide reads past it).
constexpr bool kExactBlockSizes = true;
#else
constexpr bool kExactBlockSizes = false;
#endif
// Deliberately never destroyed: tensors held in static objects may be released after main()
// returns, and must still find their allocator (the driver reclaims everything at exit).
Context* g_context = nullptr;
std::mutex g_init_mutex;
std::atomic<bool> g_allow_tf32{false};
std::atomic<bool> g_deterministic{false};
std::atomic<uint64_t> g_numerics_epoch{1};
void* g_workspace = nullptr;
size_t g_workspace_bytes = 0;
CUevent_st* g_copy_done = nullptr;
// Per upload slot: `free` is recorded on the compute stream after the last read of the slot's
// device buffers (the copy stream waits for it before overwriting them); `uploaded` on the copy
// stream after the slot's last copy (the compute stream waits for it before reading them).
CUevent_st* g_slot_free[2] = {nullptr, nullptr};
CUevent_st* g_slot_uploaded[2] = {nullptr, nullptr};

// The function the core calls for every copy that touches device memory. Copies that involve
// the host wait for the compute stream (Tensor::copy_from promises a finished copy); device to
// device copies are simply ordered on it.
void device_copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  Context& ctx = context();
  if (dst_device.is_cuda()) require_current(dst_device, "copy");
  if (src_device.is_cuda()) require_current(src_device, "copy");
  cudaMemcpyKind kind = cudaMemcpyDeviceToDevice;
  if (src_device.is_cpu()) kind = cudaMemcpyHostToDevice;
  if (dst_device.is_cpu()) kind = src_device.is_cpu() ? cudaMemcpyHostToHost : cudaMemcpyDeviceToHost;
  TE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, ctx.compute));
  if (kind != cudaMemcpyDeviceToDevice) TE_CUDA_CHECK(cudaStreamSynchronize(ctx.compute));
}

// Zeroing device memory: a memset ordered on the compute stream (no host round trip).
void device_zero(void* dst, Device device, size_t bytes) {
  require_current(device, "zero");
  TE_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, context().compute));
}
}  // namespace

bool gpu_usable(std::string* why) {
  const GpuAvailability avail = query_gpus();
  if (avail.device_count == 0) {
    if (why) *why = avail.reason;
    return false;
  }
  // A GPU exists; make sure our kernels were compiled for it (a missing architecture only shows
  // up when a kernel is launched).
  const std::string probe = probe_kernel_launch(0);
  if (!probe.empty()) {
    if (why) *why = probe;
    return false;
  }
  return true;
}

void initialize(int device) {
  std::lock_guard<std::mutex> lock(g_init_mutex);
  if (g_context) {
    if (g_context->device == device) return;
    throw DeviceError("CUDA backend already initialised on cuda:" +
                      std::to_string(g_context->device) + "; cannot switch to cuda:" +
                      std::to_string(device) + " in the same process");
  }
  const GpuAvailability avail = query_gpus();
  if (avail.device_count == 0)
    throw DeviceError("no usable GPU: " + avail.reason +
                      ". Use --device cpu (or auto) to train on the CPU");
  if (device < 0 || device >= avail.device_count)
    throw DeviceError("cuda:" + std::to_string(device) + " does not exist: this machine has " +
                      std::to_string(avail.device_count) + " GPU(s), cuda:0 to cuda:" +
                      std::to_string(avail.device_count - 1));
  TE_CUDA_CHECK(cudaSetDevice(device));
  const std::string probe = probe_kernel_launch(device);
  if (!probe.empty()) throw DeviceError("cuda:" + std::to_string(device) + " is not usable: " + probe);

  auto* ctx = new Context;
  ctx->device = device;
  cudaDeviceProp prop{};
  TE_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  ctx->sm_count = prop.multiProcessorCount;
  ctx->cc_major = prop.major;
  ctx->cc_minor = prop.minor;
  cudaStream_t compute = nullptr, copy = nullptr;
  TE_CUDA_CHECK(cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking));
  TE_CUDA_CHECK(cudaStreamCreateWithFlags(&copy, cudaStreamNonBlocking));
  ctx->compute = compute;
  ctx->copy = copy;
  cudaEvent_t copy_done = nullptr;
  TE_CUDA_CHECK(cudaEventCreateWithFlags(&copy_done, cudaEventDisableTiming));
  g_copy_done = copy_done;
  for (int slot = 0; slot < 2; ++slot) {
    cudaEvent_t free_event = nullptr, uploaded_event = nullptr;
    TE_CUDA_CHECK(cudaEventCreateWithFlags(&free_event, cudaEventDisableTiming));
    TE_CUDA_CHECK(cudaEventCreateWithFlags(&uploaded_event, cudaEventDisableTiming));
    TE_CUDA_CHECK(cudaEventRecord(free_event, compute));  // both slots start free
    g_slot_free[slot] = free_event;
    g_slot_uploaded[slot] = uploaded_event;
  }
  create_library_handles(*ctx);
  ctx->device_allocator = new CachingDeviceAllocator(device, kExactBlockSizes);
  ctx->pinned_allocator = new PinnedHostAllocator;
  g_context = ctx;
  set_device_allocator(DeviceType::CUDA, ctx->device_allocator);
  set_device_copy(&device_copy);
  set_device_zero(&device_zero);
  // Loader batches are collated into page-locked memory from now on (async host->device copies).
  set_pinned_host_allocator(ctx->pinned_allocator);
}

bool initialized() { return g_context != nullptr; }

int current_device() { return context().device; }

Context& context() {
  if (!g_context)
    throw DeviceError("the CUDA backend is not initialised: call te::cuda::initialize(device) "
                      "first (the runner does this for --device cuda)");
  return *g_context;
}

void set_allow_tf32(bool allow) {
  if (g_allow_tf32.exchange(allow) != allow) ++g_numerics_epoch;
}
bool allow_tf32() { return g_allow_tf32.load(); }
void set_deterministic(bool det) {
  if (g_deterministic.exchange(det) != det) ++g_numerics_epoch;
}
bool deterministic() { return g_deterministic.load(); }
uint64_t numerics_epoch() { return g_numerics_epoch.load(); }

void* workspace(size_t bytes) {
  Context& ctx = context();
  if (bytes <= g_workspace_bytes) return g_workspace;
  // Stream-ordered: the old block may still be read by queued work on the compute stream, and
  // the caching allocator only hands it out to later work on that same stream.
  if (g_workspace) ctx.device_allocator->deallocate(g_workspace, g_workspace_bytes);
  g_workspace = nullptr;
  g_workspace_bytes = 0;
  g_workspace = ctx.device_allocator->allocate(bytes);
  g_workspace_bytes = bytes;
  return g_workspace;
}

size_t workspace_bytes() { return g_workspace_bytes; }
const void* workspace_address() { return g_workspace; }

Allocator& pinned_allocator() { return *context().pinned_allocator; }

AllocatorStats device_memory_stats() { return context().device_allocator->stats(); }

void reset_peak_memory() { context().device_allocator->reset_peak(); }

void synchronize() { TE_CUDA_CHECK(cudaStreamSynchronize(context().compute)); }

void copy_to_device_async(void* device_dst, const void* host_src, size_t bytes) {
  Context& ctx = context();
  if (bytes == 0) return;
  TE_CUDA_CHECK(cudaMemcpyAsync(device_dst, host_src, bytes, cudaMemcpyHostToDevice, ctx.copy));
  TE_CUDA_CHECK(cudaEventRecord(g_copy_done, ctx.copy));
  TE_CUDA_CHECK(cudaStreamWaitEvent(ctx.compute, g_copy_done, 0));
}

namespace {
int checked_slot(int slot) {
  if (slot < 0 || slot > 1) throw Error("upload slot must be 0 or 1, got " + std::to_string(slot));
  return slot;
}
}  // namespace

void copy_to_slot_async(void* device_dst, const void* host_src, size_t bytes, int slot) {
  Context& ctx = context();
  TE_CUDA_CHECK(cudaStreamWaitEvent(ctx.copy, g_slot_free[checked_slot(slot)], 0));
  if (bytes > 0)
    TE_CUDA_CHECK(cudaMemcpyAsync(device_dst, host_src, bytes, cudaMemcpyHostToDevice, ctx.copy));
  TE_CUDA_CHECK(cudaEventRecord(g_slot_uploaded[slot], ctx.copy));
}

void use_upload_slot(int slot) {
  TE_CUDA_CHECK(cudaStreamWaitEvent(context().compute, g_slot_uploaded[checked_slot(slot)], 0));
}

void release_upload_slot(int slot) {
  TE_CUDA_CHECK(cudaEventRecord(g_slot_free[checked_slot(slot)], context().compute));
}

void wait_uploads() { TE_CUDA_CHECK(cudaStreamSynchronize(context().copy)); }

void require_current(const Device& device, const char* what) {
  if (!device.is_cuda())
    throw DeviceError(std::string(what) + ": expected a CUDA tensor, got one on " + device.str());
  const Context& ctx = context();
  if (device.index != ctx.device)
    throw DeviceError(std::string(what) + ": tensor is on " + device.str() +
                      " but the CUDA backend runs on cuda:" + std::to_string(ctx.device));
}

}  // namespace te::cuda
