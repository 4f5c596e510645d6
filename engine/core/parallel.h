#pragma once
// A persistent pool of worker threads for data-parallel loops in the CPU kernels (threads over
// the batch). Our own small pool rather than OpenMP: OpenMP's spinning idle threads would steal
// the cores the data-loader threads need, and this keeps the thread count one explicit setting.
#include <cstdint>
#include <functional>

namespace te {

// Number of threads parallel_for uses (default: hardware concurrency, or TE_NUM_THREADS).
int num_threads();
void set_num_threads(int n);

// Calls fn(begin, end) on disjoint chunks covering [0, n), in parallel; returns when all are
// done. Exceptions thrown by fn are rethrown on the calling thread. Nested calls run serially.
void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn);

}  // namespace te
