// bf16/f16 activations through the CUDA batch norm (kernels/batchnorm.h) and the fused batch
// norm + residual + ReLU (kernels/batchnorm_act.h): x, residual, y, dy, dx, dresidual in the
// 16-bit type; weight, bias, running and saved statistics, dweight, dbias in f32. Compared with
// the CPU's f32 reference on the same rounded inputs (bounds: tests/cuda/lowp_test_util.h).
//
// Per-op slack (delta in lowp_test_util.h), taken from the f32 tests of the same ops
// (batchnorm_ops_test.cpp, batchnorm_act_ops_test.cpp), which compare the same float math:
//   y (train)        1e-4 |ref| + 1e-5
//   y (eval)         1e-5 |ref| + 1e-6
//   dx               2^-14 max|dx| + 1e-5: dx = A dy + B x + D cancels, so a relative bound
//                    means little; the float evaluation errs by a few 2^-24 times the terms
//                    (|A dy|, |B x|, |D| <= about max|dx|), far below 2^-14 max|dx|. (The f32
//                    tests allow 1e-3 |ref|, which would hide an extra f16 rounding.)
//   dresidual        exact when overwritten (it is dy or 0), one rounding when accumulated
//   statistics, running stats, dweight, dbias: f32, the f32 tests' tolerances (the sums see
//                    the same rounded inputs on both sides, in double).
#include <string>
#include <vector>

#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda/lowp_test_util.h"

namespace te::cuda_test {
namespace {

class LowpBatchNorm : public CudaTest {};

using ops::BatchNormActivation;

const F32Slack kTrainY{1e-4, 1e-5, 0};
const F32Slack kEvalY{1e-5, 1e-6, 0};
const F32Slack kDx{0, 1e-5, 0x1p-14};
const F32Slack kAdd{1e-6, 1e-7, 0};  // dresidual += dz

TEST_F(LowpBatchNorm, TrainingForwardAndBackwardMatchCpu) {
  const std::vector<Shape> shapes = {{1, 3, 5, 7}, {2, 16, 9, 9}, {8, 64, 14, 14}, {5, 7}, {1, 4, 1, 2}};
  uint64_t seed = 1;
  for (const Precision& pr : kLowp)
    for (const Shape& xs : shapes)
      for (bool affine : {true, false}) {
        const int64_t c = xs[1];
        const std::string what = "batchnorm " + xs.str() + (affine ? "" : " no affine");
        const LowpInput x = lowp_input(xs, seed++, pr, -2, 3);
        const Tensor w = rand_cpu({c}, seed++, 0.5, 1.5), b = rand_cpu({c}, seed++);
        const Tensor rm0 = rand_cpu({c}, seed++), rv0 = rand_cpu({c}, seed++, 0.5, 2);
        const Tensor wg = to_gpu(w), bg = to_gpu(b), xg = x.gpu();
        Tensor rm_cpu = rm0.clone(), rv_cpu = rv0.clone();
        Tensor nbt_cpu = Tensor::from_vector({}, {3}, DType::I64);
        Tensor sm_cpu = Tensor::empty({c}), si_cpu = Tensor::empty({c}), y_cpu = Tensor::empty(xs);
        ops::cpu::batchnorm_forward_train(x.ref, affine ? &w : nullptr, affine ? &b : nullptr, rm_cpu,
                                          rv_cpu, &nbt_cpu, sm_cpu, si_cpu, 1e-5, 0.1, y_cpu);
        Guarded y(xs, pr.dt), rm({c}, DType::F32, &rm0), rv({c}, DType::F32, &rv0);
        Guarded sm({c}, DType::F32), si({c}, DType::F32);
        Tensor nbt = to_gpu(Tensor::from_vector({}, {3}, DType::I64));
        ops::cuda::batchnorm_forward_train(xg, affine ? &wg : nullptr, affine ? &bg : nullptr, rm.view,
                                           rv.view, &nbt, sm.view, si.view, 1e-5, 0.1, y.view);
        for (auto* g : {&y, &rm, &rv, &sm, &si}) g->expect_guards_intact(what);
        expect_rounded_once(y.view, y_cpu, pr, kTrainY, what + " y");
        expect_close(rm.view, rm_cpu, 1e-5, 1e-6, what + " running_mean");
        expect_close(rv.view, rv_cpu, 1e-5, 1e-6, what + " running_var");
        expect_close(sm.view, sm_cpu, 1e-5, 1e-6, what + " save_mean");
        expect_close(si.view, si_cpu, 1e-4, 1e-6, what + " save_invstd");
        expect_equal(nbt, nbt_cpu, what + " num_batches_tracked");

        const LowpInput dy = lowp_input(xs, seed++, pr);
        for (bool accumulate : {false, true}) {
          const std::string step = what + (accumulate ? " accumulate" : "");
          const LowpInput dx0 = lowp_input(xs, seed++, pr);
          const Tensor dw0 = rand_cpu({c}, seed++), db0 = rand_cpu({c}, seed++);
          Tensor dx_cpu = dx0.ref.clone(), dw_cpu = dw0.clone(), db_cpu = db0.clone();
          ops::cpu::batchnorm_backward_train(x.ref, dy.ref, affine ? &w : nullptr, sm_cpu, si_cpu,
                                             &dx_cpu, accumulate, affine ? &dw_cpu : nullptr,
                                             affine ? &db_cpu : nullptr);
          Guarded dx(xs, pr.dt, &dx0.host), dw({c}, DType::F32, &dw0), db({c}, DType::F32, &db0);
          ops::cuda::batchnorm_backward_train(xg, dy.gpu(), affine ? &wg : nullptr, to_gpu(sm_cpu),
                                              to_gpu(si_cpu), &dx.view, accumulate,
                                              affine ? &dw.view : nullptr, affine ? &db.view : nullptr);
          for (auto* g : {&dx, &dw, &db}) g->expect_guards_intact(step + " backward");
          expect_rounded_once(dx.view, dx_cpu, pr, kDx, step + " dx");
          expect_close(dw.view, affine ? dw_cpu : dw0, 1e-4, 1e-4, step + " dweight");
          expect_close(db.view, affine ? db_cpu : db0, 1e-4, 1e-4, step + " dbias");
        }
      }
}

TEST_F(LowpBatchNorm, EvalForwardAndBackwardMatchCpu) {
  uint64_t seed = 100;
  for (const Precision& pr : kLowp)
    for (const Shape& xs : {Shape{2, 16, 9, 9}, Shape{3, 5, 4, 1}, Shape{5, 7}}) {
      const int64_t c = xs[1];
      const std::string what = "batchnorm eval " + xs.str();
      const LowpInput x = lowp_input(xs, seed++, pr, -2, 3);
      const Tensor w = rand_cpu({c}, seed++, 0.5, 1.5), b = rand_cpu({c}, seed++);
      const Tensor rm = rand_cpu({c}, seed++), rv = rand_cpu({c}, seed++, 0.5, 2);
      const Tensor wg = to_gpu(w), bg = to_gpu(b), rmg = to_gpu(rm), rvg = to_gpu(rv);
      Tensor y_cpu = Tensor::empty(xs);
      ops::cpu::batchnorm_forward_eval(x.ref, &w, &b, rm, rv, 1e-5, y_cpu);
      Guarded y(xs, pr.dt);
      ops::cuda::batchnorm_forward_eval(x.gpu(), &wg, &bg, rmg, rvg, 1e-5, y.view);
      y.expect_guards_intact(what);
      expect_rounded_once(y.view, y_cpu, pr, kEvalY, what + " y");

      const LowpInput dy = lowp_input(xs, seed++, pr), dx0 = lowp_input(xs, seed++, pr);
      const Tensor dw0 = rand_cpu({c}, seed++), db0 = rand_cpu({c}, seed++);
      Tensor dx_cpu = dx0.ref.clone(), dw_cpu = dw0.clone(), db_cpu = db0.clone();
      ops::cpu::batchnorm_backward_eval(x.ref, dy.ref, &w, rm, rv, 1e-5, &dx_cpu, true, &dw_cpu,
                                        &db_cpu);
      Guarded dx(xs, pr.dt, &dx0.host), dw({c}, DType::F32, &dw0), db({c}, DType::F32, &db0);
      ops::cuda::batchnorm_backward_eval(x.gpu(), dy.gpu(), &wg, rmg, rvg, 1e-5, &dx.view, true,
                                         &dw.view, &db.view);
      for (auto* g : {&dx, &dw, &db}) g->expect_guards_intact(what + " backward");
      expect_rounded_once(dx.view, dx_cpu, pr, kDx, what + " dx");
      expect_close(dw.view, dw_cpu, 1e-4, 1e-4, what + " dweight");
      expect_close(db.view, db_cpu, 1e-4, 1e-4, what + " dbias");
    }
}

std::string describe(const Shape& xs, bool residual, BatchNormActivation act, bool affine) {
  return "batchnorm_act " + xs.str() + (residual ? " residual" : "") +
         (act == BatchNormActivation::ReLU ? " relu" : " none") + (affine ? "" : " no affine");
}

// What backward is asked for: dx wanted or not, and which gradients accumulate.
struct GradModes {
  bool want_dx, acc_dx, acc_dr;
};
const GradModes kModes[] = {{true, false, false}, {true, true, true}, {true, true, false},
                            {false, false, true}};

// The CPU reference and the GPU call of one fused backward (train or eval), compared.
void check_fused_backward(const Precision& pr, bool train, const Shape& xs, const LowpInput& x,
                          const Tensor& y_host, const Tensor* w, const Tensor& stat_a,
                          const Tensor& stat_b, bool residual, BatchNormActivation act,
                          const GradModes& m, uint64_t& seed, const std::string& what) {
  const int64_t c = xs[1];
  const Tensor y_ref = rounded_to(y_host, DType::F32);  // both sides see the same 16-bit y
  const LowpInput dy = lowp_input(xs, seed++, pr);
  const LowpInput dx0 = lowp_input(xs, seed++, pr), dr0 = lowp_input(xs, seed++, pr);
  const Tensor dw0 = rand_cpu({c}, seed++), db0 = rand_cpu({c}, seed++);
  Tensor dx_cpu = dx0.ref.clone(), dr_cpu = dr0.ref.clone(), dw_cpu = dw0.clone(), db_cpu = db0.clone();
  Tensor* dxc = m.want_dx ? &dx_cpu : nullptr;
  Tensor* drc = residual ? &dr_cpu : nullptr;
  Tensor* dwc = w ? &dw_cpu : nullptr;
  Tensor* dbc = w ? &db_cpu : nullptr;
  if (train)
    ops::cpu::batchnorm_act_backward_train(x.ref, y_ref, dy.ref, w, stat_a, stat_b, act, dxc, m.acc_dx,
                                           drc, m.acc_dr, dwc, dbc);
  else
    ops::cpu::batchnorm_act_backward_eval(x.ref, y_ref, dy.ref, w, stat_a, stat_b, 1e-5, act, dxc,
                                          m.acc_dx, drc, m.acc_dr, dwc, dbc);

  Guarded dx(xs, pr.dt, &dx0.host), dr(xs, pr.dt, &dr0.host);
  Guarded dw({c}, DType::F32, &dw0), db({c}, DType::F32, &db0);
  const Tensor wg = w ? to_gpu(*w) : Tensor();
  const Tensor* wgp = w ? &wg : nullptr;
  Tensor* dxg = m.want_dx ? &dx.view : nullptr;
  Tensor* drg = residual ? &dr.view : nullptr;
  Tensor* dwg = w ? &dw.view : nullptr;
  Tensor* dbg = w ? &db.view : nullptr;
  if (train)
    ops::cuda::batchnorm_act_backward_train(x.gpu(), to_gpu(y_host), dy.gpu(), wgp, to_gpu(stat_a),
                                            to_gpu(stat_b), act, dxg, m.acc_dx, drg, m.acc_dr, dwg, dbg);
  else
    ops::cuda::batchnorm_act_backward_eval(x.gpu(), to_gpu(y_host), dy.gpu(), wgp, to_gpu(stat_a),
                                           to_gpu(stat_b), 1e-5, act, dxg, m.acc_dx, drg, m.acc_dr,
                                           dwg, dbg);
  for (auto* g : {&dx, &dr, &dw, &db}) g->expect_guards_intact(what + " backward");
  if (m.want_dx)
    expect_rounded_once(dx.view, dx_cpu, pr, kDx, what + " dx");
  else
    expect_equal(dx.view, dx0.ref, what + " dx (not wanted: untouched)");
  if (!residual)
    expect_equal(dr.view, dr0.ref, what + " dresidual (not wanted: untouched)");
  else if (m.acc_dr)
    expect_rounded_once(dr.view, dr_cpu, pr, kAdd, what + " dresidual");
  else  // dz = dy or 0: exact
    expect_equal(dr.view, rounded_ref(dr_cpu, pr), what + " dresidual");
  expect_close(dw.view, w ? dw_cpu : dw0, 1e-4, 1e-4, what + " dweight");
  expect_close(db.view, w ? db_cpu : db0, 1e-4, 1e-4, what + " dbias");
}

TEST_F(LowpBatchNorm, FusedTrainingForwardAndBackwardMatchCpu) {
  const std::vector<Shape> shapes = {{1, 3, 5, 7}, {2, 16, 9, 9}, {8, 64, 14, 14}, {1, 4, 1, 2}};
  uint64_t seed = 300;
  for (const Precision& pr : kLowp)
    for (const Shape& xs : shapes)
      for (bool residual : {true, false})
        for (BatchNormActivation act : {BatchNormActivation::ReLU, BatchNormActivation::None})
          for (bool affine : {true, false}) {
            const int64_t c = xs[1];
            const std::string what = describe(xs, residual, act, affine) + " " + pr.name;
            const LowpInput x = lowp_input(xs, seed++, pr, -2, 3), r = lowp_input(xs, seed++, pr);
            const Tensor w = rand_cpu({c}, seed++, 0.5, 1.5), b = rand_cpu({c}, seed++);
            const Tensor rm0 = rand_cpu({c}, seed++), rv0 = rand_cpu({c}, seed++, 0.5, 2);
            const Tensor wg = to_gpu(w), bg = to_gpu(b), rg = r.gpu();
            Tensor rm_cpu = rm0.clone(), rv_cpu = rv0.clone();
            Tensor nbt_cpu = Tensor::from_vector({}, {3}, DType::I64);
            Tensor sm_cpu = Tensor::empty({c}), si_cpu = Tensor::empty({c}), y_cpu = Tensor::empty(xs);
            ops::cpu::batchnorm_act_forward_train(x.ref, residual ? &r.ref : nullptr,
                                                  affine ? &w : nullptr, affine ? &b : nullptr,
                                                  rm_cpu, rv_cpu, &nbt_cpu, sm_cpu, si_cpu, 1e-5,
                                                  0.1, act, y_cpu);
            Guarded y(xs, pr.dt), rm({c}, DType::F32, &rm0), rv({c}, DType::F32, &rv0);
            Guarded sm({c}, DType::F32), si({c}, DType::F32);
            Tensor nbt = to_gpu(Tensor::from_vector({}, {3}, DType::I64));
            ops::cuda::batchnorm_act_forward_train(x.gpu(), residual ? &rg : nullptr,
                                                   affine ? &wg : nullptr, affine ? &bg : nullptr,
                                                   rm.view, rv.view, &nbt, sm.view, si.view, 1e-5,
                                                   0.1, act, y.view);
            for (auto* g : {&y, &rm, &rv, &sm, &si}) g->expect_guards_intact(what);
            expect_rounded_once(y.view, y_cpu, pr, kTrainY, what + " y");
            expect_close(rm.view, rm_cpu, 1e-5, 1e-6, what + " running_mean");
            expect_close(rv.view, rv_cpu, 1e-5, 1e-6, what + " running_var");
            expect_close(sm.view, sm_cpu, 1e-5, 1e-6, what + " save_mean");
            expect_close(si.view, si_cpu, 1e-4, 1e-6, what + " save_invstd");
            expect_equal(nbt, nbt_cpu, what + " num_batches_tracked");

            const Tensor y_host = rounded_ref(y_cpu, pr);
            for (const GradModes& m : kModes)
              check_fused_backward(pr, true, xs, x, y_host, affine ? &w : nullptr, sm_cpu, si_cpu,
                                   residual, act, m, seed,
                                   what + (m.want_dx ? "" : " no dx") + (m.acc_dx ? " acc_dx" : "") +
                                       (m.acc_dr ? " acc_dr" : ""));
          }
}

TEST_F(LowpBatchNorm, FusedEvalForwardAndBackwardMatchCpu) {
  uint64_t seed = 700;
  for (const Precision& pr : kLowp)
    for (const Shape& xs : {Shape{2, 16, 9, 9}, Shape{4, 32, 7, 7}})
      for (bool residual : {true, false})
        for (BatchNormActivation act : {BatchNormActivation::ReLU, BatchNormActivation::None}) {
          const int64_t c = xs[1];
          const std::string what = "eval " + describe(xs, residual, act, true) + " " + pr.name;
          const LowpInput x = lowp_input(xs, seed++, pr, -2, 3), r = lowp_input(xs, seed++, pr);
          const Tensor w = rand_cpu({c}, seed++, 0.5, 1.5), b = rand_cpu({c}, seed++);
          const Tensor rm = rand_cpu({c}, seed++), rv = rand_cpu({c}, seed++, 0.5, 2);
          const Tensor wg = to_gpu(w), bg = to_gpu(b), rg = r.gpu();
          Tensor y_cpu = Tensor::empty(xs);
          ops::cpu::batchnorm_act_forward_eval(x.ref, residual ? &r.ref : nullptr, &w, &b, rm, rv,
                                               1e-5, act, y_cpu);
          Guarded y(xs, pr.dt);
          ops::cuda::batchnorm_act_forward_eval(x.gpu(), residual ? &rg : nullptr, &wg, &bg,
                                                to_gpu(rm), to_gpu(rv), 1e-5, act, y.view);
          y.expect_guards_intact(what);
          expect_rounded_once(y.view, y_cpu, pr, kEvalY, what + " y");
          const Tensor y_host = rounded_ref(y_cpu, pr);
          for (const GradModes& m : {kModes[0], kModes[2]})
            check_fused_backward(pr, false, xs, x, y_host, &w, rm, rv, residual, act, m, seed,
                                 what + (m.acc_dx ? " acc_dx" : ""));
        }
}

}  // namespace
}  // namespace te::cuda_test
