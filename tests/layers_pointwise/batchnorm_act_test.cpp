// The fused batch norm + residual add + activation layer ("batchnorm2d_act"): its parameters
// are batchnorm2d's, a forward/backward by hand, finite-difference gradients for x, r, weight
// and bias in every configuration, per-input gradient modes, what backward reads, and
// equivalence with the unfused batchnorm2d -> add -> relu chain it replaces.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/core/parallel.h"
#include "engine/layers/batchnorm_act.h"
#include "tests/layers_pointwise/make_layer.h"

namespace te::testing {
namespace {

Param& named(std::vector<Param>& ps, const std::string& name) {
  for (auto& p : ps)
    if (p.name == name) return p;
  throw Error("no parameter " + name);
}

const Tensor* find(const std::vector<Param>& ps, const std::string& name) {
  for (const auto& p : ps)
    if (p.name == name) return &p.value;
  return nullptr;
}

// BN(x) + r in double, per element, with the batch statistics (training) or the layer's running
// ones (eval): the pre-activation whose sign the ReLU looks at.
std::vector<double> preactivation(const BatchNormAct& layer, const Tensor& x, const Tensor* r,
                                  bool training) {
  const int64_t n = x.dim(0), c = x.dim(1), s = x.numel() / (n * c);
  const std::vector<double> xv = x.to_f64_vector();
  const std::vector<double> rv = r ? r->to_f64_vector() : std::vector<double>(xv.size(), 0.0);
  const Tensor* w = find(layer.params(), "weight");
  const Tensor* b = find(layer.params(), "bias");
  const std::vector<double> rmean = find(layer.buffers(), "running_mean")->to_f64_vector();
  const std::vector<double> rvar = find(layer.buffers(), "running_var")->to_f64_vector();
  std::vector<double> z(xv.size());
  for (int64_t ch = 0; ch < c; ++ch) {
    double mean = rmean[ch], var = rvar[ch];
    if (training) {
      double s1 = 0, s2 = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < s; ++j) s1 += xv[(i * c + ch) * s + j];
      mean = s1 / double(n * s);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < s; ++j) s2 += std::pow(xv[(i * c + ch) * s + j] - mean, 2);
      var = s2 / double(n * s);
    }
    const double scale = (w ? w->to_f64_vector()[ch] : 1.0) / std::sqrt(var + layer.eps());
    const double shift = b ? b->to_f64_vector()[ch] : 0.0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < s; ++j) {
        const int64_t k = (i * c + ch) * s + j;
        z[k] = (xv[k] - mean) * scale + shift + rv[k];
      }
  }
  return z;
}

// Moves the inputs so that no pre-activation lies within `gap` of ReLU's kink, where a finite
// difference would straddle it (the activation test's away_from_zero, for a normalised input).
// With a residual, r moves (the statistics do not depend on it); without, x moves away from
// the kink and the statistics are recomputed until no element is near it.
void keep_off_kink(const BatchNormAct& layer, Tensor& x, Tensor* r, bool training, double gap) {
  for (int round = 0; round < 100; ++round) {
    const std::vector<double> z = preactivation(layer, x, r, training);
    const std::vector<double> w =
        find(layer.params(), "weight") ? find(layer.params(), "weight")->to_f64_vector()
                                       : std::vector<double>(x.dim(1), 1.0);
    const int64_t s = x.numel() / (x.dim(0) * x.dim(1));
    int moved = 0;
    for (size_t k = 0; k < z.size(); ++k) {
      if (std::fabs(z[k]) >= gap) continue;
      ++moved;
      const double away = z[k] < 0 ? -1.0 : 1.0;
      if (r) {
        r->data<double>()[k] += away * 2 * gap;
      } else {
        const double wc = w[(k / s) % x.dim(1)];
        x.data<double>()[k] += away * (wc < 0 ? -1.0 : 1.0) * 0.1;
      }
    }
    if (!moved) return;
  }
  FAIL() << "could not move the inputs off the ReLU kink";
}

struct Config {
  const char* args;
  bool residual;
};
const Config kConfigs[] = {
    {"{}", false},
    {"{residual: true}", true},
    {"{activation: none}", false},
    {"{activation: none, residual: true}", true},
    {"{affine: false, residual: true}", true},
    {"{affine: false}", false},
};

// x [2, 2, 1, 2]: channel 0 holds {1, 3, 5, 7}, channel 1 holds {-1, 1, 0, 2} (as in the
// batchnorm2d test); r in memory order.
Tensor hand_input() { return Tensor::from_vector_f64({2, 2, 1, 2}, {1, 3, -1, 1, 5, 7, 0, 2}); }
Tensor hand_residual() { return Tensor::from_vector_f64({2, 2, 1, 2}, {1, -1, 3, 0.5, -2, 0.25, 1, 1}); }

std::unique_ptr<Layer> hand_layer(const std::string& args) {
  auto layer = make_layer("batchnorm2d_act", args);
  const bool residual = dynamic_cast<BatchNormAct&>(*layer).residual();
  std::vector<Tensor> inputs = {hand_input()};
  if (residual) inputs.push_back(hand_residual());
  prepare_layer_f64(*layer, inputs);
  layer->init_params(1, 0);  // torchvision's initial state: running_var ones
  named(layer->params(), "weight").value.copy_from(Tensor::from_vector_f64({2}, {2, 1}));
  named(layer->params(), "bias").value.copy_from(Tensor::from_vector_f64({2}, {0.5, -1}));
  return layer;
}

// Backward with per-input gradient buffers (nullptr: not wanted) and modes.
void run_backward(Layer& layer, const std::vector<Tensor>& inputs, const Tensor& y,
                  const Tensor& dy, std::vector<Tensor*> grads, std::vector<GradMode> modes,
                  const RunContext& ctx = {}) {
  BackwardArgs args;
  for (const auto& t : inputs) args.inputs.push_back(&t);
  args.output = &y;
  args.grad_output = &dy;
  args.grad_inputs = std::move(grads);
  args.modes = std::move(modes);
  args.ctx = ctx;
  layer.backward(args);
}

TEST(BatchNormAct, DeclaresBatchnorm2dParametersAndArguments) {
  for (const char* args : {"{}", "{residual: true, activation: none}"}) {
    auto fused = make_layer("batchnorm2d_act", args);
    auto bn = make_layer("batchnorm2d");
    const Shape xs{4, 3, 5, 5};
    const bool residual = dynamic_cast<BatchNormAct&>(*fused).residual();
    fused->build(residual ? std::vector<Shape>{xs, xs} : std::vector<Shape>{xs});
    bn->build({xs});
    for (auto* l : {fused.get(), bn.get()}) {
      l->allocate_unbound();
      l->init_params(1, 0);
    }
    ASSERT_EQ(fused->params().size(), bn->params().size());
    ASSERT_EQ(fused->buffers().size(), bn->buffers().size());
    for (size_t i = 0; i < bn->params().size(); ++i) {
      EXPECT_EQ(fused->params()[i].name, bn->params()[i].name);
      EXPECT_EQ(fused->params()[i].shape, bn->params()[i].shape);
      EXPECT_EQ(fused->params()[i].value.to_f64_vector(), bn->params()[i].value.to_f64_vector());
    }
    for (size_t i = 0; i < bn->buffers().size(); ++i) {
      EXPECT_EQ(fused->buffers()[i].name, bn->buffers()[i].name);
      EXPECT_EQ(fused->buffers()[i].shape, bn->buffers()[i].shape);
      EXPECT_EQ(fused->buffers()[i].dtype, bn->buffers()[i].dtype);
      EXPECT_EQ(fused->buffers()[i].value.to_f64_vector(), bn->buffers()[i].value.to_f64_vector());
    }
    // Only the per-channel statistics are kept besides the output: no BN(x), no BN(x) + r.
    EXPECT_EQ(fused->saved_bytes({xs}), bn->saved_bytes({xs}));
    EXPECT_EQ(fused->saved_bytes({xs}), 2 * 3 * 4);
  }
  auto relu_layer = make_layer("batchnorm2d_act");
  auto& relu = dynamic_cast<BatchNormAct&>(*relu_layer);
  EXPECT_EQ(relu.activation(), ops::BatchNormActivation::ReLU);
  EXPECT_FALSE(relu.residual());
  EXPECT_TRUE(relu.backward_reads().inputs);
  EXPECT_TRUE(relu.backward_reads().output);  // the ReLU mask
  auto plain = make_layer("batchnorm2d_act",
                          "{affine: false, eps: 0.001, momentum: 0.2, num_features: 3, "
                          "activation: none, residual: true}");
  auto& p = dynamic_cast<BatchNormAct&>(*plain);
  EXPECT_EQ(p.eps(), 0.001);
  EXPECT_EQ(p.momentum(), 0.2);
  EXPECT_FALSE(p.affine());
  EXPECT_EQ(p.activation(), ops::BatchNormActivation::None);
  EXPECT_TRUE(p.residual());
  EXPECT_FALSE(p.backward_reads().output);
  plain->build({Shape{1, 3, 2, 2}, Shape{1, 3, 2, 2}});
  EXPECT_TRUE(plain->params().empty());
  EXPECT_EQ(plain->buffers().size(), 3u);
}

TEST(BatchNormAct, TrainingForwardBackwardAndRunningStatsByHand) {
  auto layer = hand_layer("{residual: true}");
  const Tensor x = hand_input(), r = hand_residual();
  const Tensor y = run_forward(*layer, {x, r});
  // BN as in the batchnorm2d test: channel 0 mean 4, var 5; channel 1 mean 0.5, var 1.25.
  const double s0 = 2 / std::sqrt(5 + 1e-5), s1 = 1 / std::sqrt(1.25 + 1e-5);
  const auto relu = [](double v) { return v > 0 ? v : 0.0; };
  const std::vector<double> z = {-3 * s0 + 0.5 + 1,   -1 * s0 + 0.5 - 1,   -1.5 * s1 - 1 + 3,
                                 0.5 * s1 - 1 + 0.5,  1 * s0 + 0.5 - 2,    3 * s0 + 0.5 + 0.25,
                                 -0.5 * s1 - 1 + 1,   1.5 * s1 - 1 + 1};
  std::vector<double> want;
  for (double v : z) want.push_back(relu(v));
  expect_all_near(y.to_f64_vector(), want, 1e-12, "y");
  // Negative and positive pre-activations both occur, so the mask is exercised.
  EXPECT_EQ(y.to_f64_vector()[0], 0.0);
  EXPECT_GT(y.to_f64_vector()[2], 0.5);
  // running = 0.9 * running + 0.1 * batch (unbiased variance), as batchnorm2d.
  expect_all_near(named(layer->buffers(), "running_mean").value.to_f64_vector(), {0.4, 0.05}, 1e-12, "rm");
  expect_all_near(named(layer->buffers(), "running_var").value.to_f64_vector(),
                  {0.9 + 0.1 * 20.0 / 3, 0.9 + 0.1 * 5.0 / 3}, 1e-12, "rv");
  EXPECT_EQ(named(layer->buffers(), "num_batches_tracked").value.data<int64_t>()[0], 1);

  // The residual's gradient is dy where y > 0, else 0; dbias is its sum per channel.
  const Tensor dy = Tensor::from_vector_f64({2, 2, 1, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  Tensor dx = Tensor::zeros(x.shape(), DType::F64), dr = Tensor::zeros(x.shape(), DType::F64);
  for (auto& p : layer->params()) p.grad.zero();
  run_backward(*layer, {x, r}, y, dy, {&dx, &dr}, {GradMode::Overwrite, GradMode::Overwrite});
  std::vector<double> want_dr;
  for (size_t i = 0; i < z.size(); ++i) want_dr.push_back(z[i] > 0 ? i + 1.0 : 0.0);
  expect_all_near(dr.to_f64_vector(), want_dr, 0, "dr");
  expect_all_near(named(layer->params(), "bias").grad.to_f64_vector(),
                  {want_dr[0] + want_dr[1] + want_dr[4] + want_dr[5],
                   want_dr[2] + want_dr[3] + want_dr[6] + want_dr[7]},
                  1e-12, "dbias");
}

TEST(BatchNormAct, EvalUsesRunningStatsAndLeavesThemAlone) {
  auto layer = hand_layer("{}");
  named(layer->params(), "bias").value.copy_from(Tensor::from_vector_f64({2}, {0.5, -3}));
  named(layer->buffers(), "running_mean").value.copy_from(Tensor::from_vector_f64({2}, {1, -2}));
  named(layer->buffers(), "running_var").value.copy_from(Tensor::from_vector_f64({2}, {4, 0.25}));
  RunContext eval;
  eval.training = false;
  const Tensor y = run_forward(*layer, {hand_input()}, eval);
  const double s0 = 2 / std::sqrt(4 + 1e-5), s1 = 1 / std::sqrt(0.25 + 1e-5);
  const auto relu = [](double v) { return v > 0 ? v : 0.0; };
  // x - running_mean: channel 0 {0, 2, 4, 6}, channel 1 {1, 3, 2, 4}; bias {0.5, -3}, so
  // 1 * s1 - 3 (s1 ~ 2) is negative.
  expect_all_near(y.to_f64_vector(),
                  {relu(0 * s0 + 0.5), relu(2 * s0 + 0.5), relu(1 * s1 - 3), relu(3 * s1 - 3),
                   relu(4 * s0 + 0.5), relu(6 * s0 + 0.5), relu(2 * s1 - 3), relu(4 * s1 - 3)},
                  1e-12, "eval y");
  EXPECT_EQ(y.to_f64_vector()[2], 0.0);
  expect_all_near(named(layer->buffers(), "running_mean").value.to_f64_vector(), {1, -2}, 0, "rm");
  EXPECT_EQ(named(layer->buffers(), "num_batches_tracked").value.data<int64_t>()[0], 0);
}

// Finite differences for x, r, weight and bias, in training and eval, with ReLU and without,
// with and without the residual and affine parameters, on several shapes; then Accumulate.
TEST(BatchNormAct, GradientsMatchFiniteDifferences) {
  uint64_t seed = 60;
  for (bool training : {true, false})
    for (const Shape& shape : {Shape{2, 3, 4, 5}, Shape{1, 2, 3, 3}, Shape{3, 1, 2, 5}, Shape{5, 4, 1, 1}})
      for (const Config& cfg : kConfigs) {
        SCOPED_TRACE(shape.str() + " " + cfg.args + (training ? " training" : " eval"));
        auto layer = make_layer("batchnorm2d_act", cfg.args);
        auto& fused = dynamic_cast<BatchNormAct&>(*layer);
        Tensor x = random_tensor(shape, seed++, -2, 3);
        Tensor r = random_tensor(shape, seed++, -1.5, 1.5);
        std::vector<Tensor> inputs = {x};
        if (cfg.residual) inputs.push_back(r);
        prepare_layer_f64(*layer, inputs, seed++);
        if (!training) {
          const int64_t c = shape[1];
          named(layer->buffers(), "running_mean").value.copy_from(random_tensor({c}, seed++, -1, 1));
          named(layer->buffers(), "running_var").value.copy_from(random_tensor({c}, seed++, 0.2, 2));
        }
        if (fused.activation() == ops::BatchNormActivation::ReLU)
          keep_off_kink(fused, inputs[0], cfg.residual ? &inputs[1] : nullptr, training, 1e-3);
        GradCheckOptions o;
        o.ctx.training = training;
        o.tolerance = 1e-6;
        expect_gradients_match(*layer, inputs, o);
        expect_accumulate_mode_adds(*layer, inputs, o.ctx);
      }
}

// Each input has its own mode and may be left out (nullptr); parameter gradients always add.
TEST(BatchNormAct, GradientModesPerInput) {
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "eval");
    RunContext ctx;
    ctx.training = training;
    auto layer = make_layer("batchnorm2d_act", "{residual: true}");
    const Shape xs{3, 4, 3, 2};
    const Tensor x = random_tensor(xs, 1, -2, 3), r = random_tensor(xs, 2);
    prepare_layer_f64(*layer, {x, r}, 3);
    const Tensor y = run_forward(*layer, {x, r}, ctx);
    const Tensor dy = random_tensor(xs, 4);
    Param& w = named(layer->params(), "weight");
    Param& b = named(layer->params(), "bias");

    Tensor dx0 = Tensor::zeros(xs, DType::F64), dr0 = Tensor::zeros(xs, DType::F64);
    w.grad.zero();
    b.grad.zero();
    run_backward(*layer, {x, r}, y, dy, {&dx0, &dr0}, {GradMode::Overwrite, GradMode::Overwrite}, ctx);
    const auto gx = dx0.to_f64_vector(), gr = dr0.to_f64_vector();
    const auto gw = w.grad.to_f64_vector(), gb = b.grad.to_f64_vector();
    const auto plus = [](std::vector<double> v, double k) {
      for (double& e : v) e += k;
      return v;
    };

    // dx accumulates onto 3, dr overwrites 7; parameter gradients add to the first ones.
    Tensor dx = Tensor::empty(xs, DType::F64), dr = Tensor::empty(xs, DType::F64);
    dx.fill(3.0);
    dr.fill(7.0);
    run_backward(*layer, {x, r}, y, dy, {&dx, &dr}, {GradMode::Accumulate, GradMode::Overwrite}, ctx);
    expect_all_near(dx.to_f64_vector(), plus(gx, 3.0), 1e-12, "dx accumulated");
    expect_all_near(dr.to_f64_vector(), gr, 0, "dr overwritten");
    std::vector<double> gw2 = gw, gb2 = gb;
    for (auto& v : gw2) v *= 2;
    for (auto& v : gb2) v *= 2;
    expect_all_near(w.grad.to_f64_vector(), gw2, 1e-12, "dweight added");
    expect_all_near(b.grad.to_f64_vector(), gb2, 1e-12, "dbias added");

    // The other way round.
    dx.fill(3.0);
    dr.fill(7.0);
    run_backward(*layer, {x, r}, y, dy, {&dx, &dr}, {GradMode::Overwrite, GradMode::Accumulate}, ctx);
    expect_all_near(dx.to_f64_vector(), gx, 1e-12, "dx overwritten");
    expect_all_near(dr.to_f64_vector(), plus(gr, 7.0), 1e-12, "dr accumulated");

    // Only one input wants a gradient: the other is not touched, parameters still get theirs.
    dr.fill(7.0);
    w.grad.zero();
    b.grad.zero();
    run_backward(*layer, {x, r}, y, dy, {nullptr, &dr}, {GradMode::Overwrite, GradMode::Overwrite}, ctx);
    expect_all_near(dr.to_f64_vector(), gr, 0, "dr alone");
    expect_all_near(w.grad.to_f64_vector(), gw, 1e-12, "dweight without dx");
    expect_all_near(b.grad.to_f64_vector(), gb, 1e-12, "dbias without dx");
    dx.fill(3.0);
    run_backward(*layer, {x, r}, y, dy, {&dx, nullptr}, {GradMode::Accumulate, GradMode::Overwrite}, ctx);
    expect_all_near(dx.to_f64_vector(), plus(gx, 3.0), 1e-12, "dx alone");
  }
}

// Backward reads x, the output (ReLU only) and the saved statistics - never the residual (nor
// for `none` the output): poisoning them must not change any gradient.
TEST(BatchNormAct, BackwardReadsOnlyWhatItDeclares) {
  for (const char* args : {"{residual: true}", "{residual: true, activation: none}"}) {
    SCOPED_TRACE(args);
    auto layer = make_layer("batchnorm2d_act", args);
    const bool relu = layer->backward_reads().output;
    const Shape xs{2, 3, 4, 4};
    const Tensor x = random_tensor(xs, 11, -2, 3), r = random_tensor(xs, 12);
    prepare_layer_f64(*layer, {x, r}, 13);
    const Tensor y = run_forward(*layer, {x, r});
    const Tensor dy = random_tensor(xs, 14);
    Tensor dx = Tensor::zeros(xs, DType::F64), dr = Tensor::zeros(xs, DType::F64);
    for (auto& p : layer->params()) p.grad.zero();
    run_backward(*layer, {x, r}, y, dy, {&dx, &dr}, {GradMode::Overwrite, GradMode::Overwrite});
    const auto gw = named(layer->params(), "weight").grad.to_f64_vector();

    Tensor nan_r = Tensor::empty(xs, DType::F64), nan_y = Tensor::empty(xs, DType::F64);
    nan_r.fill(std::numeric_limits<double>::quiet_NaN());
    nan_y.fill(std::numeric_limits<double>::quiet_NaN());
    Tensor dx2 = Tensor::zeros(xs, DType::F64), dr2 = Tensor::zeros(xs, DType::F64);
    for (auto& p : layer->params()) p.grad.zero();
    run_backward(*layer, {x, nan_r}, relu ? y : nan_y, dy, {&dx2, &dr2},
                 {GradMode::Overwrite, GradMode::Overwrite});
    EXPECT_EQ(dx2.to_f64_vector(), dx.to_f64_vector());
    EXPECT_EQ(dr2.to_f64_vector(), dr.to_f64_vector());
    EXPECT_EQ(named(layer->params(), "weight").grad.to_f64_vector(), gw);
  }
}

// The unfused chain the graph pass replaces: batchnorm2d -> [add(bn, r)] -> [relu].
struct Unfused {
  std::unique_ptr<Layer> bn = make_layer("batchnorm2d", "{}", "bn");
  std::unique_ptr<Layer> add = make_layer("add", "{}", "add");
  std::unique_ptr<Layer> relu = make_layer("relu", "{}", "relu");
  bool residual, use_relu;
  Tensor z1, z2, y;  // BN(x), BN(x) + r, output

  Unfused(bool residual_, bool relu_) : residual(residual_), use_relu(relu_) {}
  const Tensor& forward(const Tensor& x, const Tensor& r, const RunContext& ctx) {
    z1 = run_forward(*bn, {x}, ctx);
    z2 = residual ? run_forward(*add, {z1, r}, ctx) : z1;
    y = use_relu ? run_forward(*relu, {z2}, ctx) : z2;
    return y;
  }
  // Returns {dx, dr}; parameter gradients land in bn's params.
  std::pair<Tensor, Tensor> backward(const Tensor& x, const Tensor& r, const Tensor& dy,
                                     const RunContext& ctx) {
    const Tensor dz2 = use_relu ? run_backward1(*relu, z2, y, dy, ctx) : dy;
    Tensor dz1 = dz2, dr;
    if (residual) {
      dz1 = Tensor::zeros(x.shape(), x.dtype());
      dr = Tensor::zeros(x.shape(), x.dtype());
      run_backward(*add, {z1, r}, z2, dz2, {&dz1, &dr}, {GradMode::Overwrite, GradMode::Overwrite}, ctx);
    }
    return {run_backward1(*bn, x, z1, dz1, ctx), dr};
  }
};

TEST(BatchNormAct, EqualsBatchnormAddReluChain) {
  uint64_t seed = 500;
  for (DType dtype : {DType::F64, DType::F32})
    for (const Config& cfg : kConfigs)
      for (const Shape& shape : {Shape{4, 8, 6, 6}, Shape{2, 3, 5, 7}}) {
        SCOPED_TRACE(std::string(dtype_name(dtype)) + " " + cfg.args + " " + shape.str());
        const double tol = dtype == DType::F64 ? 1e-12 : 1e-5;
        auto fused_layer = make_layer("batchnorm2d_act", cfg.args);
        auto& fused = dynamic_cast<BatchNormAct&>(*fused_layer);
        Unfused chain(cfg.residual, fused.activation() == ops::BatchNormActivation::ReLU);
        if (!fused.affine()) chain.bn = make_layer("batchnorm2d", "{affine: false}", "bn");
        const Shape xs = shape;
        fused.build(cfg.residual ? std::vector<Shape>{xs, xs} : std::vector<Shape>{xs});
        chain.bn->build({xs});
        fused.allocate_unbound(dtype);
        chain.bn->allocate_unbound(dtype);
        fused.init_params(1, 0);
        // Same non-trivial parameters and running statistics in both.
        for (auto* ps : {&fused.params(), &fused.buffers()})
          for (auto& p : *ps)
            if (p.dtype != DType::I64) p.value.copy_from(random_tensor(p.shape, seed++, 0.3, 1.2, dtype));
        for (size_t i = 0; i < fused.params().size(); ++i)
          chain.bn->params()[i].value.copy_from(fused.params()[i].value);
        for (size_t i = 0; i < fused.buffers().size(); ++i)
          chain.bn->buffers()[i].value.copy_from(fused.buffers()[i].value);

        for (bool training : {true, true, false}) {  // two steps move the running stats twice
          RunContext ctx;
          ctx.training = training;
          const Tensor x = random_tensor(xs, seed++, -2, 3, dtype);
          const Tensor r = random_tensor(xs, seed++, -1, 1, dtype);
          const Tensor dy = random_tensor(xs, seed++, -1, 1, dtype);
          std::vector<Tensor> inputs = {x};
          if (cfg.residual) inputs.push_back(r);
          const Tensor y = run_forward(fused, inputs, ctx);
          const Tensor& y_ref = chain.forward(x, r, ctx);
          expect_all_near(y.to_f64_vector(), y_ref.to_f64_vector(), tol, "y");
          if (chain.use_relu) {  // both signs reach the ReLU, so its mask matters
            const auto yv = y.to_f64_vector();
            const auto zeros = std::count(yv.begin(), yv.end(), 0.0);
            EXPECT_GT(zeros, 0);
            EXPECT_LT(zeros, static_cast<long>(yv.size()) / 2 + yv.size() / 4);
          }

          for (auto& p : fused.params()) p.grad.zero();
          for (auto& p : chain.bn->params()) p.grad.zero();
          Tensor dx = Tensor::zeros(xs, dtype), dr = Tensor::zeros(xs, dtype);
          std::vector<Tensor*> grads = {&dx};
          if (cfg.residual) grads.push_back(&dr);
          run_backward(fused, inputs, y, dy, grads,
                       std::vector<GradMode>(grads.size(), GradMode::Overwrite), ctx);
          const auto [dx_ref, dr_ref] = chain.backward(x, r, dy, ctx);
          expect_all_near(dx.to_f64_vector(), dx_ref.to_f64_vector(), tol, "dx");
          if (cfg.residual) expect_all_near(dr.to_f64_vector(), dr_ref.to_f64_vector(), tol, "dr");
          for (size_t i = 0; i < fused.params().size(); ++i)
            expect_all_near(fused.params()[i].grad.to_f64_vector(),
                            chain.bn->params()[i].grad.to_f64_vector(), tol * 10,
                            "d" + fused.params()[i].name);
          for (size_t i = 0; i < fused.buffers().size(); ++i)
            expect_all_near(fused.buffers()[i].value.to_f64_vector(),
                            chain.bn->buffers()[i].value.to_f64_vector(), tol,
                            fused.buffers()[i].name);
        }
      }
}

// Threads take whole channels, so float results repeat exactly whatever the thread count.
TEST(BatchNormAct, FloatResultsDoNotDependOnThreadCount) {
  const Shape xs{8, 16, 20, 20};
  const Tensor x = random_tensor(xs, 31, -2, 3, DType::F32), r = random_tensor(xs, 32, -1, 1, DType::F32);
  const Tensor dy = random_tensor(xs, 33, -1, 1, DType::F32);
  std::vector<std::vector<double>> results[2];
  for (int threads : {1, 3}) {
    set_num_threads(threads);
    auto layer = make_layer("batchnorm2d_act", "{residual: true}");
    layer->build({xs, xs});
    layer->allocate_unbound(DType::F32);
    layer->init_params(1, 0);
    named(layer->params(), "weight").value.copy_from(random_tensor({16}, 34, 0.5, 1.5, DType::F32));
    const Tensor y = run_forward(*layer, {x, r});
    Tensor dx = Tensor::zeros(xs), dr = Tensor::zeros(xs);
    for (auto& p : layer->params()) p.grad.zero();
    run_backward(*layer, {x, r}, y, dy, {&dx, &dr}, {GradMode::Overwrite, GradMode::Overwrite});
    results[threads == 3] = {y.to_f64_vector(), dx.to_f64_vector(), dr.to_f64_vector(),
                             named(layer->params(), "weight").grad.to_f64_vector(),
                             named(layer->buffers(), "running_var").value.to_f64_vector()};
  }
  set_num_threads(2);
  for (size_t i = 0; i < results[0].size(); ++i) EXPECT_EQ(results[0][i], results[1][i]) << i;
}

TEST(BatchNormAct, ErrorsNameTheProblem) {
  auto layer = make_layer("batchnorm2d_act", "{residual: true}", "layer1.0.bn2");
  try {
    layer->output_shape({Shape{2, 4, 5, 5}});
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("layer1.0.bn2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("residual"), std::string::npos) << e.what();
  }
  EXPECT_THROW(layer->output_shape({Shape{2, 4, 5, 5}, Shape{2, 4, 5, 4}}), ShapeError);
  EXPECT_THROW(make_layer("batchnorm2d_act")->output_shape({Shape{2, 4, 5, 5}, Shape{2, 4, 5, 5}}),
               ShapeError);
  EXPECT_THROW(make_layer("batchnorm2d_act")->output_shape({Shape{2, 4}}), ShapeError);
  EXPECT_THROW(make_layer("batchnorm2d_act", "{num_features: 3}")->output_shape({Shape{2, 4, 5, 5}}),
               ShapeError);
  EXPECT_THROW(make_layer("batchnorm2d_act", "{activation: gelu}"), ConfigError);
  EXPECT_THROW(make_layer("batchnorm2d_act", "{eps: 0}"), ConfigError);
  EXPECT_THROW(make_layer("batchnorm2d_act", "{momentum: 1.5}"), ConfigError);
  EXPECT_THROW(make_layer("batchnorm2d_act", "{residual: 3}"), ConfigError);
  EXPECT_THROW(make_layer("batchnorm2d_act", "{relu: true}"), ConfigError);  // unknown key
  // One value per channel in training, and a training backward without a training forward.
  auto one = make_layer("batchnorm2d_act");
  const Tensor x = random_tensor({1, 3, 1, 1}, 1);
  prepare_layer_f64(*one, {x});
  EXPECT_THROW(run_forward(*one, {x}), ShapeError);
  auto fresh = make_layer("batchnorm2d_act");
  const Tensor x2 = random_tensor({2, 3, 2, 2}, 2);
  prepare_layer_f64(*fresh, {x2});
  RunContext eval;
  eval.training = false;
  const Tensor y = run_forward(*fresh, {x2}, eval);
  EXPECT_THROW(run_backward1(*fresh, x2, y, y), Error);
}

}  // namespace
}  // namespace te::testing
