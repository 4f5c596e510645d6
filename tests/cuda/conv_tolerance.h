#pragma once
// Tolerances and inputs for checking the bf16/f16 convolution (cuDNN) and Linear (cuBLAS)
// against the CPU reference computed in f64 on the same rounded inputs; shared by
// lowp_conv_linear_test.cpp and conv_nhwc_test.cpp.
//
// Tolerance, per output element (expect_within): the inputs are exact in the 16-bit type and
// their products exact in f32 (8+8 and 11+11 significant bits fit in f32's 24), so the GPU
// result differs from the exact value only through
//   - the f32 accumulation: a K-term f32 sum errs by at most about K * 2^-24 * A, where A is
//     the sum of |terms| (the same op applied to |inputs|), and typically by sqrt(K) * 2^-24 * A
//     (K <= 1000 here: about 2^-19 * A). We allow kAccumulation = 2^-14 * A, which leaves room
//     for tensor-core accumulators that truncate and for engines that transform their operands
//     (Winograd), plus kSpread = 2^-16 * max(A) over the tensor for transforms that spread
//     rounding across a tile. 16-bit accumulation lands far outside: the CPU self-test at the
//     end (LowpTolerance.SeparatesF32From16BitAccumulation) finds about 70% (bf16) and 40% (f16) of
//     the elements of a 576-term convolution outside the bound, f32 accumulation none;
//   - the final rounding to the output type: u_out * |ref|, with u = 2^-p the unit roundoff of
//     a type with p significant bits (bf16 p = 8: u = 2^-8 = 3.9e-3; f16 p = 11: 2^-11 =
//     4.9e-4; f32 2^-24);
//   - one intermediate rounding to the 16-bit type where a path has one (bias added after the
//     convolution, an f32 dweight fed from a 16-bit scratch, blending through scratch):
//     u * |c|, c the new contribution (without the old value or the bias). It is allowed on
//     every path, so paths without it get 2u instead of u;
//   - f16 subnormals: an absolute 2^-25 per rounding.
// The whole bound gets a factor (1 + 4u) for the second-order terms.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cuda/cuda_test_util.h"
#include "tests/cuda/lowp_test_util.h"  // Precision, kBf16, kF16

namespace te::cuda_test {

inline constexpr double kAccumulation = 0x1p-14;
inline constexpr double kSpread = 0x1p-16;
inline constexpr double kF32Roundoff = 0x1p-24;

// What one output should be: ref = old + c (+ bias), c = the new contribution, sum_abs = A.
struct Reference {
  std::vector<double> ref, contrib, sum_abs;
};

// How many elements of `got` lie outside the bound; the first few are described in `report`.
inline int64_t count_outside(const std::vector<double>& got, const Reference& r, double u_out,
                             const Precision& pr, std::string* report) {
  double max_a = 0;
  for (double a : r.sum_abs) max_a = std::max(max_a, a);
  int64_t outside = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double bound = (1 + 4 * pr.u) * (u_out * std::fabs(r.ref[i]) +
                                           pr.u * std::fabs(r.contrib[i]) +
                                           kAccumulation * r.sum_abs[i] + kSpread * max_a +
                                           2 * pr.tiny);
    const double err = std::fabs(got[i] - r.ref[i]);
    if (!(err <= bound) && outside++ < 5 && report) {  // !(<=) also catches NaN
      std::ostringstream line;
      line << std::setprecision(9) << "\n  element " << i << ": gpu " << got[i] << " reference "
           << r.ref[i] << " (error " << err << ", allowed " << bound << ")";
      *report += line.str();
    }
  }
  return outside;
}

inline void expect_within(const Tensor& got, const Reference& r, double u_out,
                          const Precision& pr, const std::string& what) {
  const std::vector<double> g = values_of(got);
  ASSERT_EQ(g.size(), r.ref.size()) << what;
  ASSERT_GT(*std::max_element(r.sum_abs.begin(), r.sum_abs.end()), 0.0)
      << what << ": the reference is all zero, the check would prove nothing";
  EXPECT_TRUE(std::any_of(r.ref.begin(), r.ref.end(), [](double v) { return v != 0; })) << what;
  std::string report;
  const int64_t outside = count_outside(g, r, u_out, pr, &report);
  EXPECT_EQ(outside, 0) << what << ": " << outside << " of " << g.size()
                        << " elements outside the bound" << report;
}

inline Tensor abs_of(const Tensor& t64) {
  Tensor out = t64.clone();
  double* p = out.data<double>();
  for (int64_t i = 0; i < out.numel(); ++i) p[i] = std::fabs(p[i]);
  return out;
}

inline std::vector<double> plus(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] + b[i];
  return out;
}

// Random values in [lo, hi) rounded to `dt` (a CPU tensor of that dtype), and the same values
// in f64 for the reference.
struct Input {
  Tensor low, f64;
};
inline Input random_input(const Shape& s, uint64_t seed, DType dt, double lo = -1.0,
                          double hi = 1.0) {
  Input in;
  in.low = rounded_to(rand_cpu(s, seed, lo, hi), dt);
  in.f64 = rounded_to(in.low, DType::F64);
  return in;
}

}  // namespace te::cuda_test
