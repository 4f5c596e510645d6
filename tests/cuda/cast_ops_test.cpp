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

}  // namespace
}  // namespace te::cuda_test
