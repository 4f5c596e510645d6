#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator. The same (key, counter) always gives the same numbers, so a sample's
// augmentation or a dropout mask depends only on (seed, epoch, index) — not on the number of
// threads or on what ran before — which makes runs reproducible and resume exact. The same
// function compiles for CUDA, so GPU dropout can reproduce CPU masks.
#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define TE_HOST_DEVICE __host__ __device__
#else
#define TE_HOST_DEVICE
#endif

namespace te {

struct Philox4 {
  uint32_t v[4];
};

TE_HOST_DEVICE inline Philox4 philox4x32(uint64_t key, uint64_t counter_hi, uint64_t counter_lo) {
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kM0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(kM1) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// A stream of random numbers identified by (seed, stream, index): e.g. (seed, epoch, sample).
// Draws advance an internal counter; two generators with the same identity agree exactly.
class CounterRng {
 public:
  TE_HOST_DEVICE CounterRng(uint64_t seed, uint64_t stream, uint64_t index)
      : key_(seed ^ (stream * 0x9E3779B97F4A7C15ull)), hi_(stream), lo_(index << 20) {}

  TE_HOST_DEVICE uint32_t next_u32() {
    if (used_ == 4) {
      block_ = philox4x32(key_, hi_, lo_++);
      used_ = 0;
    }
    return block_.v[used_++];
  }
  // Uniform in [0, 1) with 24 random bits.
  TE_HOST_DEVICE float uniform() { return (next_u32() >> 8) * (1.0f / 16777216.0f); }
  // Uniform in [lo, hi).
  TE_HOST_DEVICE float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n) for n > 0 (the modulo bias is below 2^-32 * n: negligible here).
  TE_HOST_DEVICE uint32_t below(uint32_t n) { return static_cast<uint32_t>((static_cast<uint64_t>(next_u32()) * n) >> 32); }
  // Standard normal by Box-Muller.
  TE_HOST_DEVICE float normal() {
    const float u1 = ((next_u32() >> 8) + 1.0f) * (1.0f / 16777217.0f);
    const float u2 = uniform();
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530717958647692f * u2);
  }

 private:
  uint64_t key_;
  uint64_t hi_;
  uint64_t lo_;
  Philox4 block_{};
  int used_ = 4;
};

}  // namespace te
