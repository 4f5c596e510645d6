#pragma once
// The per-channel sums that synchronised batch norm (kernels/batchnorm_sync.h) returns to its
// caller and takes back after the all-reduce, and the checks of them that every backend makes
// (one place, so the CPU and CUDA backends refuse the same vectors with the same message):
//   statistics (batchnorm_sync_stats):        [sum x (C), sum x^2 (C), count M]   2C + 1 values
//   backward (batchnorm_sync_backward_sums):  [sum dy (C), sum dy * xhat (C)]     2C values
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/error.h"

namespace te::ops::bn_sync {

inline size_t stats_size(int64_t c) { return static_cast<size_t>(2 * c + 1); }
inline size_t backward_sums_size(int64_t c) { return static_cast<size_t>(2 * c); }

// M, the last value of the global statistics, after checking their size and M >= 2 (the
// unbiased running variance divides by M - 1).
inline double checked_count(const char* op, const std::vector<double>& global, int64_t c) {
  const double m = global.size() == stats_size(c) ? global.back() : 0;
  if (!(m >= 2))
    throw ShapeError(std::string(op) + ": " + std::to_string(global.size()) + " sums for " +
                     std::to_string(c) + " channels over " + std::to_string(m) +
                     " values; batch statistics in training need 2C + 1 sums over at least 2 values");
  return m;
}

// The local and global backward sums have 2C values each and the count is positive.
inline void check_backward_sums(const char* op, const std::vector<double>& local,
                                const std::vector<double>& global, double count, int64_t c) {
  const size_t want = backward_sums_size(c);
  if (local.size() != want || global.size() != want || !(count > 0))
    throw ShapeError(std::string(op) + ": expected 2C = " + std::to_string(want) +
                     " sums per replica and in all, and a positive count");
}

}  // namespace te::ops::bn_sync
