#pragma once
// Stream order in the SIMT emulation. By default every operation runs when it is issued, which
// satisfies any order the program asks for and so cannot show a missing one. With deferred
// streams (TE_EMU_STREAMS=deferred, or EmulationOptions::deferred_streams) the work issued to a
// stream the program created waits in that stream's queue until something makes it run:
//   - the host synchronises (cudaStreamSynchronize, cudaEventSynchronize, cudaDeviceSynchronize,
//     cudaStreamQuery, cudaFree, cudaFreeHost, a copy to or from pageable host memory);
//   - another stream that was made to wait on one of its events reaches that wait;
//   - the legacy default stream issues work (it waits for the blocking streams, as on a GPU).
// Work then runs as late as CUDA allows, so a consumer that was not ordered after its producer
// reads what was there before (or a producer overwrites what a consumer has not read yet), and
// the tests comparing results fail, where immediate streams would have hidden the bug.
// What this cannot show: two streams running at the same time (queued work runs one item at a
// time, in an order CUDA allows); that is left to a GPU and compute-sanitizer's racecheck.
//
// Stream capture (CUDA graphs), in either mode: between cudaStreamBeginCapture and
// cudaStreamEndCapture the work issued to the stream is recorded, with its arguments, instead
// of run; cudaGraphLaunch issues the recorded work again. What CUDA refuses during a capture
// invalidates it, so the capture ends in an error as on a GPU: synchronising or querying the
// capturing stream, a device-wide synchronisation (cudaDeviceSynchronize, cudaFree,
// cudaFreeHost), a copy with pageable host memory, a synchronisation on an event recorded in
// the capture, and a wait on an event recorded outside it (without cudaEventWaitExternal).
// One stream per capture: a second stream joining it through an event is refused as "not
// emulated".
#include <cuda_runtime_api.h>

#include <functional>

namespace te::emu {

// True when the streams are deferred (read once from TE_EMU_STREAMS, or set_options).
bool streams_deferred();

// Runs `work` in `stream`'s order: recorded when `stream` is capturing; queued when streams are
// deferred and `stream` is one the program created; otherwise at once (on the legacy default
// stream after the blocking streams' queued work). Exceptions from queued work surface in the
// call that makes it run.
void submit(cudaStream_t stream, std::function<void()> work);

// Runs what `stream` has queued (the legacy default stream: what every blocking stream has).
void drain(cudaStream_t stream);
// Runs what every stream has queued (a device-wide synchronisation).
void drain_all();

// For an operation CUDA refuses on a capturing stream (`what`, in words): when `stream` is
// capturing, invalidates the capture, records the error and returns true.
bool refused_while_capturing(cudaStream_t stream, const char* what);
// The same for an operation refused while any stream is capturing (it synchronises the device).
bool refused_while_any_capture(const char* what);

}  // namespace te::emu
