// bf16/f16 storage for the CUDA pooling kernels: max (forward with i32 argmax, backward with
// atomics and deterministic), average and global average, forward and backward, overwriting and
// accumulating, against the CPU's f32 reference on the same rounded inputs (bounds:
// tests/cuda/lowp_test_util.h). The 16-bit max backward gathers each plane in float in shared
// memory; a 256x256 plane (256 KiB of floats, more than any GPU's shared memory per block) takes
// the tiled path.
//
// Slack (delta in lowp_test_util.h), the f32 tests' tolerances (spatial_ops_test.cpp):
//   max forward      exact (the maximum of 16-bit values), argmax identical
//   max backward     1e-6 |ref| + 1e-6 (sums of a few contributions in another order)
//   avg, global avg  1e-5 |ref| + 1e-6
#include <string>
#include <vector>

#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda/lowp_test_util.h"

namespace te::cuda_test {
namespace {

class LowpPool : public CudaTest {};

const F32Slack kMaxBackward{1e-6, 1e-6, 0};
const F32Slack kAverage{1e-5, 1e-6, 0};

struct PoolCase {
  int64_t n, c, h, w, k, stride, pad, dilation;
  bool ceil, include_pad;
};

TEST_F(LowpPool, PoolingRoundsOnceToTheStorageType) {
  const std::vector<PoolCase> cases = {
      {1, 1, 1, 1, 1, 1, 0, 1, false, true},   {2, 3, 112, 112, 3, 2, 1, 1, false, true},
      {1, 5, 7, 9, 2, 2, 0, 1, true, true},    {3, 4, 10, 11, 3, 2, 1, 2, false, false},
      {2, 2, 9, 9, 3, 3, 1, 1, true, false},   {1, 7, 6, 6, 2, 1, 0, 1, false, true},
      {1, 2, 256, 256, 3, 2, 1, 1, false, true},
  };
  uint64_t seed = 40;
  for (const Precision& pr : kLowp)
    for (const PoolCase& c : cases)
      for (bool deterministic : {false, true}) {
        te::cuda::set_deterministic(deterministic);
        ops::Pool2dParams p;
        p.kernel_h = p.kernel_w = c.k;
        p.stride_h = p.stride_w = c.stride;
        p.pad_h = p.pad_w = c.pad;
        p.dilation_h = p.dilation_w = c.dilation;
        p.ceil_mode = c.ceil;
        p.count_include_pad = c.include_pad;
        const int64_t oh = ops::pool_output_size(c.h, c.k, c.stride, c.pad, c.dilation, c.ceil);
        const int64_t ow = ops::pool_output_size(c.w, c.k, c.stride, c.pad, c.dilation, c.ceil);
        const Shape xs{c.n, c.c, c.h, c.w}, ys{c.n, c.c, oh, ow};
        const std::string what = std::string("pool ") + pr.name + " " + xs.str() + " k" +
                                 std::to_string(c.k) + " s" + std::to_string(c.stride) + " p" +
                                 std::to_string(c.pad) + " d" + std::to_string(c.dilation) +
                                 (c.ceil ? " ceil" : "") + (deterministic ? " deterministic" : "");
        const LowpInput x = lowp_input(xs, seed++, pr);
        const Tensor xg = x.gpu();
        Tensor y_cpu = Tensor::empty(ys), arg_cpu = Tensor::empty(ys, DType::I32);
        ops::cpu::max_pool2d_forward(x.ref, y_cpu, arg_cpu, p);
        Guarded y(ys, pr.dt), arg(ys, DType::I32);
        ops::cuda::max_pool2d_forward(xg, y.view, arg.view, p);
        y.expect_guards_intact(what + " max");
        arg.expect_guards_intact(what + " argmax");
        expect_equal(y.view, y_cpu, what + " max");
        expect_equal(arg.view, arg_cpu, what + " argmax");

        const LowpInput dy = lowp_input(ys, seed++, pr);
        for (bool accumulate : {false, true}) {
          const LowpInput dx0 = lowp_input(xs, seed++, pr);
          Tensor dx_cpu = dx0.ref.clone();
          ops::cpu::max_pool2d_backward(dy.ref, arg_cpu, dx_cpu, accumulate);
          Guarded dx(xs, pr.dt, &dx0.host);
          ops::cuda::max_pool2d_backward(dy.gpu(), arg.view, dx.view, accumulate);
          dx.expect_guards_intact(what + " max backward");
          expect_rounded_once(dx.view, dx_cpu, pr, kMaxBackward,
                              what + " max backward" + (accumulate ? " (+=)" : ""));
        }

        if (c.dilation != 1) continue;  // average pooling has no dilation
        Tensor a_cpu = Tensor::empty(ys);
        ops::cpu::avg_pool2d_forward(x.ref, a_cpu, p);
        Guarded a(ys, pr.dt);
        ops::cuda::avg_pool2d_forward(xg, a.view, p);
        a.expect_guards_intact(what + " avg");
        expect_rounded_once(a.view, a_cpu, pr, kAverage, what + " avg");
        for (bool accumulate : {false, true}) {
          const LowpInput dx0 = lowp_input(xs, seed++, pr);
          Tensor dx_cpu = dx0.ref.clone();
          ops::cpu::avg_pool2d_backward(dy.ref, dx_cpu, accumulate, p);
          Guarded dx(xs, pr.dt, &dx0.host);
          ops::cuda::avg_pool2d_backward(dy.gpu(), dx.view, accumulate, p);
          dx.expect_guards_intact(what + " avg backward");
          expect_rounded_once(dx.view, dx_cpu, pr, kAverage,
                              what + " avg backward" + (accumulate ? " (+=)" : ""));
        }
      }
  te::cuda::set_deterministic(false);
}

TEST_F(LowpPool, GlobalAveragePoolRoundsOnce) {
  uint64_t seed = 70;
  for (const Precision& pr : kLowp)
    for (const Shape& xs : {Shape{1, 1, 1, 1}, Shape{2, 512, 7, 7}, Shape{3, 5, 13, 3}}) {
      const Shape ys{xs[0], xs[1]};
      const std::string what = std::string("global avg ") + pr.name + " " + xs.str();
      const LowpInput x = lowp_input(xs, seed++, pr);
      Tensor y_cpu = Tensor::empty(ys);
      ops::cpu::global_avg_pool_forward(x.ref, y_cpu);
      Guarded y(ys, pr.dt);
      ops::cuda::global_avg_pool_forward(x.gpu(), y.view);
      y.expect_guards_intact(what);
      expect_rounded_once(y.view, y_cpu, pr, kAverage, what);
      const LowpInput dy = lowp_input(ys, seed++, pr);
      for (bool accumulate : {false, true}) {
        const LowpInput dx0 = lowp_input(xs, seed++, pr);
        Tensor dx_cpu = dx0.ref.clone();
        ops::cpu::global_avg_pool_backward(dy.ref, dx_cpu, accumulate);
        Guarded dx(xs, pr.dt, &dx0.host);
        ops::cuda::global_avg_pool_backward(dy.gpu(), dx.view, accumulate);
        dx.expect_guards_intact(what + " backward");
        expect_rounded_once(dx.view, dx_cpu, pr, kAverage,
                            what + " backward" + (accumulate ? " (+=)" : ""));
      }
    }
}

}  // namespace
}  // namespace te::cuda_test
