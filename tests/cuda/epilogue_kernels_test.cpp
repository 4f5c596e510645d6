// Our own kernels around the cuDNN / cuBLAS calls, tested at their launchers against host
// references computed in double: bias adds and bias-gradient sums (channels.cu, rows.cu,
// lowp_epilogue.cu: every output / input dtype pair) and the filter transposes of
// filter_layout.cu. The convolution and linear ops that use them need cuDNN and cuBLAS, so
// these kernels are checked here on their own, on a GPU and in the SIMT emulation alike.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cuda/context.h"
#include "kernels/cuda/filter_layout.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/lowp_epilogue.h"
#include "tests/cuda/lowp_test_util.h"

namespace te::cuda_test {
namespace {

namespace launch = te::cuda::launch;

class EpilogueKernels : public CudaTest {};

const std::vector<DType> kTypes = {DType::F32, DType::BF16, DType::F16};
struct Dims {
  int64_t n, c, hw;
};
const std::vector<Dims> kDims = {{1, 1, 1}, {3, 5, 7}, {2, 33, 17}};

cudaStream_t stream() { return te::cuda::context().compute; }

Tensor input(const Shape& s, DType dt, uint64_t seed) { return rounded_to(rand_cpu(s, seed), dt); }

std::string name_of(const char* op, DType a, DType b, const Dims& d) {
  return std::string(op) + " " + dtype_name(a) + "/" + dtype_name(b) + " n" + std::to_string(d.n) +
         " c" + std::to_string(d.c) + " hw" + std::to_string(d.hw);
}

// The output against the double reference `want`: f32 within float rounding, 16-bit types
// rounded once (lowp_test_util.h).
void expect_result(const Guarded& out, const std::vector<double>& want, DType dt,
                   const std::string& what) {
  out.expect_guards_intact(what);
  const Tensor ref = Tensor::from_vector_f64(out.view.shape(), want);
  if (dt == DType::F32)
    expect_close(out.view, ref, 1e-6, 1e-6, what);
  else
    expect_rounded_once(out.view, ref, dt == DType::BF16 ? kBf16 : kF16, F32Slack{1e-6, 1e-6, 0}, what);
}

TEST_F(EpilogueKernels, BiasAddsMatchHost) {
  uint64_t seed = 1;
  for (const Dims& d : kDims)
    for (DType yt : kTypes)
      for (DType bt : kTypes) {
        const Tensor bias = input({d.c}, bt, seed++), bias_g = to_gpu(bias);
        const std::vector<double> b = values_of(bias);
        // [N, C, HW]: y[n, c, :] += bias[c]
        const Tensor y0 = input({d.n, d.c, d.hw}, yt, seed++);
        const std::vector<double> v0 = values_of(y0);
        std::vector<double> want(v0.size());
        for (size_t i = 0; i < v0.size(); ++i) want[i] = v0[i] + b[i / d.hw % d.c];
        Guarded y({d.n, d.c, d.hw}, yt, &y0);
        launch::lowp::add_channel_bias(y.view.raw(), yt, bias_g.raw(), bt, d.n, d.c, d.hw, stream());
        expect_result(y, want, yt, name_of("lowp::add_channel_bias", yt, bt, d));
        if (yt == DType::F32 && bt == DType::F32) {
          Guarded y32({d.n, d.c, d.hw}, yt, &y0);
          launch::add_channel_bias(static_cast<float*>(y32.view.raw()),
                                   static_cast<const float*>(bias_g.raw()), d.n, d.c, d.hw, stream());
          expect_result(y32, want, yt, name_of("add_channel_bias", yt, bt, d));
        }
        // [M, C] (channels-last, and Linear's rows): y[m, c] += bias[c]
        const int64_t m = d.n * d.hw;
        const Tensor r0 = input({m, d.c}, yt, seed++);
        const std::vector<double> w0 = values_of(r0);
        std::vector<double> want_rows(w0.size());
        for (size_t i = 0; i < w0.size(); ++i) want_rows[i] = w0[i] + b[i % d.c];
        Guarded nhwc({m, d.c}, yt, &r0);
        launch::lowp::add_channel_bias_nhwc(nhwc.view.raw(), yt, bias_g.raw(), bt, m, d.c, stream());
        expect_result(nhwc, want_rows, yt, name_of("lowp::add_channel_bias_nhwc", yt, bt, d));
        Guarded rows({m, d.c}, yt, &r0);
        launch::lowp::add_row_bias(rows.view.raw(), yt, bias_g.raw(), bt, m, d.c, stream());
        expect_result(rows, want_rows, yt, name_of("lowp::add_row_bias", yt, bt, d));
        if (yt == DType::F32 && bt == DType::F32) {
          Guarded rows32({m, d.c}, yt, &r0);
          launch::add_row_bias(static_cast<float*>(rows32.view.raw()),
                               static_cast<const float*>(bias_g.raw()), m, d.c, stream());
          expect_result(rows32, want_rows, yt, name_of("add_row_bias", yt, bt, d));
        }
      }
}

TEST_F(EpilogueKernels, BiasGradientSumsMatchHost) {
  uint64_t seed = 100;
  for (const Dims& d : kDims)
    for (DType xt : kTypes)
      for (DType ot : kTypes) {
        const Tensor out0 = input({d.c}, ot, seed++);
        const std::vector<double> o0 = values_of(out0);
        // [N, C, HW]: out[c] += sum over n, hw
        const Tensor dy = input({d.n, d.c, d.hw}, xt, seed++), dy_g = to_gpu(dy);
        const std::vector<double> g = values_of(dy);
        std::vector<double> want = o0;
        for (size_t i = 0; i < g.size(); ++i) want[i / d.hw % d.c] += g[i];
        Guarded out({d.c}, ot, &out0);
        launch::lowp::add_channel_sums(dy_g.raw(), xt, d.n, d.c, d.hw, out.view.raw(), ot, stream());
        expect_result(out, want, ot, name_of("lowp::add_channel_sums", xt, ot, d));
        if (xt == DType::F32 && ot == DType::F32) {
          // The f32 path: channel_sums' partials, then add_channel_partials.
          const int splits = launch::channel_splits(d.n, d.c, d.hw, te::cuda::context().sm_count);
          Tensor partials = Tensor::empty({d.c * splits * 2}, DType::F64, gpu());
          launch::channel_sums(static_cast<const float*>(dy_g.raw()), d.n, d.c, d.hw, splits,
                               static_cast<double*>(partials.raw()), stream());
          Guarded out32({d.c}, ot, &out0);
          launch::add_channel_partials(static_cast<const double*>(partials.raw()), splits, d.c,
                                       static_cast<float*>(out32.view.raw()), stream());
          expect_result(out32, want, ot, name_of("add_channel_partials", xt, ot, d));
        }
        // [M, C]: out[c] += sum over m (channels-last), and Linear's column sums.
        const int64_t m = d.n * d.hw;
        const Tensor rows = input({m, d.c}, xt, seed++), rows_g = to_gpu(rows);
        const std::vector<double> r = values_of(rows);
        std::vector<double> want_cols = o0;
        for (size_t i = 0; i < r.size(); ++i) want_cols[i % d.c] += r[i];
        Tensor partials = Tensor::empty({launch::lowp::channel_sums_nhwc_splits(m, d.c) * d.c},
                                        DType::F64, gpu());
        Guarded nhwc({d.c}, ot, &out0);
        launch::lowp::add_channel_sums_nhwc(rows_g.raw(), xt, m, d.c,
                                            static_cast<double*>(partials.raw()), nhwc.view.raw(),
                                            ot, stream());
        expect_result(nhwc, want_cols, ot, name_of("lowp::add_channel_sums_nhwc", xt, ot, d));
        Guarded cols({d.c}, ot, &out0);
        launch::lowp::add_column_sums(rows_g.raw(), xt, m, d.c, cols.view.raw(), ot, stream());
        expect_result(cols, want_cols, ot, name_of("lowp::add_column_sums", xt, ot, d));
        if (xt == DType::F32 && ot == DType::F32) {
          Guarded cols32({d.c}, ot, &out0);
          launch::add_column_sums(static_cast<const float*>(rows_g.raw()), m, d.c,
                                  static_cast<float*>(cols32.view.raw()), stream());
          expect_result(cols32, want_cols, ot, name_of("add_column_sums", xt, ot, d));
        }
      }
}

TEST_F(EpilogueKernels, AddConvertedMatchesHost) {
  uint64_t seed = 200;
  for (int64_t n : {1, 1000, 4099})
    for (DType st : kTypes)
      for (DType dt : kTypes) {
        const Tensor src = input({n}, st, seed++), src_g = to_gpu(src), dst0 = input({n}, dt, seed++);
        const std::vector<double> s = values_of(src), d0 = values_of(dst0);
        std::vector<double> want(d0.size());
        for (size_t i = 0; i < want.size(); ++i) want[i] = d0[i] + s[i];
        Guarded dst({n}, dt, &dst0);
        launch::lowp::add_converted(src_g.raw(), st, dst.view.raw(), dt, n, stream());
        expect_result(dst, want, dt, name_of("lowp::add_converted", st, dt, Dims{n, 1, 1}));
      }
}

TEST_F(EpilogueKernels, FilterTransposesMoveEveryElementExactly) {
  uint64_t seed = 300;
  for (DType dt : {DType::F32, DType::BF16})  // 4-byte and 2-byte elements
    for (const Dims& f : std::vector<Dims>{{1, 1, 1}, {4, 3, 9}, {5, 7, 1}, {64, 3, 49}}) {
      const int64_t k = f.n, c = f.c, rs = f.hw;
      const Tensor kcrs = input({k, c, rs}, dt, seed++), kcrs_g = to_gpu(kcrs);
      const std::vector<double> v = values_of(kcrs);
      std::vector<double> want(v.size());
      for (int64_t a = 0; a < k; ++a)
        for (int64_t ci = 0; ci < c; ++ci)
          for (int64_t p = 0; p < rs; ++p) want[(a * rs + p) * c + ci] = v[(a * c + ci) * rs + p];
      const std::string what = std::string("kcrs_to_krsc ") + dtype_name(dt) + " k" +
                               std::to_string(k) + " c" + std::to_string(c) + " rs" + std::to_string(rs);
      Guarded krsc({k, rs, c}, dt);
      launch::kcrs_to_krsc(kcrs_g.raw(), krsc.view.raw(), dtype_size(dt), k, c, rs, stream());
      krsc.expect_guards_intact(what);
      expect_equal(krsc.view, Tensor::from_vector_f64({k, rs, c}, want), what);
      Guarded back({k, c, rs}, dt);
      launch::krsc_to_kcrs(krsc.view.raw(), back.view.raw(), dtype_size(dt), k, c, rs, stream());
      back.expect_guards_intact(what + " and back");
      expect_equal(back.view, kcrs, what + " and back");
    }
}

}  // namespace
}  // namespace te::cuda_test
