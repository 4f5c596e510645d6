#include "engine/data/epoch_shard.h"

#include <algorithm>

#include "engine/core/error.h"

namespace te {
namespace {

void check(int64_t batch, const EpochShard& s) {
  if (batch <= 0 || s.count <= 0 || s.rank < 0 || s.rank >= s.count)
    throw ConfigError("data shard: rank " + std::to_string(s.rank) + " of " + std::to_string(s.count) +
                      " with batch " + std::to_string(batch) +
                      " (needs 0 <= rank < count and a positive batch)");
}

// [begin, end) of the remainder slice of `shard`, or an empty range.
std::pair<int64_t, int64_t> remainder_slice(int64_t n, int64_t batch, const EpochShard& s) {
  const int64_t full = n / (batch * s.count) * (batch * s.count);
  const int64_t begin = std::min(n, full + s.rank * batch);
  return {begin, std::min(n, begin + batch)};
}

}  // namespace

std::vector<int64_t> shard_order(const std::vector<int64_t>& order, int64_t batch,
                                 const EpochShard& s, bool drop_last) {
  check(batch, s);
  const int64_t n = static_cast<int64_t>(order.size()), group = batch * s.count;
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(shard_size(n, batch, s, drop_last)));
  for (int64_t g = 0; g + group <= n; g += group) {
    const auto first = order.begin() + g + s.rank * batch;
    out.insert(out.end(), first, first + batch);
  }
  if (!drop_last) {
    const auto [begin, end] = remainder_slice(n, batch, s);
    out.insert(out.end(), order.begin() + begin, order.begin() + end);
  }
  return out;
}

int64_t shard_size(int64_t n, int64_t batch, const EpochShard& s, bool drop_last) {
  check(batch, s);
  const int64_t full = n / (batch * s.count) * batch;
  if (drop_last) return full;
  const auto [begin, end] = remainder_slice(n, batch, s);
  return full + (end - begin);
}

}  // namespace te
