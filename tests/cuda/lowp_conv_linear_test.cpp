// bf16/f16 storage for the CUDA convolution (cuDNN) and Linear (cuBLAS), forward and backward,
// against the CPU reference computed in f64 on the same rounded inputs.
// The tolerance (expect_within) is explained in tests/cuda/conv_tolerance.h.
#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <vector>

#include "kernels/cuda/cudnn_conv.h"
#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda/conv_tolerance.h"
#include "tests/cuda/cuda_test_util.h"

namespace te::cuda_test {
namespace {

// ---------------------------------------------------------------------------------------------
// Convolution

class LowpConvLinear : public CudaTest {};

struct ConvCase {
  int64_t n, c, h, w, o, k, stride, pad, dilation, groups;
  bool bias;
  const char* label;
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

const std::vector<ConvCase> kConvCases = {
    {2, 16, 8, 8, 32, 1, 1, 0, 1, 1, false, "1x1"},
    {2, 32, 9, 9, 64, 1, 2, 0, 1, 1, false, "1x1 stride 2 (downsample)"},
    {2, 64, 14, 14, 64, 3, 1, 1, 1, 1, false, "3x3"},
    {3, 16, 15, 15, 32, 3, 2, 1, 1, 1, false, "3x3 stride 2"},
    {2, 3, 32, 32, 16, 7, 2, 3, 1, 1, false, "7x7 stride 2 stem"},
    {1, 3, 7, 5, 4, 3, 1, 1, 1, 1, true, "odd sizes, bias"},
    {2, 8, 11, 13, 8, 3, 1, 2, 2, 1, true, "dilation 2, bias"},
    {2, 8, 10, 10, 12, 3, 1, 1, 1, 4, true, "groups 4, bias"},
};

void check_conv(const ConvCase& c, const Precision& pr, uint64_t seed) {
  const DType dt = pr.dt;
  const ops::Conv2dParams p = params_of(c);
  const int64_t oh = ops::conv_output_size(c.h, c.k, c.stride, c.pad, c.dilation);
  const int64_t ow = ops::conv_output_size(c.w, c.k, c.stride, c.pad, c.dilation);
  const Shape xs{c.n, c.c, c.h, c.w}, ws{c.o, c.c / c.groups, c.k, c.k}, ys{c.n, c.o, oh, ow};
  const std::string what = std::string(pr.name) + " conv " + c.label + " x" + xs.str() + " w" +
                           ws.str();
  const Input x = random_input(xs, seed, dt), w = random_input(ws, seed + 1, dt, -0.5, 0.5);
  const Input dy = random_input(ys, seed + 3, dt);
  const Tensor xg = to_gpu(x.low), wg = to_gpu(w.low), dyg = to_gpu(dy.low);
  ops::Conv2dWorkspace cpu_ws, gpu_ws;

  // forward, without and (for bias cases) with a bias in f32 and in the 16-bit type
  Tensor conv = Tensor::empty(ys, DType::F64), conv_abs = Tensor::empty(ys, DType::F64);
  ops::cpu::conv2d_forward(x.f64, w.f64, nullptr, conv, p, cpu_ws);
  ops::cpu::conv2d_forward(abs_of(x.f64), abs_of(w.f64), nullptr, conv_abs, p, cpu_ws);
  const std::vector<double> c_fwd = conv.to_f64_vector(), a_fwd = conv_abs.to_f64_vector();
  // bias dtypes to try: f32 and the 16-bit type (one pass without bias when the case has none)
  std::vector<DType> bias_types = {DType::F32};
  if (c.bias) bias_types.push_back(dt);
  for (DType bt : bias_types) {
    const bool with_bias = c.bias;
    const Input b = random_input({c.o}, seed + 2, bt);
    Tensor ref = conv.clone();
    if (with_bias) {
      double* r = ref.data<double>();
      const std::vector<double> bv = b.f64.to_f64_vector();
      for (int64_t i = 0; i < ref.numel(); ++i) r[i] += bv[(i / (oh * ow)) % c.o];
    }
    Guarded y(ys, dt);
    const Tensor bg = to_gpu(b.low);
    ops::cuda::conv2d_forward(xg, wg, with_bias ? &bg : nullptr, y.view, p, gpu_ws);
    const std::string w_what = what + " forward" + (with_bias ? std::string(" bias ") + dtype_name(bt) : "");
    y.expect_guards_intact(w_what);
    expect_within(y.view, {ref.to_f64_vector(), c_fwd, a_fwd}, pr.u, pr, w_what);
  }

  // backward data, overwrite and accumulate
  Tensor dx_c = Tensor::zeros(xs, DType::F64), dx_a = Tensor::zeros(xs, DType::F64);
  ops::cpu::conv2d_backward_input(dy.f64, w.f64, dx_c, false, p, cpu_ws);
  ops::cpu::conv2d_backward_input(abs_of(dy.f64), abs_of(w.f64), dx_a, false, p, cpu_ws);
  const std::vector<double> c_dx = dx_c.to_f64_vector(), a_dx = dx_a.to_f64_vector();
  for (bool accumulate : {false, true}) {
    const Input dx0 = random_input(xs, seed + 4, dt);
    Guarded dx(xs, dt, &dx0.low);
    ops::cuda::conv2d_backward_input(dyg, wg, dx.view, accumulate, p, gpu_ws);
    const std::string w_what = what + " backward data" + (accumulate ? " (+=)" : "");
    dx.expect_guards_intact(w_what);
    expect_within(dx.view, {accumulate ? plus(dx0.f64.to_f64_vector(), c_dx) : c_dx, c_dx, a_dx},
                  pr.u, pr, w_what);
  }

  // backward filter (always +=) into a 16-bit and into an f32 weight gradient; dbias likewise
  Tensor dw_c = Tensor::zeros(ws, DType::F64), dw_a = Tensor::zeros(ws, DType::F64);
  Tensor db_c = Tensor::zeros({c.o}, DType::F64), db_a = Tensor::zeros({c.o}, DType::F64);
  ops::cpu::conv2d_backward_params(x.f64, dy.f64, dw_c, &db_c, p, cpu_ws);
  ops::cpu::conv2d_backward_params(abs_of(x.f64), abs_of(dy.f64), dw_a, &db_a, p, cpu_ws);
  const std::vector<double> c_dw = dw_c.to_f64_vector(), a_dw = dw_a.to_f64_vector();
  const std::vector<double> c_db = db_c.to_f64_vector(), a_db = db_a.to_f64_vector();
  for (DType gt : {dt, DType::F32}) {
    const Input dw0 = random_input(ws, seed + 5, gt), db0 = random_input({c.o}, seed + 6, gt);
    Guarded dw(ws, gt, &dw0.low), db({c.o}, gt, &db0.low);
    ops::cuda::conv2d_backward_params(xg, dyg, dw.view, c.bias ? &db.view : nullptr, p, gpu_ws);
    const std::string w_what = what + " d" + dtype_name(gt);
    dw.expect_guards_intact(w_what + " dweight");
    db.expect_guards_intact(w_what + " dbias");
    const double u_out = gt == DType::F32 ? kF32Roundoff : pr.u;
    expect_within(dw.view, {plus(dw0.f64.to_f64_vector(), c_dw), c_dw, a_dw}, u_out, pr,
                  w_what + " dweight");
    if (c.bias)
      expect_within(db.view, {plus(db0.f64.to_f64_vector(), c_db), c_db, a_db}, u_out, pr,
                    w_what + " dbias");
  }
}

TEST_F(LowpConvLinear, Bf16ConvolutionMatchesCpu) {
  uint64_t seed = 3000;
  for (const ConvCase& c : kConvCases) check_conv(c, kBf16, seed += 10);
}

TEST_F(LowpConvLinear, F16ConvolutionMatchesCpu) {
  uint64_t seed = 4000;
  for (const ConvCase& c : kConvCases) check_conv(c, kF16, seed += 10);
}

TEST_F(LowpConvLinear, DeterministicBf16ConvolutionMatchesCpu) {
  te::cuda::set_deterministic(true);
  uint64_t seed = 4500;
  for (const ConvCase& c : {kConvCases[2], kConvCases[4]}) check_conv(c, kBf16, seed += 10);
  te::cuda::set_deterministic(false);
}

TEST_F(LowpConvLinear, TimedEngineSearchWithF16) {
  te::cuda::set_conv_autotune(true);
  uint64_t seed = 4700;
  for (const ConvCase& c : {kConvCases[1], kConvCases[3]}) check_conv(c, kF16, seed += 10);
  te::cuda::set_conv_autotune(false);
}

// The plan cache keys on the dtype: the same shape in f32, bf16 and f16 builds three plans (a
// key without the dtype would hand the f32 plan to the bf16 call).
TEST_F(LowpConvLinear, ConvolutionPlansAreCachedPerDtype) {
  const ConvCase c{2, 8, 12, 12, 16, 3, 1, 1, 1, 1, false, "cache"};
  const ops::Conv2dParams p = params_of(c);
  ops::Conv2dWorkspace ws;
  {  // settle the cuDNN binding first (a binding fallback clears the cache once)
    const Tensor x = to_gpu(rand_cpu({1, 2, 5, 5}, 10));
    const Tensor w = to_gpu(rand_cpu({2, 2, 3, 3}, 13));
    Tensor y = Tensor::empty({1, 2, 5, 5}, DType::F32, gpu());
    ops::cuda::conv2d_forward(x, w, nullptr, y, p, ws);
  }
  for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
    const size_t before = te::cuda::cached_conv_plans();
    const Tensor x = to_gpu(rounded_to(rand_cpu({c.n, c.c, c.h, c.w}, 11), dt));
    const Tensor w = to_gpu(rounded_to(rand_cpu({c.o, c.c, c.k, c.k}, 12), dt));
    Tensor y = Tensor::empty({c.n, c.o, c.h, c.w}, dt, gpu());
    ops::cuda::conv2d_forward(x, w, nullptr, y, p, ws);
    EXPECT_EQ(te::cuda::cached_conv_plans(), before + 1) << dtype_name(dt);
  }
}

// Views that start 2 bytes into their allocation (only 2-byte aligned): cuDNN is told the real
// alignment and must pick an engine that copes (the graph's arenas should stay 16-byte aligned).
TEST_F(LowpConvLinear, Bf16ConvolutionOnUnalignedViews) {
  const ConvCase c{2, 8, 9, 9, 8, 3, 1, 1, 1, 1, false, "unaligned"};
  const ops::Conv2dParams p = params_of(c);
  const Shape xs{c.n, c.c, c.h, c.w}, ws{c.o, c.c, c.k, c.k}, ys{c.n, c.o, c.h, c.w};
  const Input x = random_input(xs, 21, DType::BF16), w = random_input(ws, 22, DType::BF16, -0.5, 0.5);
  const auto offset_view = [](const Tensor& host, const Shape& s) {
    Tensor buf = Tensor::zeros(Shape{s.numel() + 1}, DType::BF16, gpu());
    Tensor view = buf.slice_flat(1, s);
    view.copy_from(host);
    return view;
  };
  const Tensor xv = offset_view(x.low, xs), wv = offset_view(w.low, ws);
  Tensor yv = offset_view(rounded_to(rand_cpu(ys, 23), DType::BF16), ys);
  ops::Conv2dWorkspace cpu_ws, gpu_ws;
  ops::cuda::conv2d_forward(xv, wv, nullptr, yv, p, gpu_ws);
  Tensor ref = Tensor::empty(ys, DType::F64), ref_abs = Tensor::empty(ys, DType::F64);
  ops::cpu::conv2d_forward(x.f64, w.f64, nullptr, ref, p, cpu_ws);
  ops::cpu::conv2d_forward(abs_of(x.f64), abs_of(w.f64), nullptr, ref_abs, p, cpu_ws);
  expect_within(yv, {ref.to_f64_vector(), ref.to_f64_vector(), ref_abs.to_f64_vector()}, kBf16.u,
                kBf16, "bf16 conv forward on 2-byte aligned views");
}

// ---------------------------------------------------------------------------------------------
// Linear

void check_linear(int64_t n, int64_t in, int64_t out, bool bias, const Precision& pr,
                  uint64_t seed) {
  const DType dt = pr.dt;
  const std::string what = std::string(pr.name) + " linear [" + std::to_string(n) + ", " +
                           std::to_string(in) + "] -> " + std::to_string(out);
  const Input x = random_input({n, in}, seed, dt), w = random_input({out, in}, seed + 1, dt, -0.2, 0.2);
  const Input dy = random_input({n, out}, seed + 3, dt);
  const Tensor xg = to_gpu(x.low), wg = to_gpu(w.low), dyg = to_gpu(dy.low);

  Tensor y_c = Tensor::empty({n, out}, DType::F64), y_a = Tensor::empty({n, out}, DType::F64);
  ops::cpu::linear_forward(x.f64, w.f64, nullptr, y_c);
  ops::cpu::linear_forward(abs_of(x.f64), abs_of(w.f64), nullptr, y_a);
  const std::vector<double> c_y = y_c.to_f64_vector(), a_y = y_a.to_f64_vector();
  std::vector<DType> bias_types = {DType::F32};
  if (bias) bias_types.push_back(dt);
  for (DType bt : bias_types) {
    const Input b = random_input({out}, seed + 2, bt);
    std::vector<double> ref = c_y;
    if (bias) {
      const std::vector<double> bv = b.f64.to_f64_vector();
      for (size_t i = 0; i < ref.size(); ++i) ref[i] += bv[i % out];
    }
    Guarded y({n, out}, dt);
    const Tensor bg = to_gpu(b.low);
    ops::cuda::linear_forward(xg, wg, bias ? &bg : nullptr, y.view);
    const std::string w_what = what + " forward" + (bias ? std::string(" bias ") + dtype_name(bt) : "");
    y.expect_guards_intact(w_what);
    expect_within(y.view, {ref, c_y, a_y}, pr.u, pr, w_what);
  }

  Tensor dx_c = Tensor::zeros({n, in}, DType::F64), dx_a = Tensor::zeros({n, in}, DType::F64);
  ops::cpu::linear_backward_input(dy.f64, w.f64, dx_c, false);
  ops::cpu::linear_backward_input(abs_of(dy.f64), abs_of(w.f64), dx_a, false);
  const std::vector<double> c_dx = dx_c.to_f64_vector(), a_dx = dx_a.to_f64_vector();
  for (bool accumulate : {false, true}) {
    const Input dx0 = random_input({n, in}, seed + 4, dt);
    Guarded dx({n, in}, dt, &dx0.low);
    ops::cuda::linear_backward_input(dyg, wg, dx.view, accumulate);
    const std::string w_what = what + " dx" + (accumulate ? " (+=)" : "");
    dx.expect_guards_intact(w_what);
    expect_within(dx.view, {accumulate ? plus(dx0.f64.to_f64_vector(), c_dx) : c_dx, c_dx, a_dx},
                  pr.u, pr, w_what);
  }

  Tensor dw_c = Tensor::zeros({out, in}, DType::F64), dw_a = Tensor::zeros({out, in}, DType::F64);
  Tensor db_c = Tensor::zeros({out}, DType::F64), db_a = Tensor::zeros({out}, DType::F64);
  ops::cpu::linear_backward_params(x.f64, dy.f64, dw_c, &db_c);
  ops::cpu::linear_backward_params(abs_of(x.f64), abs_of(dy.f64), dw_a, &db_a);
  const std::vector<double> c_dw = dw_c.to_f64_vector(), a_dw = dw_a.to_f64_vector();
  const std::vector<double> c_db = db_c.to_f64_vector(), a_db = db_a.to_f64_vector();
  for (DType gt : {dt, DType::F32}) {
    const Input dw0 = random_input({out, in}, seed + 5, gt), db0 = random_input({out}, seed + 6, gt);
    Guarded dw({out, in}, gt, &dw0.low), db({out}, gt, &db0.low);
    ops::cuda::linear_backward_params(xg, dyg, dw.view, bias ? &db.view : nullptr);
    const std::string w_what = what + " d" + dtype_name(gt);
    dw.expect_guards_intact(w_what + " dweight");
    db.expect_guards_intact(w_what + " dbias");
    const double u_out = gt == DType::F32 ? kF32Roundoff : pr.u;
    expect_within(dw.view, {plus(dw0.f64.to_f64_vector(), c_dw), c_dw, a_dw}, u_out, pr,
                  w_what + " dweight");
    if (bias)
      expect_within(db.view, {plus(db0.f64.to_f64_vector(), c_db), c_db, a_db}, u_out, pr,
                    w_what + " dbias");
  }
}

const std::vector<std::array<int64_t, 3>> kLinearShapes = {
    {1, 1, 1}, {7, 33, 5}, {64, 512, 1000}, {256, 512, 10}};

TEST_F(LowpConvLinear, Bf16LinearMatchesCpu) {
  uint64_t seed = 5000;
  for (const auto& s : kLinearShapes)
    for (bool bias : {false, true}) check_linear(s[0], s[1], s[2], bias, kBf16, seed += 10);
}

TEST_F(LowpConvLinear, F16LinearMatchesCpu) {
  uint64_t seed = 6000;
  for (const auto& s : kLinearShapes)
    for (bool bias : {false, true}) check_linear(s[0], s[1], s[2], bias, kF16, seed += 10);
}

// The low-precision path must leave the f32 path as it was: an f32 GEMM right after a bf16 one
// (which switched the cuBLAS math mode) still matches the CPU to fp32 accuracy.
TEST_F(LowpConvLinear, F32LinearAfterBf16StaysExact) {
  check_linear(64, 512, 100, true, kBf16, 7000);
  const Tensor x = rand_cpu({64, 512}, 7100), w = rand_cpu({100, 512}, 7101, -0.2, 0.2);
  Tensor y_cpu = Tensor::empty({64, 100});
  ops::cpu::linear_forward(x, w, nullptr, y_cpu);
  Tensor y = Tensor::empty({64, 100}, DType::F32, gpu());
  ops::cuda::linear_forward(to_gpu(x), to_gpu(w), nullptr, y);
  expect_close(y, y_cpu, 1e-4, 1e-5 * std::sqrt(512.0), "f32 linear after a bf16 one");
}

// ---------------------------------------------------------------------------------------------
// Dtype errors: checked before the device is touched, so these run without a GPU too.

void expect_error(const std::function<void()>& call, const std::vector<std::string>& parts) {
  try {
    call();
    ADD_FAILURE() << "no error; expected one mentioning " << parts[0];
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& part : parts)
      EXPECT_NE(msg.find(part), std::string::npos) << "message \"" << msg << "\" lacks \"" << part << "\"";
  }
}

TEST(LowpConvLinearErrors, MixedDtypesNameTheOpAndArgument) {
  ops::Conv2dParams p;
  p.kernel_h = p.kernel_w = 3;
  p.pad_h = p.pad_w = 1;
  ops::Conv2dWorkspace ws;
  const auto t = [](const Shape& s, DType dt) { return Tensor::empty(s, dt); };
  const Shape xs{1, 2, 4, 4}, wsh{3, 2, 3, 3}, ys{1, 3, 4, 4};
  expect_error([&] {
    Tensor y = t(ys, DType::BF16);
    ops::cuda::conv2d_forward(t(xs, DType::BF16), t(wsh, DType::F32), nullptr, y, p, ws);
  }, {"conv2d_forward", "weight is f32 but x is bf16"});
  expect_error([&] {
    Tensor y = t(ys, DType::F32);
    const Tensor b = t({3}, DType::BF16);
    ops::cuda::conv2d_forward(t(xs, DType::F32), t(wsh, DType::F32), &b, y, p, ws);
  }, {"conv2d_forward", "bias is bf16 but x is f32", "bias must be f32"});
  expect_error([&] {
    Tensor dx = t(xs, DType::F16);
    ops::cuda::conv2d_backward_input(t(ys, DType::BF16), t(wsh, DType::BF16), dx, false, p, ws);
  }, {"conv2d_backward_input", "dx is f16 but dy is bf16"});
  expect_error([&] {
    Tensor dw = t(wsh, DType::BF16);
    ops::cuda::conv2d_backward_params(t(xs, DType::F16), t(ys, DType::F16), dw, nullptr, p, ws);
  }, {"conv2d_backward_params", "dweight is bf16 but x is f16", "must be f32 or f16"});
  expect_error([&] {
    Tensor y = t(ys, DType::F64);
    ops::cuda::conv2d_forward(t(xs, DType::F64), t(wsh, DType::F64), nullptr, y, p, ws);
  }, {"conv2d_forward", "x is f64", "f32, bf16 or f16"});

  expect_error([&] {
    Tensor y = t({2, 3}, DType::F16);
    ops::cuda::linear_forward(t({2, 5}, DType::F16), t({3, 5}, DType::BF16), nullptr, y);
  }, {"linear_forward", "weight is bf16 but x is f16"});
  expect_error([&] {
    Tensor dx = t({2, 5}, DType::F32);
    ops::cuda::linear_backward_input(t({2, 3}, DType::BF16), t({3, 5}, DType::BF16), dx, true);
  }, {"linear_backward_input", "dx is f32 but dy is bf16"});
  expect_error([&] {
    Tensor dw = t({3, 5}, DType::F32), db = t({3}, DType::F16);
    ops::cuda::linear_backward_params(t({2, 5}, DType::BF16), t({2, 3}, DType::BF16), dw, &db);
  }, {"linear_backward_params", "dbias is f16 but x is bf16", "must be f32 or bf16"});
}

// The bound is not vacuous: on the CPU, a direct convolution (3x3, 64 channels: 576-term dot
// products) that accumulates in f32 and rounds once lies inside it, while the same with the
// running sum rounded to the 16-bit type after every addition does not.
std::vector<double> direct_conv3x3(const std::vector<double>& x, const std::vector<double>& w,
                                   int64_t n, int64_t c, int64_t hw, int64_t o,
                                   const std::function<float(float)>& round_out,
                                   const std::function<float(float)>& round_sum) {
  std::vector<double> y(static_cast<size_t>(n * o * hw * hw));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t k = 0; k < o; ++k)
      for (int64_t i = 0; i < hw; ++i)
        for (int64_t j = 0; j < hw; ++j) {
          float s = 0;
          for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t r = 0; r < 3; ++r)
              for (int64_t q = 0; q < 3; ++q) {
                const int64_t ii = i + r - 1, jj = j + q - 1;
                if (ii < 0 || jj < 0 || ii >= hw || jj >= hw) continue;
                const float prod = static_cast<float>(x[((b * c + ch) * hw + ii) * hw + jj] *
                                                      w[((k * c + ch) * 3 + r) * 3 + q]);
                s = round_sum(s + prod);
              }
          y[((b * o + k) * hw + i) * hw + j] = round_out(s);
        }
  return y;
}

TEST(LowpTolerance, SeparatesF32From16BitAccumulation) {
  const ConvCase c = kConvCases[2];  // 3x3, 64 -> 64 channels, 14x14, padding 1
  const ops::Conv2dParams p = params_of(c);
  const Shape xs{c.n, c.c, c.h, c.w}, ws{c.o, c.c, 3, 3};
  for (const Precision& pr : {kBf16, kF16}) {
    const auto to_low = [&](float v) {
      return pr.dt == DType::BF16 ? bf16_to_float(float_to_bf16(v)) : f16_to_float(float_to_f16(v));
    };
    const auto keep = [](float v) { return v; };
    const Input x = random_input(xs, 91, pr.dt), w = random_input(ws, 92, pr.dt, -0.5, 0.5);
    ops::Conv2dWorkspace cpu_ws;
    Tensor ref = Tensor::empty({c.n, c.o, c.h, c.w}, DType::F64), ref_abs = ref.clone();
    ops::cpu::conv2d_forward(x.f64, w.f64, nullptr, ref, p, cpu_ws);
    ops::cpu::conv2d_forward(abs_of(x.f64), abs_of(w.f64), nullptr, ref_abs, p, cpu_ws);
    const Reference r{ref.to_f64_vector(), ref.to_f64_vector(), ref_abs.to_f64_vector()};
    const std::vector<double> xv = x.f64.to_f64_vector(), wv = w.f64.to_f64_vector();
    const auto f32_acc = direct_conv3x3(xv, wv, c.n, c.c, c.h, c.o, to_low, keep);
    const auto low_acc = direct_conv3x3(xv, wv, c.n, c.c, c.h, c.o, to_low, to_low);
    std::string report;
    EXPECT_EQ(count_outside(f32_acc, r, pr.u, pr, &report), 0) << pr.name << report;
    const int64_t outside = count_outside(low_acc, r, pr.u, pr, nullptr);
    EXPECT_GT(outside, static_cast<int64_t>(r.ref.size() / 4))
        << pr.name << ": 16-bit accumulation should break the bound for most elements";
    std::cout << "[ bound    ] " << pr.name << " accumulation: " << outside << " of "
              << r.ref.size() << " elements outside\n";
  }
}

}  // namespace
}  // namespace te::cuda_test
