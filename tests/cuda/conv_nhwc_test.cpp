// Channels-last (NHWC) convolutions on CUDA: forward (with and without bias), backward input
// (overwrite and accumulate) and backward params (dweight, dbias) in f32, bf16 and f16 against
// the CPU's NCHW reference. Inputs are made in NCHW on the CPU and permuted to NHWC for the GPU
// (nhwc_test_util.h); NHWC results are permuted back. The weight and its gradient stay KCRS in
// both layouts. Tolerances: f32 as spatial_ops_test.cpp, bf16/f16 as lowp_conv_linear_test.cpp
// (conv_tolerance.h).
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda/conv_tolerance.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/cuda/nhwc_test_util.h"

namespace te::cuda_test {
namespace {

class ConvNhwc : public CudaTest {};

struct ConvCase {
  int64_t n, c, h, w, o, k, stride, pad, dilation, groups;
  bool bias;
  const char* label;
};

const std::vector<ConvCase> kCases = {
    {2, 3, 32, 32, 16, 7, 2, 3, 1, 1, true, "7x7 stride 2 stem, C = 3"},
    {2, 32, 9, 9, 64, 1, 2, 0, 1, 1, false, "1x1 stride 2 (downsample)"},
    {2, 64, 14, 14, 64, 3, 1, 1, 1, 1, true, "3x3"},
    {3, 16, 15, 15, 32, 3, 2, 1, 1, 1, false, "3x3 stride 2"},
    {1, 3, 7, 5, 4, 3, 1, 1, 1, 1, true, "odd sizes, bias"},
    {2, 8, 10, 10, 12, 3, 1, 1, 1, 4, true, "groups 4, bias"},
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

struct Shapes {
  Shape x, w, y;
};
Shapes shapes_of(const ConvCase& c) {
  const int64_t oh = ops::conv_output_size(c.h, c.k, c.stride, c.pad, c.dilation);
  const int64_t ow = ops::conv_output_size(c.w, c.k, c.stride, c.pad, c.dilation);
  return {Shape{c.n, c.c, c.h, c.w}, Shape{c.o, c.c / c.groups, c.k, c.k},
          Shape{c.n, c.o, oh, ow}};
}

// An NCHW CPU tensor on the GPU in NHWC memory.
Tensor nhwc_gpu(const Tensor& nchw_cpu) { return to_gpu(to_nhwc(nchw_cpu)); }
// A GPU tensor in NHWC memory back on the CPU in NCHW memory.
Tensor nchw_cpu(const Tensor& nhwc_gpu) { return from_nhwc(nhwc_gpu.to(Device::cpu())); }

// ---------------------------------------------------------------------------------------------
// f32: the tolerances of spatial_ops_test.cpp (rtol 1e-3, atol 2e-4, atol scaled by
// sqrt(N*OH*OW) for the parameter gradients).

void check_f32(const ConvCase& c, uint64_t seed) {
  const double rtol = 1e-3, atol = 2e-4;
  const ops::Conv2dParams p = params_of(c);
  const Shapes s = shapes_of(c);
  const std::string what = std::string("f32 NHWC conv ") + c.label;
  const Tensor x = rand_cpu(s.x, seed), w = rand_cpu(s.w, seed + 1, -0.5, 0.5);
  const Tensor b = rand_cpu({c.o}, seed + 2), dy = rand_cpu(s.y, seed + 3);
  const Tensor xg = nhwc_gpu(x), wg = to_gpu(w), bg = to_gpu(b), dyg = nhwc_gpu(dy);
  ops::Conv2dWorkspace cpu_ws, gpu_ws;

  Tensor y_cpu = Tensor::empty(s.y);
  ops::cpu::conv2d_forward(x, w, c.bias ? &b : nullptr, y_cpu, p, cpu_ws);
  Guarded y(s.y, DType::F32);
  ops::conv2d_forward(xg, wg, c.bias ? &bg : nullptr, y.view, p, gpu_ws, Layout::NHWC);
  y.expect_guards_intact(what + " forward");
  expect_close(nchw_cpu(y.view), y_cpu, rtol, atol, what + " forward");

  for (bool accumulate : {false, true}) {
    const Tensor dx0 = rand_cpu(s.x, seed + 4);
    Tensor dx_cpu = dx0.clone();
    ops::cpu::conv2d_backward_input(dy, w, dx_cpu, accumulate, p, cpu_ws);
    const Tensor dx0_nhwc = to_nhwc(dx0);
    Guarded dx(s.x, DType::F32, &dx0_nhwc);
    ops::conv2d_backward_input(dyg, wg, dx.view, accumulate, p, gpu_ws, Layout::NHWC);
    const std::string w_what = what + " backward input" + (accumulate ? " (+=)" : "");
    dx.expect_guards_intact(w_what);
    expect_close(nchw_cpu(dx.view), dx_cpu, rtol, atol, w_what);
  }

  const Tensor dw0 = rand_cpu(s.w, seed + 5), db0 = rand_cpu({c.o}, seed + 6);
  Tensor dw_cpu = dw0.clone(), db_cpu = db0.clone();
  ops::cpu::conv2d_backward_params(x, dy, dw_cpu, c.bias ? &db_cpu : nullptr, p, cpu_ws);
  Guarded dw(s.w, DType::F32, &dw0), db({c.o}, DType::F32, &db0);
  ops::conv2d_backward_params(xg, dyg, dw.view, c.bias ? &db.view : nullptr, p, gpu_ws,
                              Layout::NHWC);
  dw.expect_guards_intact(what + " dweight");
  db.expect_guards_intact(what + " dbias");
  const double scale = std::sqrt(static_cast<double>(s.y[0] * s.y[2] * s.y[3]));
  expect_close(dw.view, dw_cpu, rtol, atol * scale, what + " dweight (KCRS)");
  if (c.bias) expect_close(db.view, db_cpu, rtol, atol * scale, what + " dbias");
}

TEST_F(ConvNhwc, F32MatchesCpuNchw) {
  uint64_t seed = 9100;
  for (const ConvCase& c : kCases) check_f32(c, seed += 10);
}

// ---------------------------------------------------------------------------------------------
// bf16/f16: expect_within against the f64 CPU reference on the same rounded inputs.

void check_lowp(const ConvCase& c, const Precision& pr, uint64_t seed) {
  const DType dt = pr.dt;
  const ops::Conv2dParams p = params_of(c);
  const Shapes s = shapes_of(c);
  const std::string what = std::string(pr.name) + " NHWC conv " + c.label;
  const Input x = random_input(s.x, seed, dt), w = random_input(s.w, seed + 1, dt, -0.5, 0.5);
  const Input dy = random_input(s.y, seed + 3, dt);
  const Tensor xg = nhwc_gpu(x.low), wg = to_gpu(w.low), dyg = nhwc_gpu(dy.low);
  ops::Conv2dWorkspace cpu_ws, gpu_ws;

  // forward: without bias, and (bias cases) with an f32 and a 16-bit bias
  Tensor conv = Tensor::empty(s.y, DType::F64), conv_abs = Tensor::empty(s.y, DType::F64);
  ops::cpu::conv2d_forward(x.f64, w.f64, nullptr, conv, p, cpu_ws);
  ops::cpu::conv2d_forward(abs_of(x.f64), abs_of(w.f64), nullptr, conv_abs, p, cpu_ws);
  const std::vector<double> c_fwd = conv.to_f64_vector(), a_fwd = conv_abs.to_f64_vector();
  std::vector<DType> bias_types = {DType::F32};
  if (c.bias) bias_types.push_back(dt);
  const int64_t plane = s.y[2] * s.y[3];
  for (DType bt : bias_types) {
    const Input b = random_input({c.o}, seed + 2, bt);
    Tensor ref = conv.clone();
    if (c.bias) {
      double* r = ref.data<double>();
      const std::vector<double> bv = b.f64.to_f64_vector();
      for (int64_t i = 0; i < ref.numel(); ++i) r[i] += bv[(i / plane) % c.o];
    }
    Guarded y(s.y, dt);
    const Tensor bg = to_gpu(b.low);
    ops::conv2d_forward(xg, wg, c.bias ? &bg : nullptr, y.view, p, gpu_ws, Layout::NHWC);
    const std::string w_what =
        what + " forward" + (c.bias ? std::string(" bias ") + dtype_name(bt) : "");
    y.expect_guards_intact(w_what);
    expect_within(nchw_cpu(y.view), {ref.to_f64_vector(), c_fwd, a_fwd}, pr.u, pr, w_what);
  }

  // backward input, overwrite and accumulate
  Tensor dx_c = Tensor::zeros(s.x, DType::F64), dx_a = Tensor::zeros(s.x, DType::F64);
  ops::cpu::conv2d_backward_input(dy.f64, w.f64, dx_c, false, p, cpu_ws);
  ops::cpu::conv2d_backward_input(abs_of(dy.f64), abs_of(w.f64), dx_a, false, p, cpu_ws);
  const std::vector<double> c_dx = dx_c.to_f64_vector(), a_dx = dx_a.to_f64_vector();
  for (bool accumulate : {false, true}) {
    const Input dx0 = random_input(s.x, seed + 4, dt);
    const Tensor dx0_nhwc = to_nhwc(dx0.low);
    Guarded dx(s.x, dt, &dx0_nhwc);
    ops::conv2d_backward_input(dyg, wg, dx.view, accumulate, p, gpu_ws, Layout::NHWC);
    const std::string w_what = what + " backward input" + (accumulate ? " (+=)" : "");
    dx.expect_guards_intact(w_what);
    expect_within(nchw_cpu(dx.view),
                  {accumulate ? plus(dx0.f64.to_f64_vector(), c_dx) : c_dx, c_dx, a_dx}, pr.u,
                  pr, w_what);
  }

  // backward params (always +=) into a 16-bit and an f32 dweight (KCRS) and dbias
  Tensor dw_c = Tensor::zeros(s.w, DType::F64), dw_a = Tensor::zeros(s.w, DType::F64);
  Tensor db_c = Tensor::zeros({c.o}, DType::F64), db_a = Tensor::zeros({c.o}, DType::F64);
  ops::cpu::conv2d_backward_params(x.f64, dy.f64, dw_c, &db_c, p, cpu_ws);
  ops::cpu::conv2d_backward_params(abs_of(x.f64), abs_of(dy.f64), dw_a, &db_a, p, cpu_ws);
  const std::vector<double> c_dw = dw_c.to_f64_vector(), a_dw = dw_a.to_f64_vector();
  const std::vector<double> c_db = db_c.to_f64_vector(), a_db = db_a.to_f64_vector();
  for (DType gt : {dt, DType::F32}) {
    const Input dw0 = random_input(s.w, seed + 5, gt), db0 = random_input({c.o}, seed + 6, gt);
    Guarded dw(s.w, gt, &dw0.low), db({c.o}, gt, &db0.low);
    ops::conv2d_backward_params(xg, dyg, dw.view, c.bias ? &db.view : nullptr, p, gpu_ws,
                                Layout::NHWC);
    const std::string w_what = what + " d" + dtype_name(gt);
    dw.expect_guards_intact(w_what + " dweight");
    db.expect_guards_intact(w_what + " dbias");
    const double u_out = gt == DType::F32 ? kF32Roundoff : pr.u;
    expect_within(dw.view, {plus(dw0.f64.to_f64_vector(), c_dw), c_dw, a_dw}, u_out, pr,
                  w_what + " dweight (KCRS)");
    if (c.bias)
      expect_within(db.view, {plus(db0.f64.to_f64_vector(), c_db), c_db, a_db}, u_out, pr,
                    w_what + " dbias");
  }
}

TEST_F(ConvNhwc, Bf16MatchesCpuNchw) {
  uint64_t seed = 9300;
  for (const ConvCase& c : kCases) check_lowp(c, kBf16, seed += 10);
}

TEST_F(ConvNhwc, F16MatchesCpuNchw) {
  uint64_t seed = 9500;
  for (const ConvCase& c : kCases) check_lowp(c, kF16, seed += 10);
}

// NCHW after NHWC on the same shape: the plan cache keys on the layout, so the NCHW call must
// not pick up the NHWC plan (it would read x in the wrong order).
TEST_F(ConvNhwc, NchwAfterNhwcSameShapeUsesItsOwnPlan) {
  const ConvCase& c = kCases[2];
  const ops::Conv2dParams p = params_of(c);
  const Shapes s = shapes_of(c);
  const Tensor x = rand_cpu(s.x, 9700), w = rand_cpu(s.w, 9701, -0.5, 0.5);
  ops::Conv2dWorkspace cpu_ws, gpu_ws;
  Tensor y_cpu = Tensor::empty(s.y);
  ops::cpu::conv2d_forward(x, w, nullptr, y_cpu, p, cpu_ws);
  Tensor y_nhwc = Tensor::empty(s.y, DType::F32, gpu());
  Tensor y_nchw = Tensor::empty(s.y, DType::F32, gpu());
  ops::conv2d_forward(nhwc_gpu(x), to_gpu(w), nullptr, y_nhwc, p, gpu_ws, Layout::NHWC);
  ops::conv2d_forward(to_gpu(x), to_gpu(w), nullptr, y_nchw, p, gpu_ws);
  expect_close(nchw_cpu(y_nhwc), y_cpu, 1e-3, 2e-4, "NHWC forward");
  expect_close(y_nchw, y_cpu, 1e-3, 2e-4, "NCHW forward after NHWC");
}

}  // namespace

// Runs without a GPU: the CPU backend refuses channels-last with a DeviceError naming the op.
TEST(ConvNhwcCpu, CpuThrowsForNhwc) {
  const ops::Conv2dParams p = [] {
    ops::Conv2dParams q;
    q.kernel_h = q.kernel_w = 3;
    q.pad_h = q.pad_w = 1;
    return q;
  }();
  const Tensor x = rand_cpu({1, 2, 4, 4}, 9900), w = rand_cpu({3, 2, 3, 3}, 9901);
  const Tensor dy = rand_cpu({1, 3, 4, 4}, 9902);
  Tensor y = Tensor::empty({1, 3, 4, 4}), dx = Tensor::empty({1, 2, 4, 4});
  Tensor dw = Tensor::zeros({3, 2, 3, 3});
  ops::Conv2dWorkspace ws;
  auto expect_refused = [](const std::function<void()>& call, const std::string& op) {
    try {
      call();
      ADD_FAILURE() << op << ": no exception for NHWC on the CPU";
    } catch (const DeviceError& e) {
      EXPECT_NE(std::string(e.what()).find(op), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("NHWC"), std::string::npos) << e.what();
    }
  };
  expect_refused([&] { ops::conv2d_forward(x, w, nullptr, y, p, ws, Layout::NHWC); },
                 "conv2d_forward");
  expect_refused([&] { ops::conv2d_backward_input(dy, w, dx, false, p, ws, Layout::NHWC); },
                 "conv2d_backward_input");
  expect_refused([&] { ops::conv2d_backward_params(x, dy, dw, nullptr, p, ws, Layout::NHWC); },
                 "conv2d_backward_params");
  // NCHW still runs there (the default argument).
  ops::conv2d_forward(x, w, nullptr, y, p, ws);
  EXPECT_TRUE(std::isfinite(y.to_f64_vector()[0]));
}

}  // namespace te::cuda_test
