// CPU-vs-CUDA: convolution (cuDNN) and Linear (cuBLAS), forward and backward, with odd sizes,
// batch 1, strides, padding, dilation and groups. GPU-only: the SIMT emulation has no cuDNN or
// cuBLAS (their bias epilogues, our own kernels, are tested in epilogue_kernels_test.cpp).
#include <array>
#include <cmath>
#include <iostream>
#include <vector>

#include "kernels/cuda/cudnn_conv.h"
#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda/cuda_test_util.h"

namespace te::cuda_test {
namespace {

class ConvLinearOps : public CudaTest {};

struct ConvCase {
  int64_t n, c, h, w, o, k, stride, pad, dilation, groups;
  bool bias;
};

ops::Conv2dParams params_of(const ConvCase& c) {
  ops::Conv2dParams p;
  p.kernel_h = p.kernel_w = c.k;
  p.stride_h = p.stride_w = c.stride;
  p.pad_h = p.pad_w = c.pad;
  p.dilation_h = p.dilation_w = c.dilation;
  p.groups = c.groups;
  return p;
}

void check_conv(const ConvCase& c, uint64_t seed, double rtol, double atol) {
  const ops::Conv2dParams p = params_of(c);
  const int64_t oh = ops::conv_output_size(c.h, c.k, c.stride, c.pad, c.dilation);
  const int64_t ow = ops::conv_output_size(c.w, c.k, c.stride, c.pad, c.dilation);
  const Shape xs{c.n, c.c, c.h, c.w}, ws{c.o, c.c / c.groups, c.k, c.k}, ys{c.n, c.o, oh, ow};
  const std::string what = "conv x" + xs.str() + " w" + ws.str() + " stride " +
                           std::to_string(c.stride) + " pad " + std::to_string(c.pad) +
                           " dilation " + std::to_string(c.dilation) + " groups " +
                           std::to_string(c.groups);
  const Tensor x = rand_cpu(xs, seed), w = rand_cpu(ws, seed + 1, -0.5, 0.5);
  const Tensor b = rand_cpu({c.o}, seed + 2);
  ops::Conv2dWorkspace cpu_ws, gpu_ws;

  Tensor y_cpu = Tensor::empty(ys);
  ops::cpu::conv2d_forward(x, w, c.bias ? &b : nullptr, y_cpu, p, cpu_ws);
  Guarded y(ys, DType::F32);
  const Tensor bg = to_gpu(b);
  ops::cuda::conv2d_forward(to_gpu(x), to_gpu(w), c.bias ? &bg : nullptr, y.view, p, gpu_ws);
  y.expect_guards_intact(what + " forward");
  expect_close(y.view, y_cpu, rtol, atol, what + " forward");

  const Tensor dy = rand_cpu(ys, seed + 3);
  for (bool accumulate : {false, true}) {
    const Tensor dx0 = rand_cpu(xs, seed + 4);
    Tensor dx_cpu = dx0.clone();
    ops::cpu::conv2d_backward_input(dy, w, dx_cpu, accumulate, p, cpu_ws);
    Guarded dx(xs, DType::F32, &dx0);
    ops::cuda::conv2d_backward_input(to_gpu(dy), to_gpu(w), dx.view, accumulate, p, gpu_ws);
    dx.expect_guards_intact(what + " backward input");
    expect_close(dx.view, dx_cpu, rtol, atol, what + " backward input" + (accumulate ? " (+=)" : ""));
  }
  const Tensor dw0 = rand_cpu(ws, seed + 5), db0 = rand_cpu({c.o}, seed + 6);
  Tensor dw_cpu = dw0.clone(), db_cpu = db0.clone();
  ops::cpu::conv2d_backward_params(x, dy, dw_cpu, c.bias ? &db_cpu : nullptr, p, cpu_ws);
  Guarded dw(ws, DType::F32, &dw0), db({c.o}, DType::F32, &db0);
  ops::cuda::conv2d_backward_params(to_gpu(x), to_gpu(dy), dw.view, c.bias ? &db.view : nullptr, p,
                                    gpu_ws);
  dw.expect_guards_intact(what + " dweight");
  db.expect_guards_intact(what + " dbias");
  // Filter gradients sum over N*OH*OW products: allow for the longer sums.
  const double scale = std::sqrt(static_cast<double>(c.n * oh * ow));
  expect_close(dw.view, dw_cpu, rtol, atol * scale, what + " dweight");
  if (c.bias) expect_close(db.view, db_cpu, rtol, atol * scale, what + " dbias");
}

const std::vector<ConvCase> kConvCases = {
    {1, 1, 1, 1, 1, 1, 1, 0, 1, 1, true},     // the smallest
    {1, 3, 7, 5, 4, 3, 1, 1, 1, 1, true},     // batch 1, odd sizes
    {2, 3, 32, 32, 16, 7, 2, 3, 1, 1, false}, // resnet stem
    {3, 16, 15, 15, 32, 3, 2, 1, 1, 1, false},
    {2, 32, 9, 9, 64, 1, 2, 0, 1, 1, false},  // downsample 1x1
    {2, 8, 11, 13, 8, 3, 1, 2, 2, 1, true},   // dilation
    {2, 8, 10, 10, 12, 3, 1, 1, 1, 4, true},  // groups
    {4, 64, 14, 14, 64, 3, 1, 1, 1, 1, false},
};

TEST_F(ConvLinearOps, ConvolutionMatchesCpu) {
  uint64_t seed = 1;
  for (const ConvCase& c : kConvCases) check_conv(c, seed += 10, 1e-3, 2e-4);
  EXPECT_GT(te::cuda::cached_conv_plans(), 0u);
  std::cout << "[ conv     ] " << te::cuda::conv_backend_mode() << "\n";
}

TEST_F(ConvLinearOps, ConvolutionWithTf32StaysClose) {
  te::cuda::set_allow_tf32(true);
  uint64_t seed = 500;
  // TF32 keeps 10 mantissa bits: about 1e-3 relative per product.
  for (const ConvCase& c : {kConvCases[1], kConvCases[3], kConvCases[7]})
    check_conv(c, seed += 10, 2e-2, 2e-2);
  te::cuda::set_allow_tf32(false);
}

TEST_F(ConvLinearOps, TimedEngineSearchMatchesCpu) {
  te::cuda::set_conv_autotune(true);
  uint64_t seed = 700;
  for (const ConvCase& c : {kConvCases[2], kConvCases[3], kConvCases[6]})
    check_conv(c, seed += 10, 1e-3, 2e-4);
  te::cuda::set_conv_autotune(false);
}

TEST_F(ConvLinearOps, DeterministicConvolutionRepeatsExactly) {
  te::cuda::set_deterministic(true);
  const ConvCase c = kConvCases[3];
  const ops::Conv2dParams p = params_of(c);
  const Shape xs{c.n, c.c, c.h, c.w}, ws{c.o, c.c, c.k, c.k};
  const int64_t oh = ops::conv_output_size(c.h, c.k, c.stride, c.pad, 1);
  const Tensor x = to_gpu(rand_cpu(xs, 7)), dy = to_gpu(rand_cpu({c.n, c.o, oh, oh}, 8));
  ops::Conv2dWorkspace ws_state;
  std::vector<std::vector<double>> runs;
  for (int r = 0; r < 2; ++r) {
    Tensor dw = Tensor::zeros(ws, DType::F32, gpu());
    ops::cuda::conv2d_backward_params(x, dy, dw, nullptr, p, ws_state);
    runs.push_back(dw.to_f64_vector());
  }
  EXPECT_EQ(runs[0], runs[1]);
  te::cuda::set_deterministic(false);
}

TEST_F(ConvLinearOps, LinearMatchesCpu) {
  const std::vector<std::array<int64_t, 3>> shapes = {{1, 1, 1}, {1, 512, 1000}, {7, 33, 5}, {256, 512, 10}};
  uint64_t seed = 90;
  for (const auto& s : shapes)
    for (bool bias : {false, true}) {
      const int64_t n = s[0], in = s[1], out = s[2];
      const std::string what = "linear [" + std::to_string(n) + ", " + std::to_string(in) + "] -> " +
                               std::to_string(out) + (bias ? " bias" : "");
      const Tensor x = rand_cpu({n, in}, seed++), w = rand_cpu({out, in}, seed++, -0.2, 0.2);
      const Tensor b = rand_cpu({out}, seed++);
      const Tensor bg = to_gpu(b);
      Tensor y_cpu = Tensor::empty({n, out});
      ops::cpu::linear_forward(x, w, bias ? &b : nullptr, y_cpu);
      Guarded y({n, out}, DType::F32);
      ops::cuda::linear_forward(to_gpu(x), to_gpu(w), bias ? &bg : nullptr, y.view);
      y.expect_guards_intact(what);
      const double atol = 1e-5 * std::sqrt(static_cast<double>(in));
      expect_close(y.view, y_cpu, 1e-4, atol, what + " forward");
      const Tensor dy = rand_cpu({n, out}, seed++);
      for (bool accumulate : {false, true}) {
        const Tensor dx0 = rand_cpu({n, in}, seed++);
        Tensor dx_cpu = dx0.clone();
        ops::cpu::linear_backward_input(dy, w, dx_cpu, accumulate);
        Guarded dx({n, in}, DType::F32, &dx0);
        ops::cuda::linear_backward_input(to_gpu(dy), to_gpu(w), dx.view, accumulate);
        dx.expect_guards_intact(what + " dx");
        expect_close(dx.view, dx_cpu, 1e-4, 1e-5 * std::sqrt(static_cast<double>(out)), what + " dx");
      }
      const Tensor dw0 = rand_cpu({out, in}, seed++), db0 = rand_cpu({out}, seed++);
      Tensor dw_cpu = dw0.clone(), db_cpu = db0.clone();
      ops::cpu::linear_backward_params(x, dy, dw_cpu, bias ? &db_cpu : nullptr);
      Guarded dw({out, in}, DType::F32, &dw0), db({out}, DType::F32, &db0);
      ops::cuda::linear_backward_params(to_gpu(x), to_gpu(dy), dw.view, bias ? &db.view : nullptr);
      dw.expect_guards_intact(what + " dw");
      db.expect_guards_intact(what + " db");
      const double natol = 1e-5 * std::sqrt(static_cast<double>(n));
      expect_close(dw.view, dw_cpu, 1e-4, natol, what + " dw");
      if (bias) expect_close(db.view, db_cpu, 1e-5, natol, what + " db");
    }
}

}  // namespace
}  // namespace te::cuda_test
