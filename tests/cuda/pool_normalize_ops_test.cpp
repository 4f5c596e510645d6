// CPU-vs-CUDA: pooling (max, average, global average) and input normalisation, forward and
// backward, with odd sizes, batch 1, strides, padding, dilation, ceil mode. Our own kernels only:
// also run by the SIMT emulation (test_cuda_emu).
#include <cmath>
#include <vector>

#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda/cuda_test_util.h"

namespace te::cuda_test {
namespace {

class PoolNormalizeOps : public CudaTest {};

struct PoolCase {
  int64_t n, c, h, w, k, stride, pad, dilation;
  bool ceil, include_pad;
};

TEST_F(PoolNormalizeOps, PoolingMatchesCpu) {
  const std::vector<PoolCase> cases = {
      {1, 1, 1, 1, 1, 1, 0, 1, false, true},   {2, 3, 112, 112, 3, 2, 1, 1, false, true},
      {1, 5, 7, 9, 2, 2, 0, 1, true, true},    {3, 4, 10, 11, 3, 2, 1, 2, false, false},
      {2, 2, 9, 9, 3, 3, 1, 1, true, false},   {1, 7, 6, 6, 2, 1, 0, 1, false, true},
  };
  uint64_t seed = 40;
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
      const std::string what = "pool " + xs.str() + " k" + std::to_string(c.k) + " s" +
                               std::to_string(c.stride) + " p" + std::to_string(c.pad) + " d" +
                               std::to_string(c.dilation) + (c.ceil ? " ceil" : "");
      const Tensor x = rand_cpu(xs, seed++);
      Tensor y_cpu = Tensor::empty(ys), arg_cpu = Tensor::empty(ys, DType::I32);
      ops::cpu::max_pool2d_forward(x, y_cpu, arg_cpu, p);
      Guarded y(ys, DType::F32), arg(ys, DType::I32);
      ops::cuda::max_pool2d_forward(to_gpu(x), y.view, arg.view, p);
      y.expect_guards_intact(what + " max");
      arg.expect_guards_intact(what + " argmax");
      expect_equal(y.view, y_cpu, what + " max");
      expect_equal(arg.view, arg_cpu, what + " argmax");
      const Tensor dy = rand_cpu(ys, seed++);
      for (bool accumulate : {false, true}) {
        const Tensor dx0 = rand_cpu(xs, seed++);
        Tensor dx_cpu = dx0.clone();
        ops::cpu::max_pool2d_backward(dy, arg_cpu, dx_cpu, accumulate);
        Guarded dx(xs, DType::F32, &dx0);
        ops::cuda::max_pool2d_backward(to_gpu(dy), arg.view, dx.view, accumulate);
        dx.expect_guards_intact(what + " max backward");
        expect_close(dx.view, dx_cpu, 1e-6, 1e-6, what + " max backward");
      }
      if (c.dilation != 1) continue;  // average pooling has no dilation
      Tensor a_cpu = Tensor::empty(ys);
      ops::cpu::avg_pool2d_forward(x, a_cpu, p);
      Guarded a(ys, DType::F32);
      ops::cuda::avg_pool2d_forward(to_gpu(x), a.view, p);
      a.expect_guards_intact(what + " avg");
      expect_close(a.view, a_cpu, 1e-5, 1e-6, what + " avg");
      for (bool accumulate : {false, true}) {
        const Tensor dx0 = rand_cpu(xs, seed++);
        Tensor dx_cpu = dx0.clone();
        ops::cpu::avg_pool2d_backward(dy, dx_cpu, accumulate, p);
        Guarded dx(xs, DType::F32, &dx0);
        ops::cuda::avg_pool2d_backward(to_gpu(dy), dx.view, accumulate, p);
        dx.expect_guards_intact(what + " avg backward");
        expect_close(dx.view, dx_cpu, 1e-5, 1e-6, what + " avg backward");
      }
    }
  te::cuda::set_deterministic(false);
}

TEST_F(PoolNormalizeOps, GlobalAveragePoolMatchesCpu) {
  uint64_t seed = 70;
  for (const Shape& xs : {Shape{1, 1, 1, 1}, Shape{2, 512, 7, 7}, Shape{3, 5, 13, 3}}) {
    const Shape ys{xs[0], xs[1]};
    const Tensor x = rand_cpu(xs, seed++);
    Tensor y_cpu = Tensor::empty(ys);
    ops::cpu::global_avg_pool_forward(x, y_cpu);
    Guarded y(ys, DType::F32);
    ops::cuda::global_avg_pool_forward(to_gpu(x), y.view);
    y.expect_guards_intact("global avg");
    expect_close(y.view, y_cpu, 1e-5, 1e-6, "global avg " + xs.str());
    const Tensor dy = rand_cpu(ys, seed++);
    for (bool accumulate : {false, true}) {
      const Tensor dx0 = rand_cpu(xs, seed++);
      Tensor dx_cpu = dx0.clone();
      ops::cpu::global_avg_pool_backward(dy, dx_cpu, accumulate);
      Guarded dx(xs, DType::F32, &dx0);
      ops::cuda::global_avg_pool_backward(to_gpu(dy), dx.view, accumulate);
      dx.expect_guards_intact("global avg backward");
      expect_close(dx.view, dx_cpu, 1e-5, 1e-6, "global avg backward " + xs.str());
    }
  }
}

TEST_F(PoolNormalizeOps, NormalizeImagesMatchesCpu) {
  uint64_t seed = 120;
  for (const Shape& s : {Shape{1, 1, 1, 1}, Shape{2, 5, 7, 3}, Shape{3, 32, 31, 1}}) {
    const Tensor u8 = rand_cpu(s, seed++, 0, 255.99).to_dtype(DType::F32);
    std::vector<float> v = u8.to_vector();
    const Tensor img = Tensor::from_vector(s, v, DType::U8);
    const std::vector<float> mean = s[3] == 3 ? std::vector<float>{0.485f, 0.456f, 0.406f} : std::vector<float>{0.5f};
    const std::vector<float> stdv = s[3] == 3 ? std::vector<float>{0.229f, 0.224f, 0.225f} : std::vector<float>{0.25f};
    const Shape out{s[0], s[3], s[1], s[2]};
    Tensor y_cpu = Tensor::empty(out);
    ops::cpu::normalize_images(img, y_cpu, mean, stdv);
    Guarded y(out, DType::F32);
    ops::cuda::normalize_images(to_gpu(img), y.view, mean, stdv);
    y.expect_guards_intact("normalize");
    expect_close(y.view, y_cpu, 1e-6, 1e-6, "normalize " + s.str());
  }
}

}  // namespace
}  // namespace te::cuda_test
