// CPU-vs-CUDA fused batch norm + residual add + activation (kernels/batchnorm_act.h): training
// forward (output, batch and running statistics, num_batches_tracked) and eval forward with
// and without residual, ReLU and none; backward in training and eval with and without the
// residual, overwriting and accumulating, and with only some gradients wanted. Outputs are
// guarded against stray writes. Backward gets the CPU's y on both sides, so an element whose
// pre-activation rounds to opposite sides of 0 cannot give the two different ReLU masks.
#include <string>
#include <vector>

#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda/cuda_test_util.h"

namespace te::cuda_test {
namespace {

class BatchNormActOps : public CudaTest {};

using ops::BatchNormActivation;

const std::vector<Shape> kShapes = {{1, 3, 5, 7}, {2, 16, 9, 9}, {8, 64, 14, 14}, {4, 32, 7, 7},
                                    {1, 4, 1, 2}};

std::string describe(const Shape& xs, bool residual, BatchNormActivation act, bool affine) {
  return "batchnorm_act " + xs.str() + (residual ? " residual" : "") +
         (act == BatchNormActivation::ReLU ? " relu" : " none") + (affine ? "" : " no affine");
}

TEST_F(BatchNormActOps, TrainingForwardAndBackwardMatchCpu) {
  uint64_t seed = 1;
  for (const Shape& xs : kShapes)
    for (bool residual : {true, false})
      for (BatchNormActivation act : {BatchNormActivation::ReLU, BatchNormActivation::None})
        for (bool affine : {true, false}) {
          const int64_t c = xs[1];
          const std::string what = describe(xs, residual, act, affine);
          const Tensor x = rand_cpu(xs, seed++, -2, 3), r = rand_cpu(xs, seed++);
          const Tensor w = rand_cpu({c}, seed++, 0.5, 1.5), b = rand_cpu({c}, seed++);
          const Tensor rm0 = rand_cpu({c}, seed++), rv0 = rand_cpu({c}, seed++, 0.5, 2);
          const Tensor xg = to_gpu(x), rg = to_gpu(r), wg = to_gpu(w), bg = to_gpu(b);
          const Tensor* rc = residual ? &r : nullptr;
          const Tensor* rgp = residual ? &rg : nullptr;
          Tensor rm_cpu = rm0.clone(), rv_cpu = rv0.clone();
          Tensor nbt_cpu = Tensor::from_vector({}, {3}, DType::I64);
          Tensor sm_cpu = Tensor::empty({c}), si_cpu = Tensor::empty({c}), y_cpu = Tensor::empty(xs);
          ops::cpu::batchnorm_act_forward_train(x, rc, affine ? &w : nullptr, affine ? &b : nullptr,
                                                rm_cpu, rv_cpu, &nbt_cpu, sm_cpu, si_cpu, 1e-5,
                                                0.1, act, y_cpu);
          Guarded y(xs, DType::F32), rm({c}, DType::F32, &rm0), rv({c}, DType::F32, &rv0);
          Guarded sm({c}, DType::F32), si({c}, DType::F32);
          Tensor nbt = to_gpu(Tensor::from_vector({}, {3}, DType::I64));
          ops::cuda::batchnorm_act_forward_train(xg, rgp, affine ? &wg : nullptr,
                                                 affine ? &bg : nullptr, rm.view, rv.view, &nbt,
                                                 sm.view, si.view, 1e-5, 0.1, act, y.view);
          for (auto* g : {&y, &rm, &rv, &sm, &si}) g->expect_guards_intact(what);
          expect_close(y.view, y_cpu, 1e-4, 1e-5, what + " y");
          expect_close(rm.view, rm_cpu, 1e-5, 1e-6, what + " running_mean");
          expect_close(rv.view, rv_cpu, 1e-5, 1e-6, what + " running_var");
          expect_close(sm.view, sm_cpu, 1e-5, 1e-6, what + " save_mean");
          expect_close(si.view, si_cpu, 1e-4, 1e-6, what + " save_invstd");
          expect_equal(nbt, nbt_cpu, what + " num_batches_tracked");

          const Tensor dy = rand_cpu(xs, seed++);
          const Tensor yg = to_gpu(y_cpu), dyg = to_gpu(dy), smg = to_gpu(sm_cpu), sig = to_gpu(si_cpu);
          // (accumulate dx, accumulate dr): both ways, and mixed.
          for (auto [acc_dx, acc_dr] :
               {std::pair{false, false}, std::pair{true, true}, std::pair{true, false}}) {
            const std::string step = what + (acc_dx ? " acc_dx" : "") + (acc_dr ? " acc_dr" : "");
            const Tensor dx0 = rand_cpu(xs, seed++), dr0 = rand_cpu(xs, seed++);
            const Tensor dw0 = rand_cpu({c}, seed++), db0 = rand_cpu({c}, seed++);
            Tensor dx_cpu = dx0.clone(), dr_cpu = dr0.clone(), dw_cpu = dw0.clone(), db_cpu = db0.clone();
            ops::cpu::batchnorm_act_backward_train(
                x, y_cpu, dy, affine ? &w : nullptr, sm_cpu, si_cpu, act, &dx_cpu, acc_dx,
                residual ? &dr_cpu : nullptr, acc_dr, affine ? &dw_cpu : nullptr,
                affine ? &db_cpu : nullptr);
            Guarded dx(xs, DType::F32, &dx0), dr(xs, DType::F32, &dr0);
            Guarded dw({c}, DType::F32, &dw0), db({c}, DType::F32, &db0);
            ops::cuda::batchnorm_act_backward_train(
                xg, yg, dyg, affine ? &wg : nullptr, smg, sig, act, &dx.view, acc_dx,
                residual ? &dr.view : nullptr, acc_dr, affine ? &dw.view : nullptr,
                affine ? &db.view : nullptr);
            for (auto* g : {&dx, &dr, &dw, &db}) g->expect_guards_intact(step + " backward");
            expect_close(dx.view, dx_cpu, 1e-3, 1e-5, step + " dx");
            // Not wanted: left exactly as it was.
            expect_close(dr.view, residual ? dr_cpu : dr0, 1e-6, 1e-7, step + " dr");
            expect_close(dw.view, affine ? dw_cpu : dw0, 1e-4, 1e-4, step + " dweight");
            expect_close(db.view, affine ? db_cpu : db0, 1e-4, 1e-4, step + " dbias");
          }
        }
}

TEST_F(BatchNormActOps, EvalForwardAndBackwardMatchCpu) {
  uint64_t seed = 300;
  for (const Shape& xs : kShapes)
    for (bool residual : {true, false})
      for (BatchNormActivation act : {BatchNormActivation::ReLU, BatchNormActivation::None}) {
        const int64_t c = xs[1];
        const std::string what = "eval " + describe(xs, residual, act, true);
        const Tensor x = rand_cpu(xs, seed++, -2, 3), r = rand_cpu(xs, seed++);
        const Tensor w = rand_cpu({c}, seed++, 0.5, 1.5), b = rand_cpu({c}, seed++);
        const Tensor rm = rand_cpu({c}, seed++), rv = rand_cpu({c}, seed++, 0.5, 2);
        const Tensor xg = to_gpu(x), rg = to_gpu(r), wg = to_gpu(w), bg = to_gpu(b);
        const Tensor rmg = to_gpu(rm), rvg = to_gpu(rv);
        Tensor y_cpu = Tensor::empty(xs);
        ops::cpu::batchnorm_act_forward_eval(x, residual ? &r : nullptr, &w, &b, rm, rv, 1e-5, act,
                                             y_cpu);
        Guarded y(xs, DType::F32);
        ops::cuda::batchnorm_act_forward_eval(xg, residual ? &rg : nullptr, &wg, &bg, rmg, rvg,
                                              1e-5, act, y.view);
        y.expect_guards_intact(what);
        expect_close(y.view, y_cpu, 1e-5, 1e-6, what + " y");

        const Tensor dy = rand_cpu(xs, seed++);
        const Tensor dx0 = rand_cpu(xs, seed++), dr0 = rand_cpu(xs, seed++);
        const Tensor dw0 = rand_cpu({c}, seed++), db0 = rand_cpu({c}, seed++);
        Tensor dx_cpu = dx0.clone(), dr_cpu = dr0.clone(), dw_cpu = dw0.clone(), db_cpu = db0.clone();
        // dx accumulates, dr overwrites.
        ops::cpu::batchnorm_act_backward_eval(x, y_cpu, dy, &w, rm, rv, 1e-5, act, &dx_cpu, true,
                                              residual ? &dr_cpu : nullptr, false, &dw_cpu, &db_cpu);
        Guarded dx(xs, DType::F32, &dx0), dr(xs, DType::F32, &dr0);
        Guarded dw({c}, DType::F32, &dw0), db({c}, DType::F32, &db0);
        ops::cuda::batchnorm_act_backward_eval(xg, to_gpu(y_cpu), to_gpu(dy), &wg, rmg, rvg, 1e-5,
                                               act, &dx.view, true, residual ? &dr.view : nullptr,
                                               false, &dw.view, &db.view);
        for (auto* g : {&dx, &dr, &dw, &db}) g->expect_guards_intact(what + " backward");
        expect_close(dx.view, dx_cpu, 1e-5, 1e-6, what + " dx");
        expect_close(dr.view, residual ? dr_cpu : dr0, 1e-6, 1e-7, what + " dr");
        expect_close(dw.view, dw_cpu, 1e-4, 1e-4, what + " dweight");
        expect_close(db.view, db_cpu, 1e-4, 1e-4, what + " dbias");
      }
}

// Only the residual's gradient (the graph's case when x needs none) and only the parameters'.
TEST_F(BatchNormActOps, BackwardWithoutInputGradientsMatchesCpu) {
  const Shape xs{4, 8, 6, 6};
  const int64_t c = xs[1];
  const Tensor x = rand_cpu(xs, 901, -2, 3), r = rand_cpu(xs, 902), dy = rand_cpu(xs, 903);
  const Tensor w = rand_cpu({c}, 904, 0.5, 1.5), b = rand_cpu({c}, 905);
  Tensor rm = Tensor::zeros({c}), rv = Tensor::zeros({c}), sm = Tensor::empty({c}), si = Tensor::empty({c});
  rv.fill(1.0);
  const Tensor wg = to_gpu(w);
  Tensor y = Tensor::empty(xs);
  ops::cpu::batchnorm_act_forward_train(x, &r, &w, &b, rm, rv, nullptr, sm, si, 1e-5, 0.1,
                                        BatchNormActivation::ReLU, y);
  for (bool want_dr : {true, false}) {
    const std::string what = want_dr ? "dr only" : "parameters only";
    Tensor dr_cpu = Tensor::zeros(xs), dw_cpu = Tensor::zeros({c}), db_cpu = Tensor::zeros({c});
    ops::cpu::batchnorm_act_backward_train(x, y, dy, &w, sm, si, BatchNormActivation::ReLU,
                                           nullptr, false, want_dr ? &dr_cpu : nullptr, false,
                                           &dw_cpu, &db_cpu);
    const Tensor dr0 = rand_cpu(xs, 906);
    Guarded dr(xs, DType::F32, &dr0), dw({c}, DType::F32, &dw_cpu), db({c}, DType::F32, &db_cpu);
    // dw, db start at the CPU's result: they must come back doubled.
    ops::cuda::batchnorm_act_backward_train(to_gpu(x), to_gpu(y), to_gpu(dy), &wg,
                                            to_gpu(sm), to_gpu(si), BatchNormActivation::ReLU,
                                            nullptr, false, want_dr ? &dr.view : nullptr, true,
                                            &dw.view, &db.view);
    for (auto* g : {&dr, &dw, &db}) g->expect_guards_intact(what);
    Tensor dr_want = dr0.clone();
    if (want_dr) {
      float* p = dr_want.data<float>();
      for (int64_t i = 0; i < dr_want.numel(); ++i) p[i] += dr_cpu.data<float>()[i];
    }
    expect_close(dr.view, dr_want, 1e-6, 1e-7, what + " dr");
    Tensor dw2 = dw_cpu.clone(), db2 = db_cpu.clone();
    for (int64_t i = 0; i < c; ++i) {
      dw2.data<float>()[i] *= 2;
      db2.data<float>()[i] *= 2;
    }
    expect_close(dw.view, dw2, 1e-4, 1e-4, what + " dweight");
    expect_close(db.view, db2, 1e-4, 1e-4, what + " dbias");
  }
}

}  // namespace
}  // namespace te::cuda_test
