// CPU-vs-CUDA: activations, sums, dropout and concatenation, forward and backward, several
// shapes (odd sizes, batch 1), guarded outputs, overwrite and accumulate.
#include <memory>
#include <vector>

#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda/cuda_test_util.h"

namespace te::cuda_test {
namespace {

const std::vector<Shape> kShapes = {{1, 1, 1, 1}, {1, 3, 5, 7}, {2, 16, 9, 9}, {3, 33, 17, 5},
                                    {4, 1000}};

class PointwiseOps : public CudaTest {};

TEST_F(PointwiseOps, ActivationsMatchCpu) {
  const ops::ActivationKind kinds[] = {ops::ActivationKind::ReLU, ops::ActivationKind::GELU,
                                       ops::ActivationKind::GELUTanh, ops::ActivationKind::SiLU};
  uint64_t seed = 1;
  for (const Shape& shape : kShapes)
    for (auto kind : kinds)
      for (bool accumulate : {false, true}) {
        const std::string what = "activation " + std::to_string(static_cast<int>(kind)) + " " +
                                 shape.str() + (accumulate ? " accumulate" : "");
        const Tensor x = rand_cpu(shape, seed++, -3, 3);
        Tensor y_cpu = Tensor::empty(shape);
        ops::cpu::activation_forward(kind, x, y_cpu);
        Guarded y(shape, DType::F32);
        ops::cuda::activation_forward(kind, to_gpu(x), y.view);
        y.expect_guards_intact(what + " forward");
        expect_close(y.view, y_cpu, 1e-5, 1e-6, what + " forward");

        const Tensor dy = rand_cpu(shape, seed++);
        const Tensor dx0 = rand_cpu(shape, seed++);
        Tensor dx_cpu = dx0.clone();
        ops::cpu::activation_backward(kind, x, y_cpu, dy, dx_cpu, accumulate);
        Guarded dx(shape, DType::F32, &dx0);
        ops::cuda::activation_backward(kind, to_gpu(x), to_gpu(y_cpu), to_gpu(dy), dx.view,
                                       accumulate);
        dx.expect_guards_intact(what + " backward");
        expect_close(dx.view, dx_cpu, 1e-5, 1e-6, what + " backward");
      }
}

TEST_F(PointwiseOps, AddNAndCopyOrAddMatchCpu) {
  uint64_t seed = 100;
  for (const Shape& shape : kShapes)
    for (int count : {2, 3, 9}) {
      std::vector<Tensor> xs_cpu, xs_gpu;
      std::vector<const Tensor*> pc, pg;
      for (int i = 0; i < count; ++i) {
        xs_cpu.push_back(rand_cpu(shape, seed++));
        xs_gpu.push_back(to_gpu(xs_cpu.back()));
      }
      for (int i = 0; i < count; ++i) {
        pc.push_back(&xs_cpu[i]);
        pg.push_back(&xs_gpu[i]);
      }
      Tensor y_cpu = Tensor::empty(shape);
      ops::cpu::add_n(pc, y_cpu);
      Guarded y(shape, DType::F32);
      ops::cuda::add_n(pg, y.view);
      y.expect_guards_intact("add_n");
      expect_close(y.view, y_cpu, 1e-6, 1e-6, "add_n of " + std::to_string(count) + " " + shape.str());
    }
  {  // one input is a copy (copy_or_add), not a sum: both backends refuse it alike
    const Tensor x = rand_cpu({5}, seed++), xg = to_gpu(x);
    Tensor y_cpu = Tensor::empty({5}), y_gpu = Tensor::zeros({5}, DType::F32, gpu());
    EXPECT_THROW(ops::cpu::add_n({&x}, y_cpu), Error);
    EXPECT_THROW(ops::cuda::add_n({&xg}, y_gpu), Error);
  }
  for (const Shape& shape : kShapes)
    for (bool accumulate : {false, true}) {
      const Tensor src = rand_cpu(shape, seed++), dst0 = rand_cpu(shape, seed++);
      Tensor dst_cpu = dst0.clone();
      ops::cpu::copy_or_add(src, dst_cpu, accumulate);
      Guarded dst(shape, DType::F32, &dst0);
      ops::cuda::copy_or_add(to_gpu(src), dst.view, accumulate);
      dst.expect_guards_intact("copy_or_add");
      expect_close(dst.view, dst_cpu, 1e-6, 1e-6, "copy_or_add " + shape.str());
    }
}

TEST_F(PointwiseOps, DropoutMasksEqualCpu) {
  uint64_t seed = 200;
  for (const Shape& shape : kShapes)
    for (double p : {0.0, 0.1, 0.5, 0.9})
      for (bool accumulate : {false, true}) {
        const Tensor x = rand_cpu(shape, seed++);
        const uint64_t key = 0xABCDEF12345ull + seed, stream = seed % 7;
        Tensor y_cpu = Tensor::empty(shape);
        ops::cpu::dropout_forward(x, y_cpu, p, key, stream);
        Guarded y(shape, DType::F32);
        ops::cuda::dropout_forward(to_gpu(x), y.view, p, key, stream);
        y.expect_guards_intact("dropout forward");
        // Same Philox stream, same float arithmetic: bit-identical.
        expect_equal(y.view, y_cpu, "dropout forward p=" + std::to_string(p) + " " + shape.str());

        const Tensor dy = rand_cpu(shape, seed++), dx0 = rand_cpu(shape, seed++);
        Tensor dx_cpu = dx0.clone();
        ops::cpu::dropout_backward(dy, dx_cpu, p, key, stream, accumulate);
        Guarded dx(shape, DType::F32, &dx0);
        ops::cuda::dropout_backward(to_gpu(dy), dx.view, p, key, stream, accumulate);
        dx.expect_guards_intact("dropout backward");
        expect_equal(dx.view, dx_cpu, "dropout backward " + shape.str());
      }
}

TEST_F(PointwiseOps, ConcatForwardAndBackwardMatchCpu) {
  struct Case {
    std::vector<Shape> inputs;
    int axis;
    Shape out;
  };
  const std::vector<Case> cases = {
      {{{2, 3, 4, 5}, {2, 7, 4, 5}}, 1, {2, 10, 4, 5}},
      {{{1, 1, 3, 3}, {1, 2, 3, 3}, {1, 5, 3, 3}}, 1, {1, 8, 3, 3}},
      {{{3, 4}, {2, 4}}, 0, {5, 4}},
      {{{2, 3, 5}, {2, 3, 1}}, 2, {2, 3, 6}},
  };
  uint64_t seed = 300;
  for (const Case& c : cases) {
    std::vector<Tensor> xs_cpu, xs_gpu;
    std::vector<const Tensor*> pc, pg;
    std::vector<int64_t> sizes;
    for (const Shape& s : c.inputs) {
      xs_cpu.push_back(rand_cpu(s, seed++));
      xs_gpu.push_back(to_gpu(xs_cpu.back()));
      sizes.push_back(s[c.axis]);
    }
    for (size_t i = 0; i < xs_cpu.size(); ++i) {
      pc.push_back(&xs_cpu[i]);
      pg.push_back(&xs_gpu[i]);
    }
    Tensor y_cpu = Tensor::empty(c.out);
    ops::cpu::concat_forward(pc, c.axis, y_cpu);
    Guarded y(c.out, DType::F32);
    ops::cuda::concat_forward(pg, c.axis, y.view);
    y.expect_guards_intact("concat forward");
    expect_equal(y.view, y_cpu, "concat forward " + c.out.str());

    const Tensor dy = rand_cpu(c.out, seed++);
    std::vector<Tensor> dx_cpu;
    std::vector<std::unique_ptr<Guarded>> dx_gpu;
    std::vector<Tensor*> dc, dg;
    std::vector<bool> acc;
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      const Tensor init = rand_cpu(c.inputs[i], seed++);
      dx_cpu.push_back(init.clone());
      dx_gpu.push_back(std::make_unique<Guarded>(c.inputs[i], DType::F32, &init));
      acc.push_back(i % 2 == 1);
    }
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      const bool skip = i == 2;  // an input without a gradient keeps its place
      dc.push_back(skip ? nullptr : &dx_cpu[i]);
      dg.push_back(skip ? nullptr : &dx_gpu[i]->view);
    }
    ops::cpu::concat_backward(dy, c.axis, sizes, dc, acc);
    ops::cuda::concat_backward(to_gpu(dy), c.axis, sizes, dg, acc);
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      dx_gpu[i]->expect_guards_intact("concat backward");
      expect_equal(dx_gpu[i]->view, dx_cpu[i], "concat backward input " + std::to_string(i));
    }
  }
}

}  // namespace
}  // namespace te::cuda_test
