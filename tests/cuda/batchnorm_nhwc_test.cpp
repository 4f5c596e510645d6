// Channels-last (Layout::NHWC) batch norm (kernels/batchnorm.h) and fused batch norm +
// residual + activation (kernels/batchnorm_act.h) on CUDA, against the CPU's NCHW reference:
// inputs are made in NCHW, permuted to NHWC for the GPU (tests/cuda/nhwc_test_util.h), and the
// GPU's NHWC outputs permuted back. f32, bf16 and f16 activations; training and eval, forward
// and backward, with and without residual, ReLU and none, affine or not, overwriting and
// accumulating gradients, and with some gradients not wanted. Shapes cover C below, at and
// above the 32-channel tile of the NHWC reduction, a partial tile, rank 2 and enough rows for
// many splits. Tolerances: the NCHW tests' (batchnorm_ops_test.cpp, batchnorm_act_ops_test.cpp
// for f32; lowp_batchnorm_test.cpp for bf16/f16). The CPU tests at the top run without a GPU.
#include <string>
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/batchnorm_act.h"
#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda/lowp_test_util.h"
#include "tests/cuda/nhwc_test_util.h"

namespace te::cuda_test {
namespace {

using ops::BatchNormActivation;

// ---- without a GPU ----

TEST(NhwcTestUtil, PermutesAndRoundTrips) {
  const Tensor x = rand_cpu({2, 3, 4, 5}, 11);
  const Tensor h = to_nhwc(x);
  ASSERT_EQ(h.shape().str(), x.shape().str());
  const float* a = x.data<float>();
  const float* b = h.data<float>();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t s = 0; s < 20; ++s)
        ASSERT_EQ(b[(n * 20 + s) * 3 + c], a[(n * 3 + c) * 20 + s]) << n << " " << c << " " << s;
  const Tensor back = from_nhwc(h);
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(back.data<float>()[i], a[i]);
  // 16-bit storage moves as bytes.
  const Tensor lo = rounded_to(x, DType::BF16);
  EXPECT_EQ(values_of(from_nhwc(to_nhwc(lo))), values_of(lo));
}

TEST(BatchNormNhwcCpu, ThrowsForChannelsLast) {
  const Shape xs{2, 3, 4, 4};
  const Tensor x = rand_cpu(xs, 21), dy = rand_cpu(xs, 22), r = rand_cpu(xs, 23);
  Tensor y = Tensor::empty(xs), dx = Tensor::empty(xs), dr = Tensor::empty(xs);
  Tensor rm = rand_cpu({3}, 24), rv = rand_cpu({3}, 25, 0.5, 2), sm = Tensor::empty({3});
  Tensor si = Tensor::empty({3}), dw = Tensor::zeros({3}), db = Tensor::zeros({3});
  const Layout L = Layout::NHWC;
  const auto relu = BatchNormActivation::ReLU;
  EXPECT_THROW(ops::batchnorm_forward_train(x, nullptr, nullptr, rm, rv, nullptr, sm, si, 1e-5,
                                            0.1, y, L),
               DeviceError);
  EXPECT_THROW(ops::batchnorm_forward_eval(x, nullptr, nullptr, rm, rv, 1e-5, y, L), DeviceError);
  EXPECT_THROW(ops::batchnorm_backward_train(x, dy, nullptr, rm, rv, &dx, false, &dw, &db, L),
               DeviceError);
  EXPECT_THROW(ops::batchnorm_backward_eval(x, dy, nullptr, rm, rv, 1e-5, &dx, false, &dw, &db, L),
               DeviceError);
  EXPECT_THROW(ops::batchnorm_act_forward_train(x, &r, nullptr, nullptr, rm, rv, nullptr, sm, si,
                                                1e-5, 0.1, relu, y, L),
               DeviceError);
  EXPECT_THROW(ops::batchnorm_act_forward_eval(x, &r, nullptr, nullptr, rm, rv, 1e-5, relu, y, L),
               DeviceError);
  EXPECT_THROW(ops::batchnorm_act_backward_train(x, x, dy, nullptr, rm, rv, relu, &dx, false, &dr,
                                                 false, &dw, &db, L),
               DeviceError);
  EXPECT_THROW(ops::batchnorm_act_backward_eval(x, x, dy, nullptr, rm, rv, 1e-5, relu, &dx, false,
                                                &dr, false, &dw, &db, L),
               DeviceError);
  // Nothing was touched: the checks run first (dweight still zero). NCHW still works.
  EXPECT_EQ(dw.to_f64_vector(), std::vector<double>(3, 0.0));
  EXPECT_NO_THROW(ops::batchnorm_forward_eval(x, nullptr, nullptr, rm, rv, 1e-5, y));
}

// ---- CUDA ----

class BatchNormNhwc : public CudaTest {};

// An activation dtype: f32, or a 16-bit type with its rounding bound (lowp_test_util.h).
struct Prec {
  DType dt;
  const Precision* lowp;  // null for f32
  const char* name;
};
const std::vector<Prec> kPrecs = {{DType::F32, nullptr, "f32"},
                                  {DType::BF16, &kBf16, "bf16"},
                                  {DType::F16, &kF16, "f16"}};

// A tolerance: rtol/atol for f32 (the f32 NCHW tests'), slack for bf16/f16 (the lowp tests').
struct Tol {
  double rtol, atol;
  F32Slack lowp;
};
const Tol kTrainY{1e-4, 1e-5, {1e-4, 1e-5, 0}};
const Tol kEvalY{1e-5, 1e-6, {1e-5, 1e-6, 0}};
const Tol kDx{1e-3, 1e-5, {0, 1e-5, 0x1p-14}};
const Tol kAdd{1e-6, 1e-7, {1e-6, 1e-7, 0}};  // dresidual += dz

const std::vector<Shape> kShapes = {{1, 3, 5, 7},  {2, 16, 9, 9}, {8, 64, 14, 14}, {3, 40, 6, 6},
                                    {16, 8, 32, 32}, {5, 7},       {1, 4, 1, 2}};

// A random input in the call's dtype (host, NCHW) and its exact f32 values (ref).
LowpInput make_input(const Shape& shape, uint64_t seed, const Prec& p, double lo = -1.0,
                     double hi = 1.0) {
  if (p.lowp) return lowp_input(shape, seed, *p.lowp, lo, hi);
  LowpInput in;
  in.host = rand_cpu(shape, seed, lo, hi);
  in.ref = in.host;
  return in;
}

// The NCHW host tensor as an NHWC device tensor.
Tensor nhwc_gpu(const Tensor& nchw_host) { return to_gpu(to_nhwc(nchw_host)); }

// A guarded NHWC device output, starting at `init` (NCHW host) when given.
Guarded nhwc_out(const Shape& xs, DType dt, const Tensor* init = nullptr) {
  if (!init) return Guarded(xs, dt);
  const Tensor h = to_nhwc(*init);
  return Guarded(xs, dt, &h);
}

// The GPU's NHWC result, permuted back, against the NCHW f32 reference.
void expect_nhwc_close(const Tensor& gpu_nhwc, const Tensor& ref, const Prec& p, const Tol& t,
                       const std::string& what) {
  const Tensor back = from_nhwc(gpu_nhwc.to(Device::cpu()));
  if (p.lowp)
    expect_rounded_once(back, ref, *p.lowp, t.lowp, what);
  else
    expect_close(back, ref, t.rtol, t.atol, what);
}
void expect_nhwc_equal(const Tensor& gpu_nhwc, const Tensor& ref, const std::string& what) {
  expect_equal(from_nhwc(gpu_nhwc.to(Device::cpu())), ref, what);
}

std::string describe(const char* kind, const Shape& xs, const Prec& p, bool affine) {
  return std::string(kind) + " NHWC " + xs.str() + " " + p.name + (affine ? "" : " no affine");
}

TEST_F(BatchNormNhwc, TrainingForwardAndBackwardMatchCpu) {
  uint64_t seed = 1;
  for (const Prec& p : kPrecs)
    for (const Shape& xs : kShapes)
      for (bool affine : {true, false}) {
        const int64_t c = xs[1];
        const std::string what = describe("batchnorm", xs, p, affine);
        const LowpInput x = make_input(xs, seed++, p, -2, 3);
        const Tensor w = rand_cpu({c}, seed++, 0.5, 1.5), b = rand_cpu({c}, seed++);
        const Tensor rm0 = rand_cpu({c}, seed++), rv0 = rand_cpu({c}, seed++, 0.5, 2);
        const Tensor wg = to_gpu(w), bg = to_gpu(b), xg = nhwc_gpu(x.host);
        Tensor rm_cpu = rm0.clone(), rv_cpu = rv0.clone();
        Tensor nbt_cpu = Tensor::from_vector({}, {3}, DType::I64);
        Tensor sm_cpu = Tensor::empty({c}), si_cpu = Tensor::empty({c}), y_cpu = Tensor::empty(xs);
        ops::cpu::batchnorm_forward_train(x.ref, affine ? &w : nullptr, affine ? &b : nullptr,
                                          rm_cpu, rv_cpu, &nbt_cpu, sm_cpu, si_cpu, 1e-5, 0.1,
                                          y_cpu);
        Guarded y = nhwc_out(xs, p.dt), rm({c}, DType::F32, &rm0), rv({c}, DType::F32, &rv0);
        Guarded sm({c}, DType::F32), si({c}, DType::F32);
        Tensor nbt = to_gpu(Tensor::from_vector({}, {3}, DType::I64));
        ops::batchnorm_forward_train(xg, affine ? &wg : nullptr, affine ? &bg : nullptr, rm.view,
                                     rv.view, &nbt, sm.view, si.view, 1e-5, 0.1, y.view,
                                     Layout::NHWC);
        for (auto* g : {&y, &rm, &rv, &sm, &si}) g->expect_guards_intact(what);
        expect_nhwc_close(y.view, y_cpu, p, kTrainY, what + " y");
        expect_close(rm.view, rm_cpu, 1e-5, 1e-6, what + " running_mean");
        expect_close(rv.view, rv_cpu, 1e-5, 1e-6, what + " running_var");
        expect_close(sm.view, sm_cpu, 1e-5, 1e-6, what + " save_mean");
        expect_close(si.view, si_cpu, 1e-4, 1e-6, what + " save_invstd");
        expect_equal(nbt, nbt_cpu, what + " num_batches_tracked");

        const LowpInput dy = make_input(xs, seed++, p);
        const Tensor dyg = nhwc_gpu(dy.host), smg = to_gpu(sm_cpu), sig = to_gpu(si_cpu);
        // (dx wanted, accumulate): overwrite, accumulate, parameters only.
        for (auto [want_dx, accumulate] :
             {std::pair{true, false}, std::pair{true, true}, std::pair{false, false}}) {
          const std::string step = what + (want_dx ? "" : " no dx") + (accumulate ? " acc" : "");
          const LowpInput dx0 = make_input(xs, seed++, p);
          const Tensor dw0 = rand_cpu({c}, seed++), db0 = rand_cpu({c}, seed++);
          Tensor dx_cpu = dx0.ref.clone(), dw_cpu = dw0.clone(), db_cpu = db0.clone();
          ops::cpu::batchnorm_backward_train(x.ref, dy.ref, affine ? &w : nullptr, sm_cpu, si_cpu,
                                             want_dx ? &dx_cpu : nullptr, accumulate,
                                             affine ? &dw_cpu : nullptr,
                                             affine ? &db_cpu : nullptr);
          Guarded dx = nhwc_out(xs, p.dt, &dx0.host);
          Guarded dw({c}, DType::F32, &dw0), db({c}, DType::F32, &db0);
          ops::cuda::batchnorm_backward_train(xg, dyg, affine ? &wg : nullptr, smg, sig,
                                              want_dx ? &dx.view : nullptr, accumulate,
                                              affine ? &dw.view : nullptr,
                                              affine ? &db.view : nullptr, Layout::NHWC);
          for (auto* g : {&dx, &dw, &db}) g->expect_guards_intact(step + " backward");
          if (want_dx)
            expect_nhwc_close(dx.view, dx_cpu, p, kDx, step + " dx");
          else
            expect_nhwc_equal(dx.view, dx0.ref, step + " dx (not wanted: untouched)");
          expect_close(dw.view, affine ? dw_cpu : dw0, 1e-4, 1e-4, step + " dweight");
          expect_close(db.view, affine ? db_cpu : db0, 1e-4, 1e-4, step + " dbias");
        }
      }
}

TEST_F(BatchNormNhwc, EvalForwardAndBackwardMatchCpu) {
  uint64_t seed = 1000;
  for (const Prec& p : kPrecs)
    for (const Shape& xs : kShapes)
      for (bool affine : {true, false}) {
        const int64_t c = xs[1];
        const std::string what = describe("batchnorm eval", xs, p, affine);
        const LowpInput x = make_input(xs, seed++, p, -2, 3);
        const Tensor w = rand_cpu({c}, seed++, 0.5, 1.5), b = rand_cpu({c}, seed++);
        const Tensor rm = rand_cpu({c}, seed++), rv = rand_cpu({c}, seed++, 0.5, 2);
        const Tensor wg = to_gpu(w), bg = to_gpu(b), rmg = to_gpu(rm), rvg = to_gpu(rv);
        const Tensor xg = nhwc_gpu(x.host);
        Tensor y_cpu = Tensor::empty(xs);
        ops::cpu::batchnorm_forward_eval(x.ref, affine ? &w : nullptr, affine ? &b : nullptr, rm,
                                         rv, 1e-5, y_cpu);
        Guarded y = nhwc_out(xs, p.dt);
        ops::cuda::batchnorm_forward_eval(xg, affine ? &wg : nullptr, affine ? &bg : nullptr, rmg,
                                          rvg, 1e-5, y.view, Layout::NHWC);
        y.expect_guards_intact(what);
        expect_nhwc_close(y.view, y_cpu, p, kEvalY, what + " y");

        for (bool accumulate : {false, true}) {
          const std::string step = what + (accumulate ? " acc" : "");
          const LowpInput dy = make_input(xs, seed++, p), dx0 = make_input(xs, seed++, p);
          const Tensor dw0 = rand_cpu({c}, seed++), db0 = rand_cpu({c}, seed++);
          Tensor dx_cpu = dx0.ref.clone(), dw_cpu = dw0.clone(), db_cpu = db0.clone();
          ops::cpu::batchnorm_backward_eval(x.ref, dy.ref, affine ? &w : nullptr, rm, rv, 1e-5,
                                            &dx_cpu, accumulate, &dw_cpu, &db_cpu);
          Guarded dx = nhwc_out(xs, p.dt, &dx0.host);
          Guarded dw({c}, DType::F32, &dw0), db({c}, DType::F32, &db0);
          ops::batchnorm_backward_eval(xg, nhwc_gpu(dy.host), affine ? &wg : nullptr, rmg, rvg,
                                       1e-5, &dx.view, accumulate, &dw.view, &db.view,
                                       Layout::NHWC);
          for (auto* g : {&dx, &dw, &db}) g->expect_guards_intact(step + " backward");
          expect_nhwc_close(dx.view, dx_cpu, p, kDx, step + " dx");
          expect_close(dw.view, dw_cpu, 1e-4, 1e-4, step + " dweight");
          expect_close(db.view, db_cpu, 1e-4, 1e-4, step + " dbias");
        }
      }
}

// What a fused backward is asked for: dx wanted or not, and which gradients accumulate.
struct GradModes {
  bool want_dx, acc_dx, acc_dr;
};
const GradModes kModes[] = {{true, false, false}, {true, true, true}, {true, true, false},
                            {false, false, true}};

// One fused backward (train: stat_a/b = save_mean/invstd; eval: running mean/var), CPU NCHW
// against GPU NHWC. y_host is the forward's output in the call's dtype: both sides see it.
void check_fused_backward(const Prec& p, bool train, const Shape& xs, const LowpInput& x,
                          const Tensor& y_host, const Tensor* w, const Tensor& stat_a,
                          const Tensor& stat_b, bool residual, BatchNormActivation act,
                          const GradModes& m, uint64_t& seed, const std::string& what) {
  const int64_t c = xs[1];
  const Tensor y_ref = rounded_to(y_host, DType::F32);
  const LowpInput dy = make_input(xs, seed++, p);
  const LowpInput dx0 = make_input(xs, seed++, p), dr0 = make_input(xs, seed++, p);
  const Tensor dw0 = rand_cpu({c}, seed++), db0 = rand_cpu({c}, seed++);
  Tensor dx_cpu = dx0.ref.clone(), dr_cpu = dr0.ref.clone(), dw_cpu = dw0.clone();
  Tensor db_cpu = db0.clone();
  Tensor* dxc = m.want_dx ? &dx_cpu : nullptr;
  Tensor* drc = residual ? &dr_cpu : nullptr;
  Tensor* dwc = w ? &dw_cpu : nullptr;
  Tensor* dbc = w ? &db_cpu : nullptr;
  if (train)
    ops::cpu::batchnorm_act_backward_train(x.ref, y_ref, dy.ref, w, stat_a, stat_b, act, dxc,
                                           m.acc_dx, drc, m.acc_dr, dwc, dbc);
  else
    ops::cpu::batchnorm_act_backward_eval(x.ref, y_ref, dy.ref, w, stat_a, stat_b, 1e-5, act, dxc,
                                          m.acc_dx, drc, m.acc_dr, dwc, dbc);

  Guarded dx = nhwc_out(xs, p.dt, &dx0.host), dr = nhwc_out(xs, p.dt, &dr0.host);
  Guarded dw({c}, DType::F32, &dw0), db({c}, DType::F32, &db0);
  const Tensor wg = w ? to_gpu(*w) : Tensor();
  const Tensor* wgp = w ? &wg : nullptr;
  Tensor* dxg = m.want_dx ? &dx.view : nullptr;
  Tensor* drg = residual ? &dr.view : nullptr;
  Tensor* dwg = w ? &dw.view : nullptr;
  Tensor* dbg = w ? &db.view : nullptr;
  if (train)
    ops::batchnorm_act_backward_train(nhwc_gpu(x.host), nhwc_gpu(y_host), nhwc_gpu(dy.host), wgp,
                                      to_gpu(stat_a), to_gpu(stat_b), act, dxg, m.acc_dx, drg,
                                      m.acc_dr, dwg, dbg, Layout::NHWC);
  else
    ops::cuda::batchnorm_act_backward_eval(nhwc_gpu(x.host), nhwc_gpu(y_host), nhwc_gpu(dy.host),
                                           wgp, to_gpu(stat_a), to_gpu(stat_b), 1e-5, act, dxg,
                                           m.acc_dx, drg, m.acc_dr, dwg, dbg, Layout::NHWC);
  for (auto* g : {&dx, &dr, &dw, &db}) g->expect_guards_intact(what + " backward");
  if (m.want_dx)
    expect_nhwc_close(dx.view, dx_cpu, p, kDx, what + " dx");
  else
    expect_nhwc_equal(dx.view, dx0.ref, what + " dx (not wanted: untouched)");
  if (!residual)
    expect_nhwc_equal(dr.view, dr0.ref, what + " dresidual (not wanted: untouched)");
  else if (m.acc_dr)
    expect_nhwc_close(dr.view, dr_cpu, p, kAdd, what + " dresidual");
  else  // dz = dy or 0: exact
    expect_nhwc_equal(dr.view, rounded_to(dr_cpu, DType::F32), what + " dresidual");
  expect_close(dw.view, w ? dw_cpu : dw0, 1e-4, 1e-4, what + " dweight");
  expect_close(db.view, w ? db_cpu : db0, 1e-4, 1e-4, what + " dbias");
}

std::string describe_fused(const char* kind, const Shape& xs, const Prec& p, bool residual,
                           BatchNormActivation act, bool affine) {
  return describe(kind, xs, p, affine) + (residual ? " residual" : "") +
         (act == BatchNormActivation::ReLU ? " relu" : " none");
}

TEST_F(BatchNormNhwc, FusedTrainingForwardAndBackwardMatchCpu) {
  uint64_t seed = 3000;
  for (const Prec& p : kPrecs)
    for (const Shape& xs : kShapes)
      for (bool residual : {true, false})
        for (BatchNormActivation act : {BatchNormActivation::ReLU, BatchNormActivation::None})
          for (bool affine : {true, false}) {
            const int64_t c = xs[1];
            const std::string what = describe_fused("batchnorm_act", xs, p, residual, act, affine);
            const LowpInput x = make_input(xs, seed++, p, -2, 3), r = make_input(xs, seed++, p);
            const Tensor w = rand_cpu({c}, seed++, 0.5, 1.5), b = rand_cpu({c}, seed++);
            const Tensor rm0 = rand_cpu({c}, seed++), rv0 = rand_cpu({c}, seed++, 0.5, 2);
            const Tensor wg = to_gpu(w), bg = to_gpu(b), rg = nhwc_gpu(r.host);
            Tensor rm_cpu = rm0.clone(), rv_cpu = rv0.clone();
            Tensor nbt_cpu = Tensor::from_vector({}, {3}, DType::I64);
            Tensor sm_cpu = Tensor::empty({c}), si_cpu = Tensor::empty({c});
            Tensor y_cpu = Tensor::empty(xs);
            ops::cpu::batchnorm_act_forward_train(
                x.ref, residual ? &r.ref : nullptr, affine ? &w : nullptr, affine ? &b : nullptr,
                rm_cpu, rv_cpu, &nbt_cpu, sm_cpu, si_cpu, 1e-5, 0.1, act, y_cpu);
            Guarded y = nhwc_out(xs, p.dt), rm({c}, DType::F32, &rm0), rv({c}, DType::F32, &rv0);
            Guarded sm({c}, DType::F32), si({c}, DType::F32);
            Tensor nbt = to_gpu(Tensor::from_vector({}, {3}, DType::I64));
            ops::cuda::batchnorm_act_forward_train(
                nhwc_gpu(x.host), residual ? &rg : nullptr, affine ? &wg : nullptr,
                affine ? &bg : nullptr, rm.view, rv.view, &nbt, sm.view, si.view, 1e-5, 0.1, act,
                y.view, Layout::NHWC);
            for (auto* g : {&y, &rm, &rv, &sm, &si}) g->expect_guards_intact(what);
            expect_nhwc_close(y.view, y_cpu, p, kTrainY, what + " y");
            expect_close(rm.view, rm_cpu, 1e-5, 1e-6, what + " running_mean");
            expect_close(rv.view, rv_cpu, 1e-5, 1e-6, what + " running_var");
            expect_close(sm.view, sm_cpu, 1e-5, 1e-6, what + " save_mean");
            expect_close(si.view, si_cpu, 1e-4, 1e-6, what + " save_invstd");
            expect_equal(nbt, nbt_cpu, what + " num_batches_tracked");

            const Tensor y_host = p.lowp ? rounded_to(y_cpu, p.dt) : y_cpu;
            for (const GradModes& m : kModes)
              check_fused_backward(p, true, xs, x, y_host, affine ? &w : nullptr, sm_cpu, si_cpu,
                                   residual, act, m, seed,
                                   what + (m.want_dx ? "" : " no dx") +
                                       (m.acc_dx ? " acc_dx" : "") + (m.acc_dr ? " acc_dr" : ""));
          }
}

TEST_F(BatchNormNhwc, FusedEvalForwardAndBackwardMatchCpu) {
  uint64_t seed = 9000;
  for (const Prec& p : kPrecs)
    for (const Shape& xs : kShapes)
      for (bool residual : {true, false})
        for (BatchNormActivation act : {BatchNormActivation::ReLU, BatchNormActivation::None}) {
          const int64_t c = xs[1];
          const std::string what = describe_fused("batchnorm_act eval", xs, p, residual, act, true);
          const LowpInput x = make_input(xs, seed++, p, -2, 3), r = make_input(xs, seed++, p);
          const Tensor w = rand_cpu({c}, seed++, 0.5, 1.5), b = rand_cpu({c}, seed++);
          const Tensor rm = rand_cpu({c}, seed++), rv = rand_cpu({c}, seed++, 0.5, 2);
          Tensor y_cpu = Tensor::empty(xs);
          ops::cpu::batchnorm_act_forward_eval(x.ref, residual ? &r.ref : nullptr, &w, &b, rm, rv,
                                               1e-5, act, y_cpu);
          const Tensor rg = nhwc_gpu(r.host), wg = to_gpu(w), bg = to_gpu(b);
          Guarded y = nhwc_out(xs, p.dt);
          ops::batchnorm_act_forward_eval(nhwc_gpu(x.host), residual ? &rg : nullptr, &wg, &bg,
                                          to_gpu(rm), to_gpu(rv), 1e-5, act, y.view,
                                          Layout::NHWC);
          y.expect_guards_intact(what);
          expect_nhwc_close(y.view, y_cpu, p, kEvalY, what + " y");

          const Tensor y_host = p.lowp ? rounded_to(y_cpu, p.dt) : y_cpu;
          for (const GradModes& m : kModes)
            check_fused_backward(p, false, xs, x, y_host, &w, rm, rv, residual, act, m, seed,
                                 what + (m.want_dx ? "" : " no dx") + (m.acc_dx ? " acc_dx" : "") +
                                     (m.acc_dr ? " acc_dr" : ""));
        }
}

// Fixed splits and summation orders: the same call gives the same bits every time.
TEST_F(BatchNormNhwc, RepeatsBitForBit) {
  const Shape xs{16, 8, 32, 32};
  const int64_t c = xs[1];
  const Tensor x = nhwc_gpu(rand_cpu(xs, 71, -2, 3)), dy = nhwc_gpu(rand_cpu(xs, 72));
  const Tensor w = to_gpu(rand_cpu({c}, 73, 0.5, 1.5)), b = to_gpu(rand_cpu({c}, 74));
  std::vector<std::vector<double>> runs;
  for (int run = 0; run < 2; ++run) {
    Tensor rv_host = Tensor::empty({c});
    rv_host.fill(1.0);
    Tensor rm = to_gpu(Tensor::zeros({c})), rv = to_gpu(rv_host);
    Tensor sm = to_gpu(Tensor::empty({c})), si = to_gpu(Tensor::empty({c}));
    Tensor y = to_gpu(Tensor::empty(xs)), dx = to_gpu(Tensor::empty(xs));
    Tensor dw = to_gpu(Tensor::zeros({c})), db = to_gpu(Tensor::zeros({c}));
    ops::batchnorm_act_forward_train(x, nullptr, &w, &b, rm, rv, nullptr, sm, si, 1e-5, 0.1,
                                     BatchNormActivation::ReLU, y, Layout::NHWC);
    ops::batchnorm_act_backward_train(x, y, dy, &w, sm, si, BatchNormActivation::ReLU, &dx, false,
                                      nullptr, false, &dw, &db, Layout::NHWC);
    std::vector<double> all;
    for (const Tensor* t : {&y, &sm, &si, &rv, &dx, &dw, &db}) {
      const std::vector<double> v = values_of(*t);
      all.insert(all.end(), v.begin(), v.end());
    }
    runs.push_back(all);
  }
  EXPECT_EQ(runs[0], runs[1]);
}

}  // namespace
}  // namespace te::cuda_test
