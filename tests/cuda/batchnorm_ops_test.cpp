// CPU-vs-CUDA batch normalisation: training forward (output, batch and running statistics,
// num_batches_tracked), eval forward, and both backward passes, with and without affine
// parameters, on odd shapes, batch 1 and 2-D inputs.
#include <vector>

#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda/cuda_test_util.h"

namespace te::cuda_test {
namespace {

class BatchNormOps : public CudaTest {};

const std::vector<Shape> kShapes = {{1, 3, 5, 7}, {2, 16, 9, 9}, {8, 64, 14, 14}, {5, 7}, {1, 4, 1, 2}};

TEST_F(BatchNormOps, TrainingForwardAndBackwardMatchCpu) {
  uint64_t seed = 1;
  for (const Shape& xs : kShapes)
    for (bool affine : {true, false}) {
      const int64_t c = xs[1];
      const std::string what = "batchnorm " + xs.str() + (affine ? "" : " no affine");
      const Tensor x = rand_cpu(xs, seed++, -2, 3);
      const Tensor w = rand_cpu({c}, seed++, 0.5, 1.5), b = rand_cpu({c}, seed++);
      const Tensor rm0 = rand_cpu({c}, seed++), rv0 = rand_cpu({c}, seed++, 0.5, 2);
      const Tensor wg = to_gpu(w), bg = to_gpu(b);
      Tensor rm_cpu = rm0.clone(), rv_cpu = rv0.clone();
      Tensor nbt_cpu = Tensor::from_vector({}, {3}, DType::I64);
      Tensor sm_cpu = Tensor::empty({c}), si_cpu = Tensor::empty({c}), y_cpu = Tensor::empty(xs);
      ops::cpu::batchnorm_forward_train(x, affine ? &w : nullptr, affine ? &b : nullptr, rm_cpu,
                                        rv_cpu, &nbt_cpu, sm_cpu, si_cpu, 1e-5, 0.1, y_cpu);
      Guarded y(xs, DType::F32), rm({c}, DType::F32, &rm0), rv({c}, DType::F32, &rv0);
      Guarded sm({c}, DType::F32), si({c}, DType::F32);
      Tensor nbt = to_gpu(Tensor::from_vector({}, {3}, DType::I64));
      ops::cuda::batchnorm_forward_train(to_gpu(x), affine ? &wg : nullptr, affine ? &bg : nullptr,
                                         rm.view, rv.view, &nbt, sm.view, si.view, 1e-5, 0.1, y.view);
      for (auto* g : {&y, &rm, &rv, &sm, &si}) g->expect_guards_intact(what);
      expect_close(y.view, y_cpu, 1e-4, 1e-5, what + " y");
      expect_close(rm.view, rm_cpu, 1e-5, 1e-6, what + " running_mean");
      expect_close(rv.view, rv_cpu, 1e-5, 1e-6, what + " running_var");
      expect_close(sm.view, sm_cpu, 1e-5, 1e-6, what + " save_mean");
      expect_close(si.view, si_cpu, 1e-4, 1e-6, what + " save_invstd");
      expect_equal(nbt, nbt_cpu, what + " num_batches_tracked");

      const Tensor dy = rand_cpu(xs, seed++);
      for (bool accumulate : {false, true}) {
        const Tensor dx0 = rand_cpu(xs, seed++), dw0 = rand_cpu({c}, seed++), db0 = rand_cpu({c}, seed++);
        Tensor dx_cpu = dx0.clone(), dw_cpu = dw0.clone(), db_cpu = db0.clone();
        ops::cpu::batchnorm_backward_train(x, dy, affine ? &w : nullptr, sm_cpu, si_cpu, &dx_cpu,
                                           accumulate, affine ? &dw_cpu : nullptr,
                                           affine ? &db_cpu : nullptr);
        Guarded dx(xs, DType::F32, &dx0), dw({c}, DType::F32, &dw0), db({c}, DType::F32, &db0);
        ops::cuda::batchnorm_backward_train(to_gpu(x), to_gpu(dy), affine ? &wg : nullptr,
                                            to_gpu(sm_cpu), to_gpu(si_cpu), &dx.view, accumulate,
                                            affine ? &dw.view : nullptr, affine ? &db.view : nullptr);
        for (auto* g : {&dx, &dw, &db}) g->expect_guards_intact(what + " backward");
        expect_close(dx.view, dx_cpu, 1e-3, 1e-5, what + " dx");
        if (affine) {
          expect_close(dw.view, dw_cpu, 1e-4, 1e-4, what + " dweight");
          expect_close(db.view, db_cpu, 1e-4, 1e-4, what + " dbias");
        }
      }
    }
}

TEST_F(BatchNormOps, EvalForwardAndBackwardMatchCpu) {
  uint64_t seed = 300;
  for (const Shape& xs : kShapes) {
    const int64_t c = xs[1];
    const std::string what = "batchnorm eval " + xs.str();
    const Tensor x = rand_cpu(xs, seed++, -2, 3);
    const Tensor w = rand_cpu({c}, seed++, 0.5, 1.5), b = rand_cpu({c}, seed++);
    const Tensor rm = rand_cpu({c}, seed++), rv = rand_cpu({c}, seed++, 0.5, 2);
    const Tensor wg = to_gpu(w), bg = to_gpu(b);
    Tensor y_cpu = Tensor::empty(xs);
    ops::cpu::batchnorm_forward_eval(x, &w, &b, rm, rv, 1e-5, y_cpu);
    Guarded y(xs, DType::F32);
    ops::cuda::batchnorm_forward_eval(to_gpu(x), &wg, &bg, to_gpu(rm), to_gpu(rv), 1e-5, y.view);
    y.expect_guards_intact(what);
    expect_close(y.view, y_cpu, 1e-5, 1e-6, what + " y");

    const Tensor dy = rand_cpu(xs, seed++);
    const Tensor dx0 = rand_cpu(xs, seed++), dw0 = rand_cpu({c}, seed++), db0 = rand_cpu({c}, seed++);
    Tensor dx_cpu = dx0.clone(), dw_cpu = dw0.clone(), db_cpu = db0.clone();
    ops::cpu::batchnorm_backward_eval(x, dy, &w, rm, rv, 1e-5, &dx_cpu, true, &dw_cpu, &db_cpu);
    Guarded dx(xs, DType::F32, &dx0), dw({c}, DType::F32, &dw0), db({c}, DType::F32, &db0);
    ops::cuda::batchnorm_backward_eval(to_gpu(x), to_gpu(dy), &wg, to_gpu(rm), to_gpu(rv), 1e-5,
                                       &dx.view, true, &dw.view, &db.view);
    for (auto* g : {&dx, &dw, &db}) g->expect_guards_intact(what + " backward");
    expect_close(dx.view, dx_cpu, 1e-5, 1e-6, what + " dx");
    expect_close(dw.view, dw_cpu, 1e-4, 1e-4, what + " dweight");
    expect_close(db.view, db_cpu, 1e-4, 1e-4, what + " dbias");
  }
}

TEST_F(BatchNormOps, SingleValuePerChannelIsRejected) {
  const Tensor x = to_gpu(rand_cpu({1, 3, 1, 1}, 5));
  Tensor rm = Tensor::zeros({3}, DType::F32, gpu()), rv = Tensor::zeros({3}, DType::F32, gpu());
  Tensor sm = Tensor::zeros({3}, DType::F32, gpu()), si = Tensor::zeros({3}, DType::F32, gpu());
  Tensor y = Tensor::zeros({1, 3, 1, 1}, DType::F32, gpu());
  EXPECT_THROW(ops::cuda::batchnorm_forward_train(x, nullptr, nullptr, rm, rv, nullptr, sm, si,
                                                  1e-5, 0.1, y),
               ShapeError);
}

}  // namespace
}  // namespace te::cuda_test
