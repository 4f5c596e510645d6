// The SIMT scheduler of the emulation (simt.h): blocks run one after another, each block's
// threads as fibers (fiber_switch.h) on the calling OS thread, switched only at barriers and warp
// operations. After every pass over the runnable threads, the scheduler completes the warp
// operations whose lanes have all arrived, then the block barrier if every thread waits at it;
// when neither can happen and threads still wait, the kernel would hang on a GPU (or do
// something undefined), and the launch fails with a description of who waits where.
#include "kernels/cuda/emu/simt.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "kernels/cuda/emu/device_limits.h"
#include "kernels/cuda/emu/emulation.h"
#include "kernels/cuda/emu/fiber_sanitizer.h"
#include "kernels/cuda/emu/fiber_switch.h"
#include "kernels/cuda/emu/memory_map.h"

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local te::emu::BuiltinDim blockDim;
thread_local te::emu::BuiltinDim gridDim;

namespace te::emu {
namespace {

// Kernels are shallow; sanitizers make frames larger. Pages are only touched when used.
constexpr size_t kStackBytes = 256 * 1024;
constexpr size_t kGuardBytes = 4096;

// One mmap'ed stack with a guard page below it (a stack overflow faults instead of silently
// corrupting the next stack), reused from launch to launch.
struct Stack {
  char* base = nullptr;  // the guard page
  char* bottom() const { return base + kGuardBytes; }
  Stack() {
    void* p = mmap(nullptr, kStackBytes + kGuardBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw DeviceError("SIMT emulation: cannot map a fiber stack");
    base = static_cast<char*>(p);
    mprotect(base, kGuardBytes, PROT_NONE);
  }
  ~Stack() {
    forget_stack_frames(bottom(), kStackBytes);
    munmap(base, kStackBytes + kGuardBytes);
  }
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;
};

enum class State { Ready, AtBarrier, AtWarpOp, Exited };

struct WarpRequest {
  WarpOp op;
  unsigned mask;
  uint64_t value;
  int arg, width;
  const char* name;
  uint64_t result;
};

struct Thread {
  FiberContext context;
  Stack* stack = nullptr;
  uint3 index;
  int linear = 0;  // x + y * Dx + z * Dx * Dy: lane = linear % 32, warp = linear / 32
  State state = State::Ready;
  bool started = false;  // has run (its stack holds frames) since the block began
  const char* file = "";
  int line = 0;
  WarpRequest request{};
  void* fake_stack = nullptr;  // AddressSanitizer's, while switched away
};

// The block being run on this OS thread.
struct Block {
  const LaunchSite* site = nullptr;
  ThreadBody body = nullptr;
  const void* closure = nullptr;
  uint3 index;
  std::vector<Thread> threads;
  FiberContext scheduler;
  FiberSwitch sanitizer;
  std::unique_ptr<unsigned char[]> dynamic_shared;
  std::string error;  // the first SIMT error; the block stops at once
  bool aborting = false;  // waiting fibers are resumed only to unwind (FiberAbort)
};

// Thrown inside a waiting fiber when its block failed, so its frames unwind (destructors run)
// instead of being abandoned on the stack.
struct FiberAbort {};

thread_local Block* t_block = nullptr;
thread_local Thread* t_thread = nullptr;
thread_local std::vector<std::unique_ptr<Stack>> t_stacks;
thread_local bool t_order_dependent_atomic = false;

std::string dim_str(dim3 d) {
  return "(" + std::to_string(d.x) + ", " + std::to_string(d.y) + ", " + std::to_string(d.z) + ")";
}
std::string where(const char* file, int line) {
  std::string f = file ? file : "?";
  const size_t k = f.find("kernels/");
  if (k != std::string::npos) f = f.substr(k);
  return f + ":" + std::to_string(line);
}
std::string thread_name(const Thread& t) {
  return "thread " + dim_str(dim3(t.index.x, t.index.y, t.index.z));
}

[[noreturn]] void fail(const Block& b, const std::string& what) {
  throw DeviceError("SIMT emulation: kernel " + std::string(b.site->kernel) + " (launched at " +
                    where(b.site->file, b.site->line) + "), block " +
                    dim_str(dim3(b.index.x, b.index.y, b.index.z)) + ": " + what);
}

void record_error(Block& b, const std::string& what) {
  if (b.error.empty()) b.error = what;
}

// Back to the scheduler; returns when the scheduler resumes this thread.
void yield_to_scheduler(bool exiting) {
  Block& b = *t_block;
  Thread& t = *t_thread;
  b.sanitizer.leave_fiber(&t.fake_stack, exiting);
  switch_fiber(t.context, b.scheduler);
  b.sanitizer.enter_fiber(t.fake_stack);
  if (b.aborting) throw FiberAbort{};
}

void fiber_main() {
  Block& b = *t_block;
  b.sanitizer.enter_fiber(nullptr);
  Thread& t = *t_thread;
  t.started = true;
  try {
    b.body(b.closure);
  } catch (const FiberAbort&) {
    // unwound after another thread's error: nothing to record
  } catch (const std::exception& e) {
    record_error(b, thread_name(t) + ": " + e.what());
  } catch (...) {
    record_error(b, thread_name(t) + ": unknown exception");
  }
  t.state = State::Exited;
  yield_to_scheduler(/*exiting=*/true);
}

void resume(Block& b, Thread& t) {
  t_thread = &t;
  threadIdx = t.index;
  b.sanitizer.enter_fiber_from_scheduler(t.stack->bottom(), kStackBytes);
  switch_fiber(b.scheduler, t.context);
  b.sanitizer.back_in_scheduler();
}

// Lanes of warp `w` that exist in this block, as a mask.
unsigned existing_lanes(const Block& b, size_t warp) {
  const size_t first = warp * 32, n = b.threads.size();
  const size_t count = std::min<size_t>(32, n - first);
  return count == 32 ? 0xffffffffu : ((1u << count) - 1);
}

std::string lanes_str(unsigned mask) {
  std::string s;
  for (int i = 0; i < 32;) {
    if (!(mask >> i & 1)) {
      ++i;
      continue;
    }
    int j = i;
    while (j + 1 < 32 && (mask >> (j + 1) & 1)) ++j;
    if (!s.empty()) s += ",";
    s += j > i ? std::to_string(i) + "-" + std::to_string(j) : std::to_string(i);
    i = j + 1;
  }
  return s.empty() ? "none" : s;
}

// The source lane of each shuffle, by CUDA's rules for `width` segments of the warp.
int shuffle_source(const WarpRequest& r, int lane) {
  const int w = r.width, base = lane / w * w;
  switch (r.op) {
    case WarpOp::ShflIdx: return base + ((r.arg % w) + w) % w;
    case WarpOp::ShflUp: return lane - r.arg >= base ? lane - r.arg : lane;
    case WarpOp::ShflDown: return lane + r.arg < base + w ? lane + r.arg : lane;
    case WarpOp::ShflXor: return (lane ^ r.arg) < base + w ? (lane ^ r.arg) : lane;
    default: return lane;
  }
}

// Completes warp operations whose lanes have all arrived. Returns whether any completed.
bool complete_warp_ops(Block& b) {
  bool released = false;
  const size_t warps = (b.threads.size() + 31) / 32;
  for (size_t w = 0; w < warps; ++w) {
    Thread* lane_thread[32] = {};
    for (int l = 0; l < 32 && w * 32 + l < b.threads.size(); ++l) lane_thread[l] = &b.threads[w * 32 + l];
    for (int l = 0; l < 32; ++l) {
      Thread* t = lane_thread[l];
      if (!t || t->state != State::AtWarpOp) continue;
      const WarpRequest& r = t->request;
      bool all_here = true;
      for (int m = 0; m < 32; ++m) {
        if (!(r.mask >> m & 1)) continue;
        const Thread& o = *lane_thread[m];
        if (o.state == State::Exited) {
          record_error(b, "lane " + std::to_string(m) + " of warp " + std::to_string(w) +
                              " is named in the mask of " + r.name + " at " + where(t->file, t->line) +
                              " (mask lanes " + lanes_str(r.mask) + ") but has exited");
          return false;
        }
        if (o.state != State::AtWarpOp || o.request.op != r.op || o.request.mask != r.mask ||
            o.line != t->line || std::strcmp(o.file, t->file) != 0) {
          all_here = false;
          break;
        }
      }
      if (!all_here) continue;
      // Every named lane waits at this operation: compute all results at once, so no lane can
      // overwrite its value (at its next operation) before the others have read it.
      uint64_t ballot = 0;
      for (int m = 0; m < 32; ++m)
        if (r.mask >> m & 1) ballot |= (lane_thread[m]->request.value != 0 ? 1ull : 0ull) << m;
      for (int m = 0; m < 32; ++m) {
        if (!(r.mask >> m & 1)) continue;
        WarpRequest& q = lane_thread[m]->request;
        switch (q.op) {
          case WarpOp::SyncWarp: q.result = 0; break;
          case WarpOp::Ballot: q.result = ballot; break;
          case WarpOp::Any: q.result = ballot != 0; break;
          case WarpOp::All: q.result = ballot == r.mask; break;
          default: {
            const int src = shuffle_source(q, m);
            if (src != m && !(r.mask >> src & 1)) {
              record_error(b, "lane " + std::to_string(m) + " of warp " + std::to_string(w) + " reads lane " +
                                  std::to_string(src) + " in " + r.name + " at " + where(t->file, t->line) +
                                  ", which is not in the mask (lanes " + lanes_str(r.mask) +
                                  "): the value is undefined on a GPU");
              return false;
            }
            q.result = lane_thread[src]->request.value;
          }
        }
        lane_thread[m]->state = State::Ready;
      }
      released = true;
    }
  }
  return released;
}

// Releases the block barrier when every thread waits at the same __syncthreads.
bool complete_barrier(Block& b) {
  const Thread* waiting = nullptr;
  const Thread* exited = nullptr;
  for (const Thread& t : b.threads) {
    if (t.state == State::AtBarrier && !waiting) waiting = &t;
    if (t.state == State::Exited && !exited) exited = &t;
    if (t.state == State::AtWarpOp || t.state == State::Ready) return false;
  }
  if (!waiting) return false;
  if (exited) {
    record_error(b, thread_name(*exited) + " exited while " + thread_name(*waiting) +
                        " waits at __syncthreads at " + where(waiting->file, waiting->line) +
                        " (a barrier all threads of the block must reach)");
    return false;
  }
  for (const Thread& t : b.threads)
    if (t.line != waiting->line || std::strcmp(t.file, waiting->file) != 0) {
      record_error(b, "threads reach different barriers: " + thread_name(*waiting) + " at " +
                          where(waiting->file, waiting->line) + ", " + thread_name(t) + " at " +
                          where(t.file, t.line));
      return false;
    }
  for (Thread& t : b.threads) t.state = State::Ready;
  return true;
}

// Who waits where, for a block that can make no progress.
std::string describe_waits(const Block& b) {
  std::map<std::string, std::vector<int>> groups;
  for (const Thread& t : b.threads) {
    std::string key;
    switch (t.state) {
      case State::AtBarrier: key = "__syncthreads at " + where(t.file, t.line); break;
      case State::AtWarpOp:
        key = std::string(t.request.name) + " (mask lanes " + lanes_str(t.request.mask) + ") at " +
              where(t.file, t.line);
        break;
      case State::Exited: key = "exited"; break;
      case State::Ready: key = "ready"; break;
    }
    groups[key].push_back(t.linear);
  }
  std::ostringstream out;
  for (const auto& [key, ids] : groups) {
    out << "\n  threads ";
    for (size_t i = 0; i < ids.size();) {
      size_t j = i;
      while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
      out << (i ? "," : "") << ids[i];
      if (j > i) out << "-" << ids[j];
      i = j + 1;
    }
    out << ": " << key;
  }
  return out.str();
}

void run_block(Block& b, dim3 block_dim, ThreadOrder order) {
  const size_t n = b.threads.size();
  while (t_stacks.size() < n) t_stacks.push_back(std::make_unique<Stack>());
  for (size_t i = 0; i < n; ++i) {
    Thread& t = b.threads[i];
    t.state = State::Ready;
    t.started = false;
    t.linear = static_cast<int>(i);
    t.index = uint3{static_cast<unsigned>(i % block_dim.x),
                    static_cast<unsigned>(i / block_dim.x % block_dim.y),
                    static_cast<unsigned>(i / (block_dim.x * block_dim.y))};
    t.stack = t_stacks[i].get();
    t.fake_stack = nullptr;
    make_fiber(t.context, t.stack->bottom(), kStackBytes, fiber_main);
  }
  for (;;) {
    for (size_t k = 0; k < n; ++k) {
      Thread& t = b.threads[order == ThreadOrder::Forward ? k : n - 1 - k];
      if (t.state != State::Ready) continue;
      resume(b, t);
      if (!b.error.empty()) return;
    }
    bool all_exited = true;
    for (const Thread& t : b.threads) all_exited = all_exited && t.state == State::Exited;
    if (all_exited) return;
    const bool warps = complete_warp_ops(b);
    if (!b.error.empty()) return;
    if (warps) continue;
    if (complete_barrier(b)) continue;
    if (!b.error.empty()) return;
    record_error(b, "no thread can go on (on a GPU: a hang or undefined behaviour):" + describe_waits(b));
    return;
  }
}

// After an error, resumes every thread still waiting so that it unwinds (FiberAbort) and exits.
void unwind_waiting_threads(Block& b) {
  b.aborting = true;
  for (Thread& t : b.threads)
    if (t.started && t.state != State::Exited) resume(b, t);
  b.aborting = false;
}

void run_all_blocks(const LaunchSite& site, dim3 grid, dim3 block, size_t shared, ThreadBody body,
                    const void* closure, ThreadOrder order) {
  Block b;
  b.site = &site;
  b.body = body;
  b.closure = closure;
  b.threads.resize(size_t(block.x) * block.y * block.z);
  gridDim = BuiltinDim{grid.x, grid.y, grid.z};
  blockDim = BuiltinDim{block.x, block.y, block.z};
  Block* outer = t_block;
  if (outer) throw DeviceError("SIMT emulation: a kernel launched another kernel (" + std::string(site.kernel) + ")");
  t_block = &b;
  struct Reset {
    ~Reset() {
      t_block = nullptr;
      t_thread = nullptr;
    }
  } reset;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        b.index = uint3{x, y, z};
        blockIdx = b.index;
        // Fresh dynamic shared memory of exactly the launch's size for every block.
        b.dynamic_shared.reset(new unsigned char[shared]);
        std::memset(b.dynamic_shared.get(), 0xff, shared);
        run_block(b, block, order);
        if (!b.error.empty()) {
          unwind_waiting_threads(b);
          fail(b, b.error);
        }
      }
}
}  // namespace

void check_launch(const LaunchSite& site, const void* kernel_id, dim3 grid, dim3 block,
                  size_t shared) {
  auto refuse = [&](const std::string& why, const char* error) {
    throw DeviceError("SIMT emulation: a GPU would refuse the launch of " + std::string(site.kernel) +
                      " at " + where(site.file, site.line) + " (grid " + dim_str(grid) + ", block " +
                      dim_str(block) + ", " + std::to_string(shared) + " bytes of dynamic shared memory): " +
                      why + " (" + error + ")");
  };
  const DeviceLimits& lim = device_limits();
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  if (threads == 0 || grid.x == 0 || grid.y == 0 || grid.z == 0)
    refuse("an empty grid or block", "cudaErrorInvalidConfiguration");
  if (threads > uint64_t(lim.max_threads_per_block))
    refuse(std::to_string(threads) + " threads per block, more than " +
               std::to_string(lim.max_threads_per_block),
           "cudaErrorInvalidConfiguration");
  if (int(block.x) > lim.max_block[0] || int(block.y) > lim.max_block[1] || int(block.z) > lim.max_block[2])
    refuse("a block dimension above (1024, 1024, 64)", "cudaErrorInvalidConfiguration");
  if (uint64_t(grid.x) > uint64_t(lim.max_grid[0]) || int64_t(grid.y) > lim.max_grid[1] ||
      int64_t(grid.z) > lim.max_grid[2])
    refuse("a grid dimension above (2^31 - 1, 65535, 65535)", "cudaErrorInvalidConfiguration");
  const size_t allowed = dynamic_shared_limit(kernel_id);
  if (shared > allowed)
    refuse(shared > size_t(lim.shared_per_block_optin)
               ? "more dynamic shared memory than the device has per block (" +
                     std::to_string(lim.shared_per_block_optin) + " bytes)"
               : "more than " + std::to_string(allowed) +
                     " bytes of dynamic shared memory without cudaFuncSetAttribute("
                     "cudaFuncAttributeMaxDynamicSharedMemorySize) raising the limit",
           "cudaErrorInvalidValue");
}

void syncthreads(const char* file, int line) {
  Thread& t = *t_thread;
  t.state = State::AtBarrier;
  t.file = file;
  t.line = line;
  yield_to_scheduler(false);
}

uint64_t warp_op(WarpOp op, unsigned mask, uint64_t value, int arg, int width, const char* name,
                 const char* file, int line) {
  Block& b = *t_block;
  Thread& t = *t_thread;
  const int lane = t.linear % 32;
  const std::string at = std::string(name) + " at " + where(file, line);
  if (!(mask >> lane & 1))
    throw DeviceError(at + ": the calling lane " + std::to_string(lane) + " is not in its mask " +
                      lanes_str(mask));
  const unsigned exist = existing_lanes(b, size_t(t.linear / 32));
  if (mask & ~exist)
    throw DeviceError(at + ": the mask names lanes " + lanes_str(mask & ~exist) +
                      " that this block does not have (" + std::to_string(b.threads.size()) +
                      " threads)");
  if (width < 1 || width > 32 || (width & (width - 1)))
    throw DeviceError(at + ": width " + std::to_string(width) + " is not a power of 2 up to 32");
  if (arg < 0 && op != WarpOp::ShflIdx)
    throw DeviceError(at + ": negative lane offset " + std::to_string(arg));
  t.request = WarpRequest{op, mask, value, arg, width, name, 0};
  t.state = State::AtWarpOp;
  t.file = file;
  t.line = line;
  yield_to_scheduler(false);
  return t.request.result;
}

void check_pointer_argument(const LaunchSite& site, int index, const void* p) {
  if (!p || is_inside(p, 0, MemoryKind::Device) || is_inside(p, 0, MemoryKind::PinnedHost)) return;
  throw DeviceError("SIMT emulation: argument " + std::to_string(index) + " of " + site.kernel +
                    " (launched at " + where(site.file, site.line) +
                    ") points to host memory that is neither device memory nor page-locked: a "
                    "GPU would fault on it");
}

void* dynamic_shared() { return t_block->dynamic_shared.get(); }

void note_order_dependent_atomic() { t_order_dependent_atomic = true; }

namespace {
// TE_EMU_LAUNCH_LOG=<file>: every process appends "process" when it starts and every launch
// site it runs once ("kernels/cuda/x.cu:123 kernel"), so a test can check that the suite, one
// process per test under ctest, ran every launcher.
void append_to_launch_log(const std::string& line) {
  static const char* path = std::getenv("TE_EMU_LAUNCH_LOG");
  if (!path || !*path) return;
  // One short write per line with O_APPEND: lines from concurrent test processes stay whole.
  const int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) return;
  [[maybe_unused]] const ssize_t written = write(fd, line.data(), line.size());
  close(fd);
}
[[maybe_unused]] const bool g_logged_start = (append_to_launch_log("process\n"), true);

void log_launch_site(const LaunchSite& site) {
  static std::mutex mutex;
  static std::set<std::pair<std::string, int>> seen;
  std::lock_guard<std::mutex> lock(mutex);
  if (!seen.insert({site.file, site.line}).second) return;
  append_to_launch_log(where(site.file, site.line) + " " + site.kernel + "\n");
}
}  // namespace

void run_grid(const LaunchSite& site, const void* kernel_id, dim3 grid, dim3 block, size_t shared,
              ThreadBody body, const void* closure) {
  check_launch(site, kernel_id, grid, block, shared);
  log_launch_site(site);
  const EmulationOptions& opt = options();
  if (!opt.race_check) {
    run_all_blocks(site, grid, block, shared, body, closure, opt.order);
    return;
  }
  // Race check: run the grid with the threads of each block in forward order and again in
  // reverse order, from the same device memory. Without a race between barriers the two
  // runs write the same bytes.
  const MemorySnapshot before = snapshot_device_memory();
  t_order_dependent_atomic = false;
  run_all_blocks(site, grid, block, shared, body, closure, ThreadOrder::Forward);
  const MemorySnapshot forward = snapshot_device_memory();
  const bool forward_atomics = t_order_dependent_atomic;
  restore_device_memory(before);
  t_order_dependent_atomic = false;
  run_all_blocks(site, grid, block, shared, body, closure, ThreadOrder::Reverse);
  if (forward_atomics || t_order_dependent_atomic) {
    note_race_check_skipped();
    return;
  }
  const std::string diff = compare_with_device_memory(forward);
  if (!diff.empty())
    throw DeviceError("SIMT emulation: kernel " + std::string(site.kernel) + " (launched at " +
                      where(site.file, site.line) +
                      ") writes different results when the threads of a block run in another "
                      "order: a race between barriers (a missing __syncthreads or __syncwarp?); " +
                      diff);
}

}  // namespace te::emu
