#pragma once
// SIMT emulation: what our .cu kernel sources need to compile as host C++ and run on the CPU
// with CUDA's semantics (TE_CUDA_EMULATION builds; kernels/cuda/emu/README.md).
//
// A launch runs the blocks of the grid one after another on one host thread, when its stream
// runs it (at once, or later with deferred streams: stream_queue.h). Each thread of
// a block is a fiber with its own stack; a fiber runs until it reaches __syncthreads, a warp
// primitive or its end, and the scheduler (simt.cpp) releases a barrier or a warp operation
// only when every thread that must take part has arrived. What a GPU leaves undefined (threads
// at different barriers, a thread that exits while others wait, lanes named in a mask that
// never arrive, a shuffle from a lane outside the mask) is an error naming the kernel, the
// block, the threads and the source lines, never a hang.
//
// The built-in variables are thread_local and set by the scheduler before it resumes a fiber:
// fibers only switch inside the scheduler's calls, so each thread always sees its own values.
// `__shared__` becomes `static thread_local`: one copy per OS thread, which runs one block at a
// time, so one copy per block (CUDA's headers would otherwise make it a per-thread local).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>

#include "kernels/cuda/emu/stream_queue.h"

#undef __shared__
#define __shared__ static thread_local

namespace te::emu {
// blockDim and gridDim as a trivial type: an extern thread_local of a class with constructors
// (dim3) is reached through a TLS wrapper function, which UBSan reports as a null access
// in some of the kernels it is inlined into.
struct BuiltinDim {
  unsigned int x, y, z;
  operator dim3() const { return dim3(x, y, z); }
};
}  // namespace te::emu
extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local te::emu::BuiltinDim blockDim;
extern thread_local te::emu::BuiltinDim gridDim;
constexpr int warpSize = 32;
// CUDA declares the classification functions in the global namespace, the host's <cmath> in std.
using std::isfinite;
using std::isinf;
using std::isnan;

namespace te::emu {

// Where a launch was written: the kernel as spelled at the launch, file and line.
struct LaunchSite {
  const char* kernel;
  const char* file;
  int line;
};

// Runs `thread_body` once for every thread of the grid (after the launch checks a GPU makes).
// Throws te::DeviceError for a launch a GPU would refuse and for any SIMT error in the kernel.
using ThreadBody = void (*)(const void* closure);
void run_grid(const LaunchSite& site, const void* kernel_id, dim3 grid, dim3 block,
              size_t dynamic_shared_bytes, ThreadBody thread_body, const void* closure);

// The checks a GPU makes when a kernel is launched (block and grid sizes, dynamic shared memory
// against the kernel's limit); throws te::DeviceError naming the launch.
void check_launch(const LaunchSite& site, const void* kernel_id, dim3 grid, dim3 block,
                  size_t dynamic_shared_bytes);

// Launch argument check: `p` (argument `index` of the kernel) must be null or point into
// device memory (cudaMalloc) or page-locked host memory (cudaHostAlloc), as on a GPU.
void check_pointer_argument(const LaunchSite& site, int index, const void* p);

// The block's dynamic shared memory: exactly the launch's size, filled with 0xff bytes (NaN
// for floats) so a read before a write shows.
void* dynamic_shared();

// The block-level and warp-level operations, as the kernels' built-ins below call them.
void syncthreads(const char* file, int line);
enum class WarpOp { ShflIdx, ShflUp, ShflDown, ShflXor, SyncWarp, Ballot, Any, All };
uint64_t warp_op(WarpOp op, unsigned mask, uint64_t value, int arg, int width, const char* name,
                 const char* file, int line);
// Float atomics make results depend on the order of threads, so the race check (two thread
// orders compared) skips launches that used them.
void note_order_dependent_atomic();

template <typename... P>
class Launch {
 public:
  Launch(void (*kernel)(P...), LaunchSite site, dim3 grid, dim3 block, size_t shared_bytes,
         cudaStream_t stream)
      : kernel_(kernel), site_(site), grid_(grid), block_(block), shared_bytes_(shared_bytes),
        stream_(stream) {}

  // Taking the kernel's parameter types converts each argument as a real launch does. What a
  // GPU refuses at the launch fails here; the grid runs in the stream's order (stream_queue.h).
  void operator()(P... args) const {
    std::tuple<P...> params(args...);
    check_pointers(params, std::index_sequence_for<P...>{});
    check_launch(site_, reinterpret_cast<const void*>(kernel_), grid_, block_, shared_bytes_);
    submit(stream_, [launch = *this, params] { launch.run(params); });
  }

 private:
  void run(const std::tuple<P...>& params) const {
    struct Closure {
      void (*kernel)(P...);
      const std::tuple<P...>* params;
    } closure{kernel_, &params};
    run_grid(
        site_, reinterpret_cast<const void*>(kernel_), grid_, block_, shared_bytes_,
        [](const void* c) {
          const auto* cl = static_cast<const Closure*>(c);
          std::apply(cl->kernel, *cl->params);  // the kernel gets its own copies, by value
        },
        &closure);
  }
  template <size_t... I>
  void check_pointers(const std::tuple<P...>& params, std::index_sequence<I...>) const {
    (check_one(static_cast<int>(I), std::get<I>(params)), ...);
  }
  template <typename A>
  void check_one(int index, const A& a) const {
    if constexpr (std::is_pointer_v<A>) check_pointer_argument(site_, index, a);
  }

  void (*kernel_)(P...);
  LaunchSite site_;
  dim3 grid_, block_;
  size_t shared_bytes_;
  cudaStream_t stream_;
};

template <typename... P>
Launch<P...> make_launch(void (*kernel)(P...), LaunchSite site, dim3 grid, dim3 block,
                         size_t shared_bytes, cudaStream_t stream) {
  return Launch<P...>(kernel, site, grid, block, shared_bytes, stream);
}

template <typename T>
uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "warp values are <= 64 bits");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  return bits;
}
template <typename T>
T from_bits(uint64_t bits) {
  T v;
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}

}  // namespace te::emu

// ---- CUDA built-ins (the subset our kernels use, with the hardware's semantics) ----

inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  te::emu::syncthreads(file, line);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
  te::emu::warp_op(te::emu::WarpOp::SyncWarp, mask, 0, 0, 32, "__syncwarp", file, line);
}
inline void __threadfence() {}  // one OS thread runs the whole grid: memory is always coherent

#define TE_EMU_SHUFFLE(fn, op, arg_type)                                                      \
  template <typename T>                                                                        \
  T fn(unsigned mask, T var, arg_type arg, int width = warpSize,                               \
       const char* file = __builtin_FILE(), int line = __builtin_LINE()) {                     \
    return te::emu::from_bits<T>(te::emu::warp_op(te::emu::WarpOp::op, mask,                   \
                                                  te::emu::to_bits(var), static_cast<int>(arg), \
                                                  width, #fn, file, line));                    \
  }
TE_EMU_SHUFFLE(__shfl_sync, ShflIdx, int)
TE_EMU_SHUFFLE(__shfl_up_sync, ShflUp, unsigned)
TE_EMU_SHUFFLE(__shfl_down_sync, ShflDown, unsigned)
TE_EMU_SHUFFLE(__shfl_xor_sync, ShflXor, int)
#undef TE_EMU_SHUFFLE

inline unsigned __ballot_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  return static_cast<unsigned>(
      te::emu::warp_op(te::emu::WarpOp::Ballot, mask, pred != 0, 0, 32, "__ballot_sync", file, line));
}
inline int __any_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  return static_cast<int>(
      te::emu::warp_op(te::emu::WarpOp::Any, mask, pred != 0, 0, 32, "__any_sync", file, line));
}
inline int __all_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  return static_cast<int>(
      te::emu::warp_op(te::emu::WarpOp::All, mask, pred != 0, 0, 32, "__all_sync", file, line));
}

// Atomics: fibers switch only at barriers and warp operations, so a read-modify-write is
// never interleaved with another thread's.
template <typename T>
T te_emu_atomic_add(T* address, T value) {
  static_assert(std::is_same_v<T, int> || std::is_same_v<T, unsigned> ||
                    std::is_same_v<T, unsigned long long> || std::is_same_v<T, float> ||
                    std::is_same_v<T, double>,
                "atomicAdd exists for int, unsigned, unsigned long long, float and double");
  if constexpr (std::is_floating_point_v<T>) te::emu::note_order_dependent_atomic();
  const T old = *address;
  *address = old + value;
  return old;
}
inline int atomicAdd(int* a, int v) { return te_emu_atomic_add(a, v); }
inline unsigned atomicAdd(unsigned* a, unsigned v) { return te_emu_atomic_add(a, v); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) {
  return te_emu_atomic_add(a, v);
}
inline float atomicAdd(float* a, float v) { return te_emu_atomic_add(a, v); }
inline double atomicAdd(double* a, double v) { return te_emu_atomic_add(a, v); }

template <typename T>
T te_emu_atomic_cas(T* address, T compare, T value) {
  const T old = *address;
  if (old == compare) *address = value;
  return old;
}
inline int atomicCAS(int* a, int c, int v) { return te_emu_atomic_cas(a, c, v); }
inline unsigned atomicCAS(unsigned* a, unsigned c, unsigned v) { return te_emu_atomic_cas(a, c, v); }
inline unsigned long long atomicCAS(unsigned long long* a, unsigned long long c,
                                    unsigned long long v) {
  return te_emu_atomic_cas(a, c, v);
}
