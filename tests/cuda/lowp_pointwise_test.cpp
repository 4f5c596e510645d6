// bf16/f16 storage for our own element-wise CUDA kernels: activations, add_n, copy_or_add,
// dropout, concatenation and image normalisation, forward and backward, overwriting and
// accumulating, against the CPU's f32 reference computed on the same rounded inputs (bounds:
// tests/cuda/lowp_test_util.h). Also: the dtype rules of every op of this family (mixed dtypes
// are refused with the op and the argument named), checked without a GPU, and a CPU check that
// the bound separates one correct rounding from truncation and from double rounding.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda/lowp_test_util.h"

namespace te::cuda_test {
namespace {

const std::vector<Shape> kShapes = {{1, 1, 1, 1}, {2, 16, 9, 9}, {3, 33, 17, 5}, {4, 1000}};

// The f32 tests' tolerances for the same ops (pointwise_ops_test.cpp, spatial_ops_test.cpp):
// how far the GPU's float math may be from the CPU's.
const F32Slack kActivationSlack{1e-5, 1e-6, 0};  // erff/tanhf/expf differ by a few ulp
const F32Slack kSumSlack{1e-6, 1e-6, 0};         // float sums in another order
const F32Slack kProductSlack{1e-6, 1e-7, 0};     // x * scale (+ old): at most a contraction

class LowpPointwise : public CudaTest {};

// ---- without a GPU: the bound itself, and the dtype rules ----

// Rounding f32 values to nearest even stays inside the bound; chopping the low bits
// (truncation) or rounding twice (to an intermediate 16-bit value with fewer bits, emulated by
// a rounding with twice the unit roundoff) leaves it on a good fraction of the elements.
TEST(LowpRoundingBound, OneRoundingPassesTruncationAndDoubleRoundingFail) {
  const Tensor ref = rand_cpu({4096}, 7, -4, 4);
  const std::vector<double> r = values_of(ref);
  for (const Precision& pr : kLowp) {
    const std::vector<double> once = values_of(rounded_to(ref, pr.dt));
    int64_t inside = 0, chopped_outside = 0, coarse_outside = 0;
    for (size_t i = 0; i < r.size(); ++i) {
      const double bound = pr.u * std::fabs(r[i]) + pr.tiny;
      inside += std::fabs(once[i] - r[i]) <= bound;
      // Truncation: the 16-bit value towards zero.
      uint32_t bits;
      const float f = static_cast<float>(r[i]);
      std::memcpy(&bits, &f, 4);
      const int drop = pr.dt == DType::BF16 ? 16 : 13;  // f32 keeps 23 bits, bf16 7, f16 10
      bits &= ~((1u << drop) - 1);
      float chopped;
      std::memcpy(&chopped, &bits, 4);
      chopped_outside += std::fabs(chopped - r[i]) > bound;
      // Rounding to one bit less (an error of up to 2u): what a double rounding can reach.
      bits = 0;
      std::memcpy(&bits, &f, 4);
      const uint32_t half = 1u << drop;  // rounding at bit `drop + 1`
      bits = (bits + half) & ~((half << 1) - 1);
      float coarse;
      std::memcpy(&coarse, &bits, 4);
      coarse_outside += std::fabs(coarse - r[i]) > bound;
    }
    EXPECT_EQ(inside, static_cast<int64_t>(r.size())) << pr.name;
    EXPECT_GT(chopped_outside, static_cast<int64_t>(r.size()) / 4) << pr.name;
    EXPECT_GT(coarse_outside, static_cast<int64_t>(r.size()) / 8) << pr.name;
  }
}


// Dtype checks run before the ops look at the device, so host tensors show them without a GPU.
TEST(LowpDtypeRules, MixedActivationDtypesAreRefusedNamingOpAndArgument) {
  const Shape s{2, 3, 4, 4};
  const Tensor xb = Tensor::zeros(s, DType::BF16), xh = Tensor::zeros(s, DType::F16);
  const Tensor xf = Tensor::zeros(s, DType::F32);
  Tensor yb = Tensor::zeros(s, DType::BF16), yh = Tensor::zeros(s, DType::F16);
  Tensor yf = Tensor::zeros(s, DType::F32);

  expect_mentions(error_of([&] { ops::cuda::activation_forward(ops::ActivationKind::ReLU, xb, yh); }),
                  {"activation_forward", "y is f16", "x is bf16", "one dtype"});
  expect_mentions(error_of([&] {
                    ops::cuda::activation_backward(ops::ActivationKind::GELU, xh, Tensor(), xb, yb, false);
                  }),
                  {"activation_backward", "x is f16", "dy is bf16"});
  expect_mentions(error_of([&] { ops::cuda::add_n({&xb, &xf}, yb); }),
                  {"add_n", "input 1 is f32", "output is bf16"});
  expect_mentions(error_of([&] { ops::cuda::copy_or_add(xh, yf, true); }),
                  {"copy_or_add", "source is f16", "destination is f32"});
  expect_mentions(error_of([&] { ops::cuda::dropout_forward(xb, yf, 0.5, 1, 2); }),
                  {"dropout_forward", "y is f32", "x is bf16"});
  expect_mentions(error_of([&] { ops::cuda::dropout_backward(xb, yh, 0.5, 1, 2, false); }),
                  {"dropout_backward", "dx is f16", "dy is bf16"});
  Tensor cat = Tensor::zeros({2, 6, 4, 4}, DType::BF16);
  expect_mentions(error_of([&] { ops::cuda::concat_forward({&xb, &xh}, 1, cat); }),
                  {"concat_forward", "input 1 is f16", "output is bf16"});
  Tensor dxh = Tensor::zeros(s, DType::F16);
  expect_mentions(error_of([&] { ops::cuda::concat_backward(cat, 1, {3, 3}, {&yb, &dxh}, {false, false}); }),
                  {"concat_backward", "dx 1 is f16", "dy is bf16"});

  // Pooling: x / y and dy / dx.
  ops::Pool2dParams p;
  p.kernel_h = p.kernel_w = 2;
  p.stride_h = p.stride_w = 2;
  Tensor py = Tensor::zeros({2, 3, 2, 2}, DType::F16), arg = Tensor::zeros({2, 3, 2, 2}, DType::I32);
  expect_mentions(error_of([&] { ops::cuda::max_pool2d_forward(xb, py, arg, p); }),
                  {"max_pool2d", "y is f16", "x is bf16"});
  expect_mentions(error_of([&] { ops::cuda::avg_pool2d_backward(py, yb, false, p); }),
                  {"avg_pool2d backward", "dx is bf16", "dy is f16"});
  Tensor gy = Tensor::zeros({2, 3}, DType::F32);
  expect_mentions(error_of([&] { ops::cuda::global_avg_pool_forward(xh, gy); }),
                  {"global_avg_pool", "y is f32", "x is f16"});

  // A dtype outside f32/bf16/f16.
  const Tensor xd = Tensor::zeros(s, DType::F64);
  Tensor yd = Tensor::zeros(s, DType::F64);
  expect_mentions(error_of([&] { ops::cuda::activation_forward(ops::ActivationKind::SiLU, xd, yd); }),
                  {"activation_forward", "x is f64", "f32, bf16 or f16"});
  const Tensor img = Tensor::zeros({1, 4, 4, 3}, DType::U8);
  Tensor out = Tensor::zeros({1, 3, 4, 4}, DType::F64);
  expect_mentions(error_of([&] { ops::cuda::normalize_images(img, out, {0.5f}, {0.25f}); }),
                  {"normalize_images", "output is f64"});

  // Matching dtypes get past the dtype checks (and fail only because these tensors are not on
  // the GPU).
  const std::string ok = error_of([&] { ops::cuda::activation_forward(ops::ActivationKind::ReLU, xb, yb); });
  EXPECT_EQ(ok.find("dtype"), std::string::npos) << ok;
  EXPECT_EQ(ok.find("is bf16"), std::string::npos) << ok;
}

TEST(LowpDtypeRules, BatchNormKeepsParametersAndStatisticsInF32) {
  const Shape s{2, 3, 4, 4};
  const Tensor x = Tensor::zeros(s, DType::BF16);
  Tensor y = Tensor::zeros(s, DType::BF16), yh = Tensor::zeros(s, DType::F16);
  const Tensor w = Tensor::zeros({3}), wb = Tensor::zeros({3}, DType::BF16);
  Tensor rm = Tensor::zeros({3}), rv = Tensor::zeros({3}), sm = Tensor::zeros({3}), si = Tensor::zeros({3});
  Tensor rm_b = Tensor::zeros({3}, DType::BF16);

  expect_mentions(error_of([&] {
                    ops::cuda::batchnorm_forward_train(x, &wb, nullptr, rm, rv, nullptr, sm, si, 1e-5, 0.1, y);
                  }),
                  {"batchnorm_forward_train", "weight is bf16", "f32"});
  expect_mentions(error_of([&] {
                    ops::cuda::batchnorm_forward_train(x, &w, nullptr, rm_b, rv, nullptr, sm, si, 1e-5, 0.1, y);
                  }),
                  {"batchnorm_forward_train", "running_mean is bf16", "f32"});
  expect_mentions(error_of([&] { ops::cuda::batchnorm_forward_eval(x, &w, nullptr, rm, rv, 1e-5, yh); }),
                  {"batchnorm_forward_eval", "y is f16", "x is bf16"});
  Tensor dx = Tensor::zeros(s, DType::F32);
  expect_mentions(error_of([&] {
                    ops::cuda::batchnorm_backward_train(x, y, &w, sm, si, &dx, false, nullptr, nullptr);
                  }),
                  {"batchnorm_backward_train", "dx is f32", "x is bf16"});
  Tensor dw_b = Tensor::zeros({3}, DType::BF16);
  expect_mentions(error_of([&] {
                    ops::cuda::batchnorm_backward_eval(x, y, &w, rm, rv, 1e-5, nullptr, false, &dw_b, nullptr);
                  }),
                  {"batchnorm_backward_eval", "dweight is bf16", "f32"});

  using ops::BatchNormActivation;
  const Tensor r_h = Tensor::zeros(s, DType::F16);
  expect_mentions(error_of([&] {
                    ops::cuda::batchnorm_act_forward_train(x, &r_h, &w, nullptr, rm, rv, nullptr, sm, si,
                                                           1e-5, 0.1, BatchNormActivation::ReLU, y);
                  }),
                  {"batchnorm_act_forward_train", "residual is f16", "x is bf16"});
  Tensor dr_h = Tensor::zeros(s, DType::F16);
  expect_mentions(error_of([&] {
                    ops::cuda::batchnorm_act_backward_train(x, y, y, &w, sm, si, BatchNormActivation::ReLU,
                                                            nullptr, false, &dr_h, false, nullptr, nullptr);
                  }),
                  {"batchnorm_act_backward_train", "dresidual is f16", "x is bf16"});
  expect_mentions(error_of([&] {
                    ops::cuda::batchnorm_act_backward_eval(x, yh, y, &w, rm, rv, 1e-5, BatchNormActivation::ReLU,
                                                           nullptr, false, nullptr, false, nullptr, nullptr);
                  }),
                  {"batchnorm_act_backward_eval", "y is f16", "x is bf16"});
  Tensor sm_b = Tensor::zeros({3}, DType::BF16);
  expect_mentions(error_of([&] {
                    ops::cuda::batchnorm_act_backward_train(x, y, y, &w, sm_b, si, BatchNormActivation::None,
                                                            nullptr, false, nullptr, false, nullptr, nullptr);
                  }),
                  {"batchnorm_act_backward_train", "save_mean is bf16", "f32"});
}

// ---- on the GPU ----

TEST_F(LowpPointwise, ActivationsRoundOnceToTheStorageType) {
  const ops::ActivationKind kinds[] = {ops::ActivationKind::ReLU, ops::ActivationKind::GELU,
                                       ops::ActivationKind::GELUTanh, ops::ActivationKind::SiLU};
  uint64_t seed = 1;
  for (const Precision& pr : kLowp)
    for (const Shape& shape : kShapes)
      for (auto kind : kinds)
        for (bool accumulate : {false, true}) {
          const bool relu = kind == ops::ActivationKind::ReLU;
          const std::string what = std::string("activation ") + std::to_string(static_cast<int>(kind)) +
                                   " " + shape.str() + (accumulate ? " accumulate" : "");
          const LowpInput x = lowp_input(shape, seed++, pr, -3, 3);
          Tensor y_cpu = Tensor::empty(shape);
          ops::cpu::activation_forward(kind, x.ref, y_cpu);
          Guarded y(shape, pr.dt);
          ops::cuda::activation_forward(kind, x.gpu(), y.view);
          y.expect_guards_intact(what + " forward");
          if (relu)  // max(x, 0) of a 16-bit x is a 16-bit value: exact
            expect_equal(y.view, rounded_ref(y_cpu, pr), what + " forward");
          else
            expect_rounded_once(y.view, y_cpu, pr, kActivationSlack, what + " forward");

          // Both sides get the same 16-bit y (ReLU's backward reads y).
          const Tensor y_host = rounded_ref(y_cpu, pr), y_ref = rounded_to(y_host, DType::F32);
          const LowpInput dy = lowp_input(shape, seed++, pr), dx0 = lowp_input(shape, seed++, pr);
          Tensor dx_cpu = dx0.ref.clone();
          ops::cpu::activation_backward(kind, x.ref, y_ref, dy.ref, dx_cpu, accumulate);
          Guarded dx(shape, pr.dt, &dx0.host);
          ops::cuda::activation_backward(kind, x.gpu(), to_gpu(y_host), dy.gpu(), dx.view, accumulate);
          dx.expect_guards_intact(what + " backward");
          if (relu && !accumulate)  // dy or 0: exact
            expect_equal(dx.view, rounded_ref(dx_cpu, pr), what + " backward");
          else
            expect_rounded_once(dx.view, dx_cpu, pr, kActivationSlack, what + " backward");
        }
}

TEST_F(LowpPointwise, AddNAndCopyOrAddRoundOnce) {
  uint64_t seed = 100;
  for (const Precision& pr : kLowp) {
    for (const Shape& shape : kShapes)
      for (int count : {2, 3, 9}) {
        std::vector<LowpInput> xs;
        std::vector<Tensor> gpu;
        std::vector<const Tensor*> pc, pg;
        for (int i = 0; i < count; ++i) {
          xs.push_back(lowp_input(shape, seed++, pr));
          gpu.push_back(xs.back().gpu());
        }
        for (int i = 0; i < count; ++i) {
          pc.push_back(&xs[i].ref);
          pg.push_back(&gpu[i]);
        }
        Tensor y_cpu = Tensor::empty(shape);
        ops::cpu::add_n(pc, y_cpu);
        Guarded y(shape, pr.dt);
        ops::cuda::add_n(pg, y.view);
        y.expect_guards_intact("add_n");
        const std::string what = "add_n of " + std::to_string(count) + " " + shape.str();
        F32Slack slack = kSumSlack;
        if (count > 8) {
          // The launcher adds 8 inputs per pass, so the sum of the first 8 is stored (rounded)
          // once on the way: one more rounding of at most u * |sum of 8|.
          std::vector<const Tensor*> first(pc.begin(), pc.begin() + 8);
          Tensor y8 = Tensor::empty(shape);
          ops::cpu::add_n(first, y8);
          slack.atol += pr.u * (1 + pr.u) * max_abs(y8);
        }
        expect_rounded_once(y.view, y_cpu, pr, slack, what);
      }
    for (const Shape& shape : kShapes)
      for (bool accumulate : {false, true}) {
        const LowpInput src = lowp_input(shape, seed++, pr), dst0 = lowp_input(shape, seed++, pr);
        Tensor dst_cpu = dst0.ref.clone();
        ops::cpu::copy_or_add(src.ref, dst_cpu, accumulate);
        Guarded dst(shape, pr.dt, &dst0.host);
        ops::cuda::copy_or_add(src.gpu(), dst.view, accumulate);
        dst.expect_guards_intact("copy_or_add");
        const std::string what = "copy_or_add " + shape.str() + (accumulate ? " accumulate" : "");
        if (accumulate)
          expect_rounded_once(dst.view, dst_cpu, pr, kSumSlack, what);
        else
          expect_equal(dst.view, src.ref, what);
      }
  }
}

TEST_F(LowpPointwise, DropoutKeepsTheMaskAndRoundsOnce) {
  uint64_t seed = 200;
  for (const Precision& pr : kLowp)
    for (const Shape& shape : kShapes)
      for (double p : {0.1, 0.5, 0.9})
        for (bool accumulate : {false, true}) {
          const std::string what = "dropout p=" + std::to_string(p) + " " + shape.str() +
                                   (accumulate ? " accumulate" : "");
          const LowpInput x = lowp_input(shape, seed++, pr);
          const uint64_t key = 0xABCDEF12345ull + seed, stream = seed % 7;
          Tensor y_cpu = Tensor::empty(shape);
          ops::cpu::dropout_forward(x.ref, y_cpu, p, key, stream);
          Guarded y(shape, pr.dt);
          ops::cuda::dropout_forward(x.gpu(), y.view, p, key, stream);
          y.expect_guards_intact(what + " forward");
          // The same mask and the same float product x * scale on both sides, then one
          // rounding: bit for bit the CPU's f32 result rounded to the storage type.
          expect_equal(y.view, rounded_ref(y_cpu, pr), what + " forward");

          const LowpInput dy = lowp_input(shape, seed++, pr), dx0 = lowp_input(shape, seed++, pr);
          Tensor dx_cpu = dx0.ref.clone();
          ops::cpu::dropout_backward(dy.ref, dx_cpu, p, key, stream, accumulate);
          Guarded dx(shape, pr.dt, &dx0.host);
          ops::cuda::dropout_backward(dy.gpu(), dx.view, p, key, stream, accumulate);
          dx.expect_guards_intact(what + " backward");
          if (accumulate)
            expect_rounded_once(dx.view, dx_cpu, pr, kProductSlack, what + " backward");
          else
            expect_equal(dx.view, rounded_ref(dx_cpu, pr), what + " backward");
        }
}

TEST_F(LowpPointwise, ConcatCopiesElementsOfTheStorageSize) {
  struct Case {
    std::vector<Shape> inputs;
    int axis;
    Shape out;
  };
  const std::vector<Case> cases = {
      {{{2, 3, 4, 5}, {2, 7, 4, 5}}, 1, {2, 10, 4, 5}},
      {{{1, 1, 3, 3}, {1, 2, 3, 3}, {1, 5, 3, 3}}, 1, {1, 8, 3, 3}},
      {{{3, 4}, {2, 4}}, 0, {5, 4}},
      {{{2, 3, 5}, {2, 3, 1}}, 2, {2, 3, 6}},  // odd widths: 2-byte rows of odd length
  };
  uint64_t seed = 300;
  for (const Precision& pr : kLowp)
    for (const Case& c : cases) {
      std::vector<LowpInput> xs;
      std::vector<Tensor> gpu;
      std::vector<const Tensor*> pc, pg;
      std::vector<int64_t> sizes;
      for (const Shape& s : c.inputs) {
        xs.push_back(lowp_input(s, seed++, pr));
        gpu.push_back(xs.back().gpu());
        sizes.push_back(s[c.axis]);
      }
      for (size_t i = 0; i < xs.size(); ++i) {
        pc.push_back(&xs[i].ref);
        pg.push_back(&gpu[i]);
      }
      const std::string what = std::string("concat ") + pr.name + " " + c.out.str();
      Tensor y_cpu = Tensor::empty(c.out);
      ops::cpu::concat_forward(pc, c.axis, y_cpu);
      Guarded y(c.out, pr.dt);
      ops::cuda::concat_forward(pg, c.axis, y.view);
      y.expect_guards_intact(what + " forward");
      expect_equal(y.view, y_cpu, what + " forward");

      const LowpInput dy = lowp_input(c.out, seed++, pr);
      std::vector<Tensor> dx_cpu;
      std::vector<std::unique_ptr<Guarded>> dx_gpu;
      std::vector<Tensor*> dc, dg;
      std::vector<bool> acc;
      for (size_t i = 0; i < c.inputs.size(); ++i) {
        const LowpInput init = lowp_input(c.inputs[i], seed++, pr);
        dx_cpu.push_back(init.ref.clone());
        dx_gpu.push_back(std::make_unique<Guarded>(c.inputs[i], pr.dt, &init.host));
        acc.push_back(i % 2 == 1);
      }
      for (size_t i = 0; i < c.inputs.size(); ++i) {
        const bool skip = i == 2;  // an input without a gradient keeps its place
        dc.push_back(skip ? nullptr : &dx_cpu[i]);
        dg.push_back(skip ? nullptr : &dx_gpu[i]->view);
      }
      ops::cpu::concat_backward(dy.ref, c.axis, sizes, dc, acc);
      ops::cuda::concat_backward(dy.gpu(), c.axis, sizes, dg, acc);
      for (size_t i = 0; i < c.inputs.size(); ++i) {
        const std::string step = what + " backward input " + std::to_string(i);
        dx_gpu[i]->expect_guards_intact(step);
        if (acc[i])
          expect_rounded_once(dx_gpu[i]->view, dx_cpu[i], pr, kSumSlack, step);
        else
          expect_equal(dx_gpu[i]->view, dx_cpu[i], step);
      }
    }
}

TEST_F(LowpPointwise, NormalizeImagesRoundsOnceToTheOutputType) {
  uint64_t seed = 400;
  for (const Precision& pr : kLowp)
    for (const Shape& s : {Shape{1, 1, 1, 1}, Shape{2, 5, 7, 3}, Shape{3, 32, 31, 1}}) {
      const Tensor u8 = rand_cpu(s, seed++, 0, 255.99);
      const Tensor img = Tensor::from_vector(s, u8.to_vector(), DType::U8);
      const std::vector<float> mean = s[3] == 3 ? std::vector<float>{0.485f, 0.456f, 0.406f} : std::vector<float>{0.5f};
      const std::vector<float> stdv = s[3] == 3 ? std::vector<float>{0.229f, 0.224f, 0.225f} : std::vector<float>{0.25f};
      const Shape out{s[0], s[3], s[1], s[2]};
      Tensor y_cpu = Tensor::empty(out);
      ops::cpu::normalize_images(img, y_cpu, mean, stdv);
      Guarded y(out, pr.dt);
      ops::cuda::normalize_images(to_gpu(img), y.view, mean, stdv);
      y.expect_guards_intact("normalize");
      expect_rounded_once(y.view, y_cpu, pr, kSumSlack, "normalize " + s.str());
    }
}

}  // namespace
}  // namespace te::cuda_test
