#pragma once
// Helpers shared by the spatial layer tests: build a layer from a YAML snippet through the
// registry, run forward/backward, and a naive direct convolution as an independent reference.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/core/parallel.h"
#include "engine/layers/registry.h"
#include "tests/support/gradcheck.h"

namespace te::testing {

// create_layer(type) with the arguments in `yaml` (a flow mapping, e.g. "{kernel: 3}").
inline std::unique_ptr<Layer> make_layer(const std::string& type, const std::string& yaml,
                                         const std::string& name = "l1") {
  LayerArgs args(YAML::Load(yaml), "test.yaml", name);
  return create_layer(type, args);
}

inline Tensor run_forward(Layer& layer, const Tensor& x, bool training = true) {
  Tensor y = Tensor::empty(layer.output_shape({x.shape()}), x.dtype());
  RunContext ctx;
  ctx.training = training;
  layer.forward({&x}, y, ctx);
  return y;
}

// Backward for one input; returns dx (Overwrite) and leaves parameter gradients in the layer
// (zeroed first).
inline Tensor run_backward(Layer& layer, const Tensor& x, const Tensor& y, const Tensor& dy) {
  Tensor dx = Tensor::empty(x.shape(), x.dtype());
  for (auto& p : layer.params()) p.grad.zero();
  BackwardArgs args;
  args.inputs = {&x};
  args.output = &y;
  args.grad_output = &dy;
  args.grad_inputs = {&dx};
  args.modes = {GradMode::Overwrite};
  layer.backward(args);
  return dx;
}

inline void expect_values(const Tensor& t, const std::vector<double>& want, double tol = 1e-12) {
  const std::vector<double> got = t.to_f64_vector();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

struct NaiveConv {
  int64_t kh, kw, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
};

// Direct 7-loop convolution in double, the reference for the im2col/GEMM kernels.
inline std::vector<double> naive_conv2d(const Tensor& x, const Tensor& w, const Tensor* b,
                                        const NaiveConv& c) {
  const auto xv = x.to_f64_vector(), wv = w.to_f64_vector();
  const int64_t n = x.dim(0), ci = x.dim(1), h = x.dim(2), wd = x.dim(3), o = w.dim(0);
  const int64_t cg = ci / c.groups, og = o / c.groups;
  const int64_t oh = (h + 2 * c.ph - c.dh * (c.kh - 1) - 1) / c.sh + 1;
  const int64_t ow = (wd + 2 * c.pw - c.dw * (c.kw - 1) - 1) / c.sw + 1;
  std::vector<double> y(static_cast<size_t>(n * o * oh * ow), 0.0);
  const std::vector<double> bv = b ? b->to_f64_vector() : std::vector<double>(o, 0.0);
  for (int64_t in = 0; in < n; ++in)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t yy = 0; yy < oh; ++yy)
        for (int64_t xx = 0; xx < ow; ++xx) {
          double s = bv[oc];
          const int64_t g = oc / og;
          for (int64_t c2 = 0; c2 < cg; ++c2)
            for (int64_t i = 0; i < c.kh; ++i)
              for (int64_t j = 0; j < c.kw; ++j) {
                const int64_t iy = yy * c.sh - c.ph + i * c.dh, ix = xx * c.sw - c.pw + j * c.dw;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                s += wv[((oc * cg + c2) * c.kh + i) * c.kw + j] *
                     xv[((in * ci + g * cg + c2) * h + iy) * wd + ix];
              }
          y[((in * o + oc) * oh + yy) * ow + xx] = s;
        }
  return y;
}

// Restores the thread count when a test changes it.
class ThreadCountGuard {
 public:
  ThreadCountGuard() : saved_(num_threads()) {}
  ~ThreadCountGuard() { set_num_threads(saved_); }

 private:
  int saved_;
};

}  // namespace te::testing
