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
#include <cuda_runtime_api.h>

#include <functional>

namespace te::emu {

// True when the streams are deferred (read once from TE_EMU_STREAMS, or set_options).
bool streams_deferred();

// Runs `work` in `stream`'s order: queued when streams are deferred and `stream` is one the
// program created; otherwise at once (on the legacy default stream after the blocking streams'
// queued work). Exceptions from queued work surface in the call that makes it run.
void submit(cudaStream_t stream, std::function<void()> work);

// Runs what `stream` has queued (the legacy default stream: what every blocking stream has).
void drain(cudaStream_t stream);
// Runs what every stream has queued (a device-wide synchronisation).
void drain_all();

}  // namespace te::emu
