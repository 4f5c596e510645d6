// Convolutions whose per-image column matrix is large are computed in blocks of output rows
// (kernels/cpu/conv2d.cpp, e.g. the 7x7 stride-2 stem): output, bias and weight gradient
// against direct double-precision loops, on shapes with a partial last block.
#include "tests/layers_spatial/spatial_util.h"

namespace te::testing {
namespace {

// dW[o, c, i, j] = sum over n, oh, ow of dy[n, o, oh, ow] * x[n, c, oh*s - p + i, ow*s - p + j].
std::vector<double> naive_weight_grad(const Tensor& x, const Tensor& dy, int64_t k, int64_t s,
                                      int64_t p) {
  const auto xv = x.to_f64_vector(), gv = dy.to_f64_vector();
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  const int64_t o = dy.dim(1), oh = dy.dim(2), ow = dy.dim(3);
  std::vector<double> dw(static_cast<size_t>(o * c * k * k), 0.0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t yy = 0; yy < oh; ++yy)
        for (int64_t xx = 0; xx < ow; ++xx) {
          const double g = gv[((b * o + oc) * oh + yy) * ow + xx];
          for (int64_t ic = 0; ic < c; ++ic)
            for (int64_t i = 0; i < k; ++i)
              for (int64_t j = 0; j < k; ++j) {
                const int64_t iy = yy * s - p + i, ix = xx * s - p + j;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                dw[((oc * c + ic) * k + i) * k + j] += g * xv[((b * c + ic) * h + iy) * w + ix];
              }
        }
  return dw;
}

TEST(Conv2dRowBlocks, LargeColumnMatricesMatchDirectLoops) {
  struct Case {
    const char* yaml;
    Shape input;
    int64_t k, s, p;
  };
  // Column matrices of 75 x 4875 and 27 x 14400 entries: several row blocks each, the last
  // one partial.
  const Case cases[] = {
      {"{out_channels: 4, kernel: 5, stride: 2, padding: 2}", Shape{2, 3, 150, 130}, 5, 2, 2},
      {"{out_channels: 3, kernel: 3, stride: 2, bias: false}", Shape{1, 3, 241, 241}, 3, 2, 0},
  };
  uint64_t seed = 7;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml);
    auto conv = make_layer("conv2d", c.yaml);
    const Tensor x = random_tensor(c.input, seed++);
    prepare_layer_f64(*conv, {x}, seed++);
    const bool bias = conv->params().size() == 2;
    const Tensor y = run_forward(*conv, x);
    expect_values(y,
                  naive_conv2d(x, conv->params()[0].value,
                               bias ? &conv->params()[1].value : nullptr,
                               {c.k, c.k, c.s, c.s, c.p, c.p}),
                  1e-11);
    const Tensor dy = random_tensor(y.shape(), seed++);
    run_backward(*conv, x, y, dy);
    expect_values(conv->params()[0].grad, naive_weight_grad(x, dy, c.k, c.s, c.p), 1e-10);
  }
}

}  // namespace
}  // namespace te::testing
