// Channels-last (NHWC, kernels/layout.h) pooling and input normalisation on CUDA, f32, bf16 and
// f16: random NCHW inputs on the CPU, permuted to NHWC for the CUDA op, its results permuted
// back and compared with the CPU's NCHW reference on the same (rounded) inputs. Bounds: the f32
// tests' tolerances (spatial_ops_test.cpp), widened by one rounding for bf16/f16
// (lowp_test_util.h; for f32 the rounding term is 0):
//   max forward      exact, argmax identical (same index convention ih * W + iw as NCHW)
//   max backward     1e-6 |ref| + 1e-6
//   avg, global avg  1e-5 |ref| + 1e-6
//   normalize        1e-6 |ref| + 1e-6
// The NHWC kernels scan the same windows in the same order as the NCHW ones, so (except the
// atomic max backward and the global average's double sum) they must also equal the NCHW CUDA
// results bit for bit; that is checked too. The CPU-only tests at the end run without a GPU.
#include <string>
#include <vector>

#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda/lowp_test_util.h"
#include "tests/cuda/nhwc_test_util.h"

namespace te::cuda_test {
namespace {

class PoolNhwc : public CudaTest {};

// f32 through the same helpers as the 16-bit types: no rounding term.
const Precision kF32{DType::F32, 0.0, 0.0, "f32"};
const std::vector<Precision> kAllTypes = {kF32, kBf16, kF16};

const F32Slack kMaxBackward{1e-6, 1e-6, 0};
const F32Slack kAverage{1e-5, 1e-6, 0};
const F32Slack kNormalize{1e-6, 1e-6, 0};

// A device NHWC output copied to the host and permuted back to NCHW order.
Tensor back_to_nchw(const Tensor& nhwc_gpu) { return from_nhwc(nhwc_gpu.to(Device::cpu())); }

struct PoolCase {
  int64_t n, c, h, w, k, stride, pad, dilation;
  bool ceil, include_pad;
};

ops::Pool2dParams params_of(const PoolCase& c) {
  ops::Pool2dParams p;
  p.kernel_h = p.kernel_w = c.k;
  p.stride_h = p.stride_w = c.stride;
  p.pad_h = p.pad_w = c.pad;
  p.dilation_h = p.dilation_w = c.dilation;
  p.ceil_mode = c.ceil;
  p.count_include_pad = c.include_pad;
  return p;
}

TEST_F(PoolNhwc, PoolingMatchesCpuAndNchw) {
  const std::vector<PoolCase> cases = {
      {1, 1, 1, 1, 1, 1, 0, 1, false, true},
      {2, 64, 112, 112, 3, 2, 1, 1, false, true},  // ResNet stem max-pool 3x3/2 pad 1
      {1, 3, 7, 9, 2, 2, 0, 1, true, true},        // odd sizes, ceil mode
      {3, 5, 10, 11, 3, 2, 1, 2, false, false},    // dilation (max only)
      {2, 33, 9, 9, 3, 3, 1, 1, true, false},      // C = 32 + 1: a one-channel group
      {1, 7, 6, 6, 2, 1, 0, 1, false, true},       // overlapping windows
      {1, 40, 97, 95, 3, 2, 1, 1, false, true},    // 16-bit max backward tiles the image
  };
  uint64_t seed = 500;
  for (const Precision& pr : kAllTypes)
    for (const PoolCase& c : cases)
      for (bool deterministic : {false, true}) {
        te::cuda::set_deterministic(deterministic);
        const ops::Pool2dParams p = params_of(c);
        const int64_t oh = ops::pool_output_size(c.h, c.k, c.stride, c.pad, c.dilation, c.ceil);
        const int64_t ow = ops::pool_output_size(c.w, c.k, c.stride, c.pad, c.dilation, c.ceil);
        const Shape xs{c.n, c.c, c.h, c.w}, ys{c.n, c.c, oh, ow};
        const std::string what = std::string("NHWC pool ") + pr.name + " " + xs.str() + " k" +
                                 std::to_string(c.k) + " s" + std::to_string(c.stride) + " p" +
                                 std::to_string(c.pad) + " d" + std::to_string(c.dilation) +
                                 (c.ceil ? " ceil" : "") + (deterministic ? " deterministic" : "");
        const LowpInput x = lowp_input(xs, seed++, pr);
        const Tensor x_nchw = x.gpu(), x_nhwc = to_gpu(to_nhwc(x.host));

        // Max forward: CPU reference, NHWC kernel, NCHW kernel.
        Tensor y_cpu = Tensor::empty(ys), arg_cpu = Tensor::empty(ys, DType::I32);
        ops::cpu::max_pool2d_forward(x.ref, y_cpu, arg_cpu, p);
        Guarded y(ys, pr.dt), arg(ys, DType::I32);
        ops::cuda::max_pool2d_forward(x_nhwc, y.view, arg.view, p, Layout::NHWC);
        y.expect_guards_intact(what + " max");
        arg.expect_guards_intact(what + " argmax");
        const Tensor y_back = back_to_nchw(y.view), arg_back = back_to_nchw(arg.view);
        expect_equal(y_back, y_cpu, what + " max");  // exact: one of the inputs
        expect_equal(arg_back, arg_cpu, what + " argmax");
        Tensor y_nchw = Tensor::empty(ys, pr.dt, gpu()), arg_nchw = Tensor::empty(ys, DType::I32, gpu());
        ops::cuda::max_pool2d_forward(x_nchw, y_nchw, arg_nchw, p);
        expect_equal(y_back, y_nchw, what + " max vs NCHW");
        expect_equal(arg_back, arg_nchw, what + " argmax vs NCHW");

        const LowpInput dy = lowp_input(ys, seed++, pr);
        const Tensor dy_nhwc = to_gpu(to_nhwc(dy.host));
        for (bool accumulate : {false, true}) {
          const std::string step = what + " max backward" + (accumulate ? " (+=)" : "");
          const LowpInput dx0 = lowp_input(xs, seed++, pr);
          Tensor dx_cpu = dx0.ref.clone();
          ops::cpu::max_pool2d_backward(dy.ref, arg_cpu, dx_cpu, accumulate);
          const Tensor dx0_nhwc = to_nhwc(dx0.host);
          Guarded dx(xs, pr.dt, &dx0_nhwc);
          ops::cuda::max_pool2d_backward(dy_nhwc, arg.view, dx.view, accumulate, Layout::NHWC);
          dx.expect_guards_intact(step);
          const Tensor dx_back = back_to_nchw(dx.view);
          expect_rounded_once(dx_back, dx_cpu, pr, kMaxBackward, step);
          if (deterministic) {
            // Same sums in the same order as the NCHW kernels, and the same bits every run.
            Tensor dx_nchw = dx0.gpu();
            ops::cuda::max_pool2d_backward(dy.gpu(), arg_nchw, dx_nchw, accumulate);
            expect_equal(dx_back, dx_nchw, step + " vs NCHW");
            Guarded again(xs, pr.dt, &dx0_nhwc);
            ops::cuda::max_pool2d_backward(dy_nhwc, arg.view, again.view, accumulate,
                                           Layout::NHWC);
            expect_equal(again.view, dx.view, step + " repeated");
          }
        }

        if (c.dilation != 1) continue;  // average pooling has no dilation
        Tensor a_cpu = Tensor::empty(ys);
        ops::cpu::avg_pool2d_forward(x.ref, a_cpu, p);
        Guarded a(ys, pr.dt);
        ops::cuda::avg_pool2d_forward(x_nhwc, a.view, p, Layout::NHWC);
        a.expect_guards_intact(what + " avg");
        const Tensor a_back = back_to_nchw(a.view);
        expect_rounded_once(a_back, a_cpu, pr, kAverage, what + " avg");
        Tensor a_nchw = Tensor::empty(ys, pr.dt, gpu());
        ops::cuda::avg_pool2d_forward(x_nchw, a_nchw, p);
        expect_equal(a_back, a_nchw, what + " avg vs NCHW");
        for (bool accumulate : {false, true}) {
          const std::string step = what + " avg backward" + (accumulate ? " (+=)" : "");
          const LowpInput dx0 = lowp_input(xs, seed++, pr);
          Tensor dx_cpu = dx0.ref.clone();
          ops::cpu::avg_pool2d_backward(dy.ref, dx_cpu, accumulate, p);
          const Tensor dx0_nhwc = to_nhwc(dx0.host);
          Guarded dx(xs, pr.dt, &dx0_nhwc);
          ops::cuda::avg_pool2d_backward(dy_nhwc, dx.view, accumulate, p, Layout::NHWC);
          dx.expect_guards_intact(step);
          const Tensor dx_back = back_to_nchw(dx.view);
          expect_rounded_once(dx_back, dx_cpu, pr, kAverage, step);
          Tensor dx_nchw = dx0.gpu();
          ops::cuda::avg_pool2d_backward(dy.gpu(), dx_nchw, accumulate, p);
          expect_equal(dx_back, dx_nchw, step + " vs NCHW");
        }
      }
  te::cuda::set_deterministic(false);
}

// The dispatcher in te::ops passes the layout on (the layers call it, not te::ops::cuda).
TEST_F(PoolNhwc, DispatcherPassesTheLayoutOn) {
  const PoolCase c{2, 6, 9, 7, 3, 2, 1, 1, false, true};
  const ops::Pool2dParams p = params_of(c);
  const Shape xs{c.n, c.c, c.h, c.w};
  const Shape ys{c.n, c.c, ops::pool_output_size(c.h, c.k, c.stride, c.pad, 1, false),
                 ops::pool_output_size(c.w, c.k, c.stride, c.pad, 1, false)};
  const Tensor x = rand_cpu(xs, 600);
  Tensor y_cpu = Tensor::empty(ys), arg_cpu = Tensor::empty(ys, DType::I32);
  ops::max_pool2d_forward(x, y_cpu, arg_cpu, p);
  Tensor y = Tensor::empty(ys, DType::F32, gpu()), arg = Tensor::empty(ys, DType::I32, gpu());
  ops::max_pool2d_forward(to_gpu(to_nhwc(x)), y, arg, p, Layout::NHWC);
  expect_equal(back_to_nchw(y), y_cpu, "dispatched NHWC max");
  expect_equal(back_to_nchw(arg), arg_cpu, "dispatched NHWC argmax");
  Tensor g_cpu = Tensor::empty(Shape{c.n, c.c}), g = Tensor::empty(Shape{c.n, c.c}, DType::F32, gpu());
  ops::global_avg_pool_forward(x, g_cpu);
  ops::global_avg_pool_forward(to_gpu(to_nhwc(x)), g, Layout::NHWC);
  expect_close(g, g_cpu, 1e-5, 1e-6, "dispatched NHWC global avg");
}

TEST_F(PoolNhwc, GlobalAveragePoolMatchesCpu) {
  uint64_t seed = 700;
  for (const Precision& pr : kAllTypes)
    for (const Shape& xs : {Shape{1, 1, 1, 1}, Shape{2, 512, 7, 7}, Shape{3, 5, 13, 3},
                            Shape{2, 70, 9, 11}}) {
      const Shape ys{xs[0], xs[1]};
      const std::string what = std::string("NHWC global avg ") + pr.name + " " + xs.str();
      const LowpInput x = lowp_input(xs, seed++, pr);
      Tensor y_cpu = Tensor::empty(ys);
      ops::cpu::global_avg_pool_forward(x.ref, y_cpu);
      Guarded y(ys, pr.dt);  // [N, C]: no layout
      ops::cuda::global_avg_pool_forward(to_gpu(to_nhwc(x.host)), y.view, Layout::NHWC);
      y.expect_guards_intact(what);
      expect_rounded_once(y.view, y_cpu, pr, kAverage, what);
      const LowpInput dy = lowp_input(ys, seed++, pr);
      for (bool accumulate : {false, true}) {
        const std::string step = what + " backward" + (accumulate ? " (+=)" : "");
        const LowpInput dx0 = lowp_input(xs, seed++, pr);
        Tensor dx_cpu = dx0.ref.clone();
        ops::cpu::global_avg_pool_backward(dy.ref, dx_cpu, accumulate);
        const Tensor dx0_nhwc = to_nhwc(dx0.host);
        Guarded dx(xs, pr.dt, &dx0_nhwc);
        ops::cuda::global_avg_pool_backward(dy.gpu(), dx.view, accumulate, Layout::NHWC);
        dx.expect_guards_intact(step);
        expect_rounded_once(back_to_nchw(dx.view), dx_cpu, pr, kAverage, step);
      }
    }
}

// A uint8 [N, H, W, C] batch of random bytes (never all zero).
Tensor random_image(const Shape& s, uint64_t seed) {
  return Tensor::from_vector(s, rand_cpu(s, seed, 0, 255.99).to_vector(), DType::U8);
}

TEST_F(PoolNhwc, NormalizeImagesWritesNhwc) {
  uint64_t seed = 800;
  for (const Precision& pr : kAllTypes)
    for (const Shape& s : {Shape{1, 1, 1, 1}, Shape{2, 5, 7, 3}, Shape{3, 32, 31, 1},
                           Shape{2, 9, 11, 16}}) {
      const Tensor img = random_image(s, seed++);
      const std::vector<float> mean = s[3] == 3 ? std::vector<float>{0.485f, 0.456f, 0.406f} : std::vector<float>{0.5f};
      const std::vector<float> stdv = s[3] == 3 ? std::vector<float>{0.229f, 0.224f, 0.225f} : std::vector<float>{0.25f};
      const Shape out{s[0], s[3], s[1], s[2]};
      const std::string what = std::string("NHWC normalize ") + pr.name + " " + s.str();
      Tensor y_cpu = Tensor::empty(out);
      ops::cpu::normalize_images(img, y_cpu, mean, stdv);
      Guarded y(out, pr.dt);
      ops::cuda::normalize_images(to_gpu(img), y.view, mean, stdv, Layout::NHWC);
      y.expect_guards_intact(what);
      expect_rounded_once(back_to_nchw(y.view), y_cpu, pr, kNormalize, what);
    }
}

// ---- CPU only (no GPU needed) ----

TEST(PoolNhwcCpu, CpuPoolingThrowsForNhwc) {
  const Shape xs{1, 2, 4, 4}, ys{1, 2, 2, 2};
  ops::Pool2dParams p;
  p.kernel_h = p.kernel_w = p.stride_h = p.stride_w = 2;
  const Tensor x = te::testing::random_tensor(xs, 900, -1, 1, DType::F32);
  const Tensor dy = te::testing::random_tensor(ys, 901, -1, 1, DType::F32);
  Tensor y = Tensor::empty(ys), arg = Tensor::empty(ys, DType::I32), dx = Tensor::empty(xs);
  Tensor g = Tensor::empty(Shape{1, 2});
  const Tensor dg = te::testing::random_tensor(Shape{1, 2}, 902, -1, 1, DType::F32);
  auto expect_nhwc_error = [](auto&& call, const char* op) {
    try {
      call();
      ADD_FAILURE() << op << ": no exception for NHWC on the CPU";
    } catch (const DeviceError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(op), std::string::npos) << msg;
      EXPECT_NE(msg.find("channels-last (NHWC) runs on CUDA only"), std::string::npos) << msg;
    }
  };
  expect_nhwc_error([&] { ops::max_pool2d_forward(x, y, arg, p, Layout::NHWC); }, "max_pool2d_forward");
  ops::max_pool2d_forward(x, y, arg, p);  // a valid argmax for the backward call
  expect_nhwc_error([&] { ops::max_pool2d_backward(dy, arg, dx, false, Layout::NHWC); },
                    "max_pool2d_backward");
  expect_nhwc_error([&] { ops::avg_pool2d_forward(x, y, p, Layout::NHWC); }, "avg_pool2d_forward");
  expect_nhwc_error([&] { ops::avg_pool2d_backward(dy, dx, false, p, Layout::NHWC); },
                    "avg_pool2d_backward");
  expect_nhwc_error([&] { ops::global_avg_pool_forward(x, g, Layout::NHWC); },
                    "global_avg_pool_forward");
  expect_nhwc_error([&] { ops::global_avg_pool_backward(dg, dx, false, Layout::NHWC); },
                    "global_avg_pool_backward");
}

// The CPU backend writes NHWC normalisation too: the NCHW result in the other memory order,
// element for element the same arithmetic, so exactly equal (f32 and f64).
TEST(PoolNhwcCpu, CpuNormalizeImagesWritesNhwc) {
  uint64_t seed = 950;
  for (DType dt : {DType::F32, DType::F64})
    for (const Shape& s : {Shape{1, 1, 1, 1}, Shape{2, 5, 7, 3}, Shape{3, 4, 6, 2}}) {
      const Tensor img = random_image(s, seed++);
      const std::vector<float> mean = s[3] == 3 ? std::vector<float>{0.485f, 0.456f, 0.406f} : std::vector<float>{0.5f};
      const std::vector<float> stdv = s[3] == 3 ? std::vector<float>{0.229f, 0.224f, 0.225f} : std::vector<float>{0.25f};
      const Shape out{s[0], s[3], s[1], s[2]};
      Tensor nchw = Tensor::empty(out, dt), nhwc = Tensor::empty(out, dt);
      ops::normalize_images(img, nchw, mean, stdv);
      ops::normalize_images(img, nhwc, mean, stdv, Layout::NHWC);
      const std::vector<double> a = from_nhwc(nhwc).to_f64_vector(), b = nchw.to_f64_vector();
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << s.str() << " element " << i;
      // By hand: NHWC keeps the input's order, element i comes from byte i, channel i % C.
      const std::vector<double> bytes = img.to_f64_vector(), mem = nhwc.to_f64_vector();
      for (size_t i = 0; i < mem.size(); ++i) {
        const size_t k = i % static_cast<size_t>(s[3]);
        const double m = mean.size() == 1 ? mean[0] : mean[k], sd = stdv.size() == 1 ? stdv[0] : stdv[k];
        ASSERT_NEAR(mem[i], (bytes[i] / 255.0 - m) / sd, 1e-5) << s.str() << " element " << i;
      }
    }
}

}  // namespace
}  // namespace te::cuda_test
