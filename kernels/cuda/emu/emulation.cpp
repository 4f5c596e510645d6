// Options and device limits of the SIMT emulation (emulation.h, device_limits.h).
#include "kernels/cuda/emu/emulation.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "engine/core/error.h"
#include "kernels/cuda/emu/device_limits.h"
#include "kernels/cuda/emu/stream_queue.h"

namespace te::emu {
namespace {
EmulationOptions from_environment() {
  EmulationOptions o;
  if (const char* v = std::getenv("TE_EMU_RACECHECK")) o.race_check = std::strcmp(v, "0") != 0;
  if (const char* v = std::getenv("TE_EMU_ORDER")) {
    if (std::strcmp(v, "reverse") == 0) o.order = ThreadOrder::Reverse;
    else if (std::strcmp(v, "forward") != 0)
      throw Error(std::string("TE_EMU_ORDER must be forward or reverse, got '") + v + "'");
  }
  if (const char* v = std::getenv("TE_EMU_STREAMS")) {
    if (std::strcmp(v, "deferred") == 0) o.deferred_streams = true;
    else if (std::strcmp(v, "immediate") != 0)
      throw Error(std::string("TE_EMU_STREAMS must be immediate or deferred, got '") + v + "'");
  }
  return o;
}
EmulationOptions& current() {
  static EmulationOptions o = from_environment();
  return o;
}
std::atomic<uint64_t> g_skipped{0};
std::mutex g_limits_mutex;
std::map<const void*, size_t>& shared_limits() {
  static auto* m = new std::map<const void*, size_t>;
  return *m;
}
}  // namespace

const EmulationOptions& options() { return current(); }
void set_options(const EmulationOptions& o) {
  drain_all();  // work queued under the old options keeps its order
  current() = o;
}
void note_race_check_skipped() { ++g_skipped; }
uint64_t race_checks_skipped() { return g_skipped.load(); }

const DeviceLimits& device_limits() {
  static const DeviceLimits limits;
  return limits;
}

void set_dynamic_shared_limit(const void* kernel, size_t bytes) {
  std::lock_guard<std::mutex> lock(g_limits_mutex);
  shared_limits()[kernel] = bytes;
}

size_t dynamic_shared_limit(const void* kernel) {
  std::lock_guard<std::mutex> lock(g_limits_mutex);
  auto it = shared_limits().find(kernel);
  const size_t base = size_t(device_limits().shared_per_block);
  return it == shared_limits().end() || it->second < base ? base : it->second;
}

namespace {
std::mutex g_stream_wait_mutex;
uint64_t g_stream_waits = 0;
StreamWait g_last_stream_wait;
}  // namespace

void note_stream_wait(const void* stream, const void* event) {
  std::lock_guard lock(g_stream_wait_mutex);
  ++g_stream_waits;
  g_last_stream_wait = {stream, event};
}
uint64_t stream_wait_count() {
  std::lock_guard lock(g_stream_wait_mutex);
  return g_stream_waits;
}
StreamWait last_stream_wait() {
  std::lock_guard lock(g_stream_wait_mutex);
  return g_last_stream_wait;
}

}  // namespace te::emu
