// Synchronised batch norm (kernels/batchnorm_sync.h) on CUDA tensors:
//   - against the CPU backend (f32, NCHW) on the same random non-zero inputs, every step and
//     every output: the sums vectors, y, the running and saved statistics, num_batches_tracked,
//     dx (overwritten, accumulated, not wanted), dweight, dbias; NCHW and NHWC, f32 and bf16,
//     with and without weight/bias;
//   - the "two replicas" identity on the device: the halves of a batch, their sums vectors
//     added by hand (what BatchStatsSync does), give the plain batch norm of the whole batch
//     (kernels/batchnorm.h's batchnorm_forward_train / backward_train on the same device).
// Tolerances.
//   sums vectors: the same inputs (the bf16 values exactly, in f32 on the CPU) summed in double
//     in another order (the GPU's splits and block reductions): they differ by rounding of
//     the double sums, at most about (terms) * 2^-53 * sum|term| (standard summation bound);
//     1e-12 * terms * max|term| is above that and still 10^4 times below what one wrong or
//     missing term would change.
//   outputs against the CPU: those of the plain batch norm's tests of the same kernels,
//     batchnorm_ops_test.cpp (f32) and lowp_batchnorm_test.cpp (bf16: one rounding of the
//     float result, lowp_test_util.h), since the GPU side runs those kernels:
//     y 1e-4 |ref| + 1e-5; dx 1e-3 |ref| + 1e-5 for f32, 2^-14 max|dx| + 1e-5 before the bf16
//     rounding (dx = A dy + B (x - mean) + D cancels, so a relative bound means little);
//     statistics and parameter gradients f32 on both sides, the f32 tests' tolerances.
//   two replicas against one: the same kernels and inputs; only the order of the double sums
//     differs (two partial reductions added on the host), which can move a float statistic or
//     coefficient by an ulp (2^-24 relative) and so y and dx by a few 2^-24 of their terms:
//     f32 outputs 1e-5 |ref| + 1e-5. A 16-bit output whose float value moved by that much can
//     round to the neighbouring bf16 value: one bf16 unit in the last place (2^-7 relative)
//     more. Parameter gradients: the two halves' float additions, 1e-5 relative + 1e-5.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/batchnorm_sync.h"
#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda/lowp_test_util.h"
#include "tests/cuda/nhwc_test_util.h"

namespace te::cuda_test {
namespace {

// ---- without a GPU ----

Tensor filled(const Shape& shape, double value) {
  Tensor t = Tensor::empty(shape);
  t.fill(value);
  return t;
}

TEST(BatchNormSyncCpu, ChannelsLastIsADeviceError) {
  const Shape xs{2, 3, 2, 2};
  const Tensor x = rand_cpu(xs, 1), dy = rand_cpu(xs, 2);
  Tensor rm = Tensor::zeros({3}), rv = filled({3}, 1.0), sm = Tensor::zeros({3});
  Tensor si = filled({3}, 1.0), y = Tensor::empty(xs), dx = Tensor::empty(xs);
  const std::vector<double> stats(7, 1.0), sums(6, 1.0);
  const Layout L = Layout::NHWC;
  expect_mentions(error_of([&] { ops::batchnorm_sync_stats(x, L); }), {"NHWC", "CUDA"});
  EXPECT_THROW(ops::batchnorm_sync_stats(x, L), DeviceError);
  EXPECT_THROW(ops::batchnorm_sync_forward(x, nullptr, nullptr, {1, 1, 1, 1, 1, 1, 8}, rm, rv,
                                           nullptr, sm, si, 1e-5, 0.1, y, L),
               DeviceError);
  EXPECT_THROW(ops::batchnorm_sync_backward_sums(x, dy, sm, si, L), DeviceError);
  EXPECT_THROW(ops::batchnorm_sync_backward(x, dy, nullptr, sm, si, sums, sums, 8, &dx, false,
                                            nullptr, nullptr, L),
               DeviceError);
  EXPECT_EQ(ops::batchnorm_sync_stats(x).size(), 7u);  // NCHW still works
}

// ---- CUDA ----

class BatchNormSyncCuda : public CudaTest {};

// An activation dtype: f32, or bf16 with its rounding bound (lowp_test_util.h).
struct Prec {
  DType dt;
  const Precision* lowp;  // null for f32
  const char* name;
};
const Prec kF32Prec{DType::F32, nullptr, "f32"};
const Prec kBf16Prec{DType::BF16, &kBf16, "bf16"};
const Layout kLayouts[] = {Layout::NCHW, Layout::NHWC};

// A random input in the call's dtype (host, NCHW) and its exact f32 values (ref).
LowpInput make_input(const Shape& shape, uint64_t seed, const Prec& p, double lo = -1.0,
                     double hi = 1.0) {
  if (p.lowp) return lowp_input(shape, seed, *p.lowp, lo, hi);
  LowpInput in;
  in.host = rand_cpu(shape, seed, lo, hi);
  in.ref = in.host;
  return in;
}

// An NCHW host tensor on the device in `layout`'s memory order, and back.
Tensor to_device(const Tensor& nchw_host, Layout layout) {
  return to_gpu(layout == Layout::NHWC ? to_nhwc(nchw_host) : nchw_host);
}
Tensor to_nchw_host(const Tensor& device_t, Layout layout) {
  const Tensor host = device_t.to(Device::cpu());
  return layout == Layout::NHWC ? from_nhwc(host) : host;
}
// A guarded device output in `layout`'s order, starting at `init` (NCHW host) when given.
Guarded guarded_out(const Shape& xs, DType dt, Layout layout, const Tensor* init = nullptr) {
  if (!init) return Guarded(xs, dt);
  const Tensor h = layout == Layout::NHWC ? to_nhwc(*init) : *init;
  return Guarded(xs, dt, &h);
}

// The device result (in `layout`) against the NCHW f32 reference: rtol/atol for f32, and for
// bf16 one rounding of a float value within `slack` of the reference.
void expect_output_close(const Tensor& gpu_t, Layout layout, const Tensor& ref, const Prec& p,
                         double rtol, double atol, const F32Slack& slack, const std::string& what) {
  const Tensor back = to_nchw_host(gpu_t, layout);
  if (p.lowp)
    expect_rounded_once(back, ref, *p.lowp, slack, what);
  else
    expect_close(back, ref, rtol, atol, what);
}

// Sums vectors of the same inputs in another order: |a - b| <= 1e-12 * terms * max|term| per
// entry (header), with max|term| for each of the two halves of the vector.
void expect_sums_close(const std::vector<double>& gpu_s, const std::vector<double>& cpu_s,
                       int64_t c, double terms, double max_first, double max_second,
                       const std::string& what) {
  ASSERT_EQ(gpu_s.size(), cpu_s.size()) << what;
  for (size_t i = 0; i < gpu_s.size(); ++i) {
    const bool first = static_cast<int64_t>(i) < c;
    const double bound = i >= static_cast<size_t>(2 * c)
                             ? 0.0  // the count M: exact
                             : 1e-12 * terms * (first ? max_first : max_second);
    EXPECT_LE(std::fabs(gpu_s[i] - cpu_s[i]), bound)
        << what << ": entry " << i << " gpu " << gpu_s[i] << " cpu " << cpu_s[i];
  }
}

std::string describe(const Shape& xs, const Prec& p, Layout layout, bool affine) {
  return "sync batchnorm " + xs.str() + " " + p.name + " " + layout_name(layout) +
         (affine ? "" : " no affine");
}

// One replica through all four steps on both backends, everything compared.
void check_against_cpu(const Shape& xs, const Prec& p, Layout layout, bool affine,
                       uint64_t& seed) {
  const int64_t c = xs[1];
  const std::string what = describe(xs, p, layout, affine);
  const LowpInput x = make_input(xs, seed++, p, -2, 3);  // a mean away from 0 per channel
  const Tensor w = rand_cpu({c}, seed++, 0.5, 1.5), b = rand_cpu({c}, seed++);
  const Tensor rm0 = rand_cpu({c}, seed++), rv0 = rand_cpu({c}, seed++, 0.5, 2);
  const Tensor wg = to_gpu(w), bg = to_gpu(b), xg = to_device(x.host, layout);
  const Tensor* wc = affine ? &w : nullptr;
  const Tensor* bc = affine ? &b : nullptr;
  const double terms = static_cast<double>(x.ref.numel() / c);

  // Statistics and forward.
  const std::vector<double> stats_cpu = ops::cpu::batchnorm_sync_stats(x.ref);
  const std::vector<double> stats = ops::batchnorm_sync_stats(xg, layout);
  const double max_x = max_abs(x.ref);
  expect_sums_close(stats, stats_cpu, c, terms, max_x, max_x * max_x, what + " stats");
  Tensor rm_cpu = rm0.clone(), rv_cpu = rv0.clone();
  Tensor nbt_cpu = Tensor::from_vector({}, {3}, DType::I64);
  Tensor sm_cpu = Tensor::empty({c}), si_cpu = Tensor::empty({c}), y_cpu = Tensor::empty(xs);
  ops::cpu::batchnorm_sync_forward(x.ref, wc, bc, stats_cpu, rm_cpu, rv_cpu, &nbt_cpu, sm_cpu,
                                   si_cpu, 1e-5, 0.1, y_cpu);
  Guarded y = guarded_out(xs, p.dt, layout), rm({c}, DType::F32, &rm0), rv({c}, DType::F32, &rv0);
  Guarded sm({c}, DType::F32), si({c}, DType::F32);
  Tensor nbt = to_gpu(Tensor::from_vector({}, {3}, DType::I64));
  ops::batchnorm_sync_forward(xg, affine ? &wg : nullptr, affine ? &bg : nullptr, stats, rm.view,
                              rv.view, &nbt, sm.view, si.view, 1e-5, 0.1, y.view, layout);
  for (auto* g : {&y, &rm, &rv, &sm, &si}) g->expect_guards_intact(what);
  expect_output_close(y.view, layout, y_cpu, p, 1e-4, 1e-5, {1e-4, 1e-5, 0}, what + " y");
  expect_close(rm.view, rm_cpu, 1e-5, 1e-6, what + " running_mean");
  expect_close(rv.view, rv_cpu, 1e-5, 1e-6, what + " running_var");
  expect_close(sm.view, sm_cpu, 1e-5, 1e-6, what + " save_mean");
  expect_close(si.view, si_cpu, 1e-4, 1e-6, what + " save_invstd");
  expect_equal(nbt, nbt_cpu, what + " num_batches_tracked (3 + 1)");

  // Backward, with the same saved statistics on both sides (the CPU's).
  const LowpInput dy = make_input(xs, seed++, p);
  const Tensor dyg = to_device(dy.host, layout), smg = to_gpu(sm_cpu), sig = to_gpu(si_cpu);
  const std::vector<double> local_cpu = ops::cpu::batchnorm_sync_backward_sums(x.ref, dy.ref, sm_cpu, si_cpu);
  const std::vector<double> local = ops::batchnorm_sync_backward_sums(xg, dyg, smg, sig, layout);
  // |dy * xhat| <= max|dy| * max|x - mean| * max invstd
  double max_xhat = 0;
  for (int64_t ch = 0; ch < c; ++ch)
    max_xhat = std::max(max_xhat, (max_x + std::fabs(sm_cpu.data<float>()[ch])) * si_cpu.data<float>()[ch]);
  expect_sums_close(local, local_cpu, c, terms, max_abs(dy.ref), max_abs(dy.ref) * max_xhat,
                    what + " backward sums");
  // (dx wanted, accumulate): overwrite, accumulate, parameter gradients only.
  for (auto [want_dx, accumulate] :
       {std::pair{true, false}, std::pair{true, true}, std::pair{false, false}}) {
    const std::string step = what + (want_dx ? "" : " no dx") + (accumulate ? " acc" : "");
    const LowpInput dx0 = make_input(xs, seed++, p);
    const Tensor dw0 = rand_cpu({c}, seed++), db0 = rand_cpu({c}, seed++);
    Tensor dx_cpu = dx0.ref.clone(), dw_cpu = dw0.clone(), db_cpu = db0.clone();
    ops::cpu::batchnorm_sync_backward(x.ref, dy.ref, wc, sm_cpu, si_cpu, local_cpu, local_cpu,
                                      stats_cpu.back(), want_dx ? &dx_cpu : nullptr, accumulate,
                                      affine ? &dw_cpu : nullptr, affine ? &db_cpu : nullptr);
    Guarded dx = guarded_out(xs, p.dt, layout, &dx0.host);
    Guarded dw({c}, DType::F32, &dw0), db({c}, DType::F32, &db0);
    ops::batchnorm_sync_backward(xg, dyg, affine ? &wg : nullptr, smg, sig, local, local,
                                 stats.back(), want_dx ? &dx.view : nullptr, accumulate,
                                 affine ? &dw.view : nullptr, affine ? &db.view : nullptr, layout);
    for (auto* g : {&dx, &dw, &db}) g->expect_guards_intact(step + " backward");
    if (want_dx)
      expect_output_close(dx.view, layout, dx_cpu, p, 1e-3, 1e-5, {0, 1e-5, 0x1p-14}, step + " dx");
    else
      expect_equal(to_nchw_host(dx.view, layout), dx0.ref, step + " dx (not wanted: untouched)");
    expect_close(dw.view, affine ? dw_cpu : dw0, 1e-4, 1e-4, step + " dweight");
    expect_close(db.view, affine ? db_cpu : db0, 1e-4, 1e-4, step + " dbias");
  }
}

// C below, at and above the NHWC kernels' 32-channel tile, rank 2, and enough values per
// channel for several partial sums per channel in both layouts (channel_partial_sums adds them).
const std::vector<Shape> kShapes = {{2, 3, 5, 7}, {4, 16, 9, 9}, {3, 40, 6, 6}, {6, 5}, {16, 4, 32, 32}};

TEST_F(BatchNormSyncCuda, F32MatchesCpu) {
  uint64_t seed = 1;
  for (Layout layout : kLayouts)
    for (const Shape& xs : kShapes)
      for (bool affine : {true, false}) check_against_cpu(xs, kF32Prec, layout, affine, seed);
}

TEST_F(BatchNormSyncCuda, Bf16MatchesCpu) {
  uint64_t seed = 500;
  for (Layout layout : kLayouts)
    for (const Shape& xs : kShapes)
      for (bool affine : {true, false}) check_against_cpu(xs, kBf16Prec, layout, affine, seed);
}

std::vector<double> added(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> s(a.size());
  for (size_t i = 0; i < a.size(); ++i) s[i] = a[i] + b[i];
  return s;
}

// Two replicas vs one, both on the device (tolerances: header).
void check_two_replicas(const Prec& p, Layout layout, uint64_t seed) {
  const Shape whole{4, 6, 5, 3}, half{2, 6, 5, 3};
  const int64_t c = whole[1], n = half.numel();
  const std::string what = std::string("two replicas ") + p.name + " " + layout_name(layout);
  const LowpInput x = make_input(whole, seed++, p, -2, 3), dy = make_input(whole, seed++, p);
  const Tensor w = to_gpu(rand_cpu({c}, seed++, 0.5, 1.5)), b = to_gpu(rand_cpu({c}, seed++));
  const Tensor rm0 = rand_cpu({c}, seed++), rv0 = rand_cpu({c}, seed++, 0.5, 2);
  const Tensor dw0 = rand_cpu({c}, seed++), db0 = rand_cpu({c}, seed++);
  // N is the outermost dimension in both layouts: the halves are contiguous either way.
  const Tensor xg = to_device(x.host, layout), dyg = to_device(dy.host, layout);
  const double eps = 1e-5, momentum = 0.1;
  struct State {
    Tensor rm, rv, sm, si, nbt;
  };
  auto fresh = [&] {
    return State{to_gpu(rm0), to_gpu(rv0), to_gpu(Tensor::zeros({c})), to_gpu(Tensor::zeros({c})),
                 to_gpu(Tensor::zeros({}, DType::I64))};
  };

  // The reference: one replica, the whole batch, plain batch norm.
  State ref = fresh();
  Tensor y_ref = Tensor::empty(whole, p.dt, gpu()), dx_ref = Tensor::empty(whole, p.dt, gpu());
  Tensor dw_ref = to_gpu(dw0), db_ref = to_gpu(db0);
  ops::batchnorm_forward_train(xg, &w, &b, ref.rm, ref.rv, &ref.nbt, ref.sm, ref.si, eps, momentum,
                               y_ref, layout);
  ops::batchnorm_backward_train(xg, dyg, &w, ref.sm, ref.si, &dx_ref, false, &dw_ref, &db_ref, layout);

  // Two replicas, each with its half; the "all-reduce" is the sum of their vectors.
  const Tensor xs[2] = {xg.slice_flat(0, half), xg.slice_flat(n, half)};
  const Tensor dys[2] = {dyg.slice_flat(0, half), dyg.slice_flat(n, half)};
  const std::vector<double> stats =
      added(ops::batchnorm_sync_stats(xs[0], layout), ops::batchnorm_sync_stats(xs[1], layout));
  EXPECT_EQ(stats.back(), 60.0) << what;  // 4 images x 15 positions per channel
  State rep[2] = {fresh(), fresh()};
  Tensor y = Tensor::empty(whole, p.dt, gpu()), dx = Tensor::empty(whole, p.dt, gpu());
  Tensor dw = to_gpu(dw0), db = to_gpu(db0);
  std::vector<double> local[2];
  for (int r = 0; r < 2; ++r) {
    Tensor yr = y.slice_flat(r * n, half);
    ops::batchnorm_sync_forward(xs[r], &w, &b, stats, rep[r].rm, rep[r].rv, &rep[r].nbt, rep[r].sm,
                                rep[r].si, eps, momentum, yr, layout);
    local[r] = ops::batchnorm_sync_backward_sums(xs[r], dys[r], rep[r].sm, rep[r].si, layout);
  }
  const std::vector<double> sums = added(local[0], local[1]);
  for (int r = 0; r < 2; ++r) {
    Tensor dxr = dx.slice_flat(r * n, half);
    // Each replica adds its local parameter gradients; their sum (the gradient average, times
    // the replica count) is the whole batch's.
    ops::batchnorm_sync_backward(xs[r], dys[r], &w, rep[r].sm, rep[r].si, local[r], sums,
                                 stats.back(), &dxr, false, &dw, &db, layout);
  }
  // A 16-bit output may land one unit in its last place away (2u relative).
  const double ulp16 = p.lowp ? 2 * p.lowp->u : 0;
  expect_close(to_nchw_host(y, layout), to_nchw_host(y_ref, layout), 1e-5 + ulp16, 1e-5, what + " y");
  expect_close(to_nchw_host(dx, layout), to_nchw_host(dx_ref, layout), 1e-5 + ulp16,
               1e-5 + ulp16 * max_abs(dx_ref), what + " dx");
  expect_close(dw, dw_ref, 1e-5, 1e-5, what + " dweight");
  expect_close(db, db_ref, 1e-5, 1e-5, what + " dbias");
  for (int r = 0; r < 2; ++r) {
    const std::string rw = what + " replica " + std::to_string(r);
    expect_close(rep[r].rm, ref.rm, 1e-6, 1e-7, rw + " running_mean");
    expect_close(rep[r].rv, ref.rv, 1e-6, 1e-7, rw + " running_var");
    expect_close(rep[r].sm, ref.sm, 1e-6, 1e-7, rw + " save_mean");
    expect_close(rep[r].si, ref.si, 1e-6, 1e-7, rw + " save_invstd");
    expect_equal(rep[r].nbt, ref.nbt, rw + " num_batches_tracked");
  }
  // A half alone (no sum) is a different normalisation: the comparison can fail.
  State alone = fresh();
  Tensor y_alone = Tensor::empty(half, p.dt, gpu());
  ops::batchnorm_sync_forward(xs[0], &w, &b, ops::batchnorm_sync_stats(xs[0], layout), alone.rm,
                              alone.rv, nullptr, alone.sm, alone.si, eps, momentum, y_alone, layout);
  const std::vector<double> a = values_of(y_alone), r0 = values_of(y_ref.slice_flat(0, half));
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - r0[i]));
  EXPECT_GT(worst, 1e-2) << what << ": a half's own statistics should differ from the batch's";
}

TEST_F(BatchNormSyncCuda, TwoHalvesWithSummedSumsAreTheWholeBatch) {
  uint64_t seed = 900;
  for (const Prec* p : {&kF32Prec, &kBf16Prec})
    for (Layout layout : kLayouts) check_two_replicas(*p, layout, seed += 20);
}

TEST_F(BatchNormSyncCuda, MalformedArgumentsThrowBeforeAnyWork) {
  const Shape xs{2, 3, 2, 2};
  const Tensor x = to_gpu(rand_cpu(xs, 7)), dy = to_gpu(rand_cpu(xs, 8));
  Tensor rm = to_gpu(Tensor::zeros({3})), rv = to_gpu(filled({3}, 1.0));
  Tensor sm = to_gpu(Tensor::zeros({3})), si = to_gpu(filled({3}, 1.0));
  Tensor y = Tensor::empty(xs, DType::F32, gpu()), dx = Tensor::empty(xs, DType::F32, gpu());
  Tensor dw = to_gpu(Tensor::zeros({3}));
  // Too few sums, a count below 2, a count that is no whole number: ShapeError.
  EXPECT_THROW(ops::batchnorm_sync_forward(x, nullptr, nullptr, std::vector<double>(5, 1.0), rm, rv,
                                           nullptr, sm, si, 1e-5, 0.1, y),
               ShapeError);
  EXPECT_THROW(ops::batchnorm_sync_forward(x, nullptr, nullptr, {1, 1, 1, 1, 1, 1, 1}, rm, rv,
                                           nullptr, sm, si, 1e-5, 0.1, y),
               ShapeError);
  expect_mentions(error_of([&] {
                    ops::batchnorm_sync_forward(x, nullptr, nullptr, {1, 1, 1, 1, 1, 1, 8.5}, rm,
                                                rv, nullptr, sm, si, 1e-5, 0.1, y);
                  }),
                  {"batchnorm_sync_forward", "whole number"});
  EXPECT_THROW(ops::batchnorm_sync_backward(x, dy, nullptr, sm, si, std::vector<double>(6, 1.0),
                                            std::vector<double>(5, 1.0), 8, &dx, false, &dw, nullptr),
               ShapeError);
  // Per-channel tensors are f32 on CUDA; activations f32, bf16 or f16 and all the same.
  Tensor sm64 = to_gpu(Tensor::zeros({3}, DType::F64));
  expect_mentions(error_of([&] { ops::batchnorm_sync_backward_sums(x, dy, sm64, si); }),
                  {"batchnorm_sync_backward_sums", "save_mean", "f32"});
  const Tensor dy16 = to_gpu(rounded_to(rand_cpu(xs, 9), DType::BF16));
  expect_mentions(error_of([&] { ops::batchnorm_sync_backward_sums(x, dy16, sm, si); }),
                  {"dy", "bf16", "f32"});
  EXPECT_EQ(dw.to_f64_vector(), std::vector<double>(3, 0.0));  // nothing was touched
}

}  // namespace
}  // namespace te::cuda_test
