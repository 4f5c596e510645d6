#pragma once
// Switches of the SIMT emulation, for tests and for the environment:
//   TE_EMU_RACECHECK=1        run every launch twice, the threads of each block in forward and
//                             in reverse order, and fail when the device memory they leave
//                             differs (a race between barriers)
//   TE_EMU_ORDER=reverse      run the threads of a block in reverse order (default forward)
//   TE_EMU_STREAMS=deferred   queue the work of each stream until the program synchronises
//                             with it (default immediate: stream_queue.h)
#include <cstdint>

namespace te::emu {

enum class ThreadOrder { Forward, Reverse };

struct EmulationOptions {
  bool race_check = false;
  ThreadOrder order = ThreadOrder::Forward;
  bool deferred_streams = false;
};

// Read from the environment on first use; set_options overrides them (tests), after running
// whatever the streams have queued.
const EmulationOptions& options();
void set_options(const EmulationOptions& options);

// Launches the race check could not compare because they used float atomics.
void note_race_check_skipped();
uint64_t race_checks_skipped();

// cudaStreamWaitEvent calls, so tests can check that a stream was made to wait (with immediate
// streams the wait itself cannot be observed).
struct StreamWait {
  const void* stream = nullptr;
  const void* event = nullptr;
};
void note_stream_wait(const void* stream, const void* event);
uint64_t stream_wait_count();
StreamWait last_stream_wait();

}  // namespace te::emu
