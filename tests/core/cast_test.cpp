// ops::cast_scale on the CPU: every dtype pair against the scalar conversions of half.h.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/core/half.h"
#include "kernels/cast.h"
#include "tests/support/gradcheck.h"

namespace te {
namespace {

TEST(CastScale, EveryFloatPairMatchesScalarConversion) {
  const Tensor x = testing::random_tensor({257}, 4, -70000, 70000, DType::F64);
  const DType types[] = {DType::F32, DType::F64, DType::BF16, DType::F16};
  for (DType from : types) {
    const Tensor src = x.to_dtype(from);
    const std::vector<double> in = src.to_f64_vector();
    for (DType to : types) {
      Tensor dst = Tensor::empty({257}, to);
      ops::cast_scale(src, dst, 0.125);
      const std::vector<double> out = dst.to_f64_vector();
      for (size_t i = 0; i < in.size(); ++i) {
        const bool wide = from == DType::F64 || to == DType::F64;
        const double product = wide ? in[i] * 0.125 : static_cast<double>(static_cast<float>(in[i]) * 0.125f);
        double want = product;
        if (to == DType::F32) want = static_cast<float>(product);
        if (to == DType::BF16) want = bf16_to_float(float_to_bf16(static_cast<float>(product)));
        if (to == DType::F16) want = f16_to_float(float_to_f16(static_cast<float>(product)));
        ASSERT_EQ(out[i], want) << dtype_name(from) << " -> " << dtype_name(to) << " at " << i;
      }
    }
  }
}

TEST(CastScale, OverflowToF16IsInfinite) {
  Tensor src = Tensor::from_vector({2}, {70000.0f, -1e9f});
  Tensor dst = Tensor::empty({2}, DType::F16);
  ops::cast_scale(src, dst, 1.0);
  const std::vector<double> v = dst.to_f64_vector();
  EXPECT_TRUE(std::isinf(v[0]) && v[0] > 0);
  EXPECT_TRUE(std::isinf(v[1]) && v[1] < 0);
  Tensor wrong = Tensor::empty({3}, DType::F32);
  EXPECT_THROW(ops::cast_scale(src, wrong, 1.0), ShapeError);
  Tensor ints = Tensor::empty({2}, DType::I32);
  EXPECT_THROW(ops::cast_scale(src, ints, 1.0), Error);
}

TEST(CastScale, RangesTouchOnlyTheirElements) {
  const Tensor src = testing::random_tensor({20}, 5, -4, 4, DType::F32);
  Tensor dst = Tensor::empty({20}, DType::BF16);
  dst.zero();
  const Tensor table = ops::make_range_table({{2, 3}, {9, 0}, {10, 6}, {19, 1}}, 20);
  ops::cast_scale_ranges(src, dst, table, 0.5);
  const std::vector<double> in = src.to_f64_vector(), out = dst.to_f64_vector();
  for (int i = 0; i < 20; ++i) {
    const bool inside = (i >= 2 && i < 5) || (i >= 10 && i < 16) || i == 19;
    const double want = inside ? bf16_to_float(float_to_bf16(static_cast<float>(in[i]) * 0.5f)) : 0.0;
    EXPECT_EQ(out[i], want) << i;
  }
  EXPECT_THROW(ops::make_range_table({{5, 3}, {6, 1}}, 20), Error);  // overlapping
  EXPECT_THROW(ops::make_range_table({{18, 3}}, 20), Error);         // past the end
}

}  // namespace
}  // namespace te
