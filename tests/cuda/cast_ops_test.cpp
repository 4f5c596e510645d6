// ops::cast_scale on the GPU against the CPU backend, between f32, bf16 and f16: the same
// rounding (to nearest even), so the results must be bit-identical.
#include "kernels/cast.h"
#include "tests/cuda/cuda_test_util.h"

namespace te::cuda_test {
namespace {

class CastOps : public CudaTest {};

TEST_F(CastOps, MatchesCpuBitForBit) {
  const Tensor x = rand_cpu({10007}, 8, -3e4, 3e4);
  const DType types[] = {DType::F32, DType::BF16, DType::F16};
  for (DType from : types) {
    const Tensor src = x.to_dtype(from);
    for (DType to : types) {
      for (double scale : {1.0, 1.0 / 1024}) {
        Tensor want = Tensor::empty({10007}, to), got = Tensor::empty({10007}, to, gpu());
        ops::cast_scale(src, want, scale);
        ops::cast_scale(to_gpu(src), got, scale);
        EXPECT_EQ(got.to(Device::cpu()).to_f64_vector(), want.to_f64_vector())
            << dtype_name(from) << " -> " << dtype_name(to) << " scale " << scale;
      }
    }
  }
}

TEST_F(CastOps, RangesMatchCpu) {
  const Tensor src = rand_cpu({5000}, 9, -100, 100);
  const Tensor table = ops::make_range_table({{0, 7}, {100, 1000}, {1200, 0}, {3000, 1999}}, 5000);
  for (DType to : {DType::F32, DType::BF16, DType::F16}) {
    Tensor want = Tensor::zeros({5000}, to), got = Tensor::zeros({5000}, to, gpu());
    ops::cast_scale_ranges(src, want, table, 0.25);
    ops::cast_scale_ranges(to_gpu(src), got, table.to(gpu()), 0.25);
    EXPECT_EQ(got.to(Device::cpu()).to_f64_vector(), want.to_f64_vector()) << dtype_name(to);
  }
  // In place, as the graph scales its master gradients.
  Tensor g = to_gpu(src), h = src.clone();
  ops::cast_scale_ranges(g, g, table.to(gpu()), 2.0);
  ops::cast_scale_ranges(h, h, table, 2.0);
  EXPECT_EQ(g.to(Device::cpu()).to_f64_vector(), h.to_f64_vector());
}

}  // namespace
}  // namespace te::cuda_test
