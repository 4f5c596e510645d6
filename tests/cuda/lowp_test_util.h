#pragma once
// Helpers for the bf16/f16 tests of our own CUDA kernels (lowp_*_test.cpp): inputs rounded to
// the 16-bit type, and the comparison of a 16-bit GPU result with the CPU's f32 reference
// computed on the same rounded inputs.
//
// Why the bound is what it is. The kernels read the 16-bit inputs exactly, compute in float
// (sums in double) and round once when they store. So a GPU element differs from the f32
// reference `ref` by
//   - delta: the difference between the GPU's float arithmetic and the CPU's on the same
//     inputs, which is what the f32 tests of the same op allow (their rtol/atol, listed per op
//     in the tests), plus, for ops whose results cancel (batch norm), a part proportional to
//     the largest |ref| of the tensor;
//   - the final rounding of v = ref + delta to the output type, round to nearest even:
//     at most u |v| <= u |ref| + u |delta|, with u = 2^-p the unit roundoff of a type with p
//     significant bits (bf16 p = 8: u = 2^-8 = 3.9e-3; f16 p = 11: u = 2^-11 = 4.9e-4), plus,
//     in f16's subnormal range (|v| < 2^-14), an absolute 2^-25 (half the subnormal spacing).
// Hence |gpu - ref| <= u |ref| + tiny + (1 + u) delta. A second rounding (an intermediate
// stored in 16 bits) or truncation instead of rounding can err by up to 2u |ref| and fails
// the bound on a good fraction of the elements (LowpRoundingBound.* checks that on the CPU).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tests/cuda/cuda_test_util.h"

namespace te::cuda_test {

struct Precision {
  DType dt;
  double u;     // unit roundoff, 2^-p
  double tiny;  // absolute error of one rounding in the subnormal range
  const char* name;
};
inline const Precision kBf16{DType::BF16, 0x1p-8, 0.0, "bf16"};
inline const Precision kF16{DType::F16, 0x1p-11, 0x1p-25, "f16"};
inline const std::vector<Precision> kLowp = {kBf16, kF16};

// How far the GPU's float math may be from the CPU's f32 reference (delta above):
// rtol |ref| + atol + spread * max|ref|.
struct F32Slack {
  double rtol = 0, atol = 0, spread = 0;
};

// A random input rounded to a 16-bit type: `host` holds it in that type (for Guarded and
// to_gpu), `ref` the same values in f32 (exact) for the CPU reference.
struct LowpInput {
  Tensor host, ref;
  Tensor gpu() const { return to_gpu(host); }
};

inline LowpInput lowp_input(const Shape& shape, uint64_t seed, const Precision& pr,
                            double lo = -1.0, double hi = 1.0) {
  LowpInput in;
  in.host = rounded_to(rand_cpu(shape, seed, lo, hi), pr.dt);
  in.ref = rounded_to(in.host, DType::F32);
  return in;
}

inline double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : values_of(t)) m = std::max(m, std::fabs(v));
  return m;
}

// |gpu - ref| <= u |ref| + tiny + (1 + u) (rtol |ref| + atol + spread * max|ref|) everywhere.
inline void expect_rounded_once(const Tensor& gpu_t, const Tensor& ref, const Precision& pr,
                                const F32Slack& s, const std::string& what) {
  ASSERT_EQ(gpu_t.dtype(), pr.dt) << what;
  const double rtol = pr.u + (1 + pr.u) * s.rtol;
  const double atol = pr.tiny + (1 + pr.u) * (s.atol + s.spread * max_abs(ref));
  expect_close(gpu_t, ref, rtol, atol, what + " (" + pr.name + ")");
}

// The f32 reference rounded once to the 16-bit type: what an op whose float result is exact
// (ReLU, max, copies, x * scale) must return bit for bit.
inline Tensor rounded_ref(const Tensor& ref, const Precision& pr) { return rounded_to(ref, pr.dt); }

}  // namespace te::cuda_test
