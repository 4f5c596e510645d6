#include "tests/support/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/core/philox.h"

namespace te::testing {

Tensor random_tensor(const Shape& shape, uint64_t seed, double lo, double hi, DType dtype) {
  CounterRng rng(seed, 7, 0);
  std::vector<double> v(static_cast<size_t>(shape.numel()));
  for (auto& x : v) x = lo + (hi - lo) * rng.uniform();
  Tensor t = Tensor::from_vector_f64(shape, v);
  return dtype == DType::F64 ? t : t.to_dtype(dtype);
}

void prepare_layer_f64(Layer& layer, const std::vector<Tensor>& inputs, uint64_t seed) {
  std::vector<Shape> shapes;
  for (const auto& t : inputs) shapes.push_back(t.shape());
  if (layer.params().empty() && layer.buffers().empty()) layer.build(shapes);
  bool fresh = false;
  for (auto& p : layer.params()) fresh |= !p.value.defined();
  layer.allocate_unbound(DType::F64);
  if (fresh) {
    uint64_t k = 0;
    for (auto& p : layer.params()) p.value.copy_from(random_tensor(p.shape, seed + k++, -0.5, 0.5));
  }
}

namespace {

std::vector<const Tensor*> pointers(const std::vector<Tensor>& v) {
  std::vector<const Tensor*> out;
  for (const auto& t : v) out.push_back(&t);
  return out;
}

double loss_of(Layer& layer, const std::vector<Tensor>& inputs, const Tensor& weights,
               const RunContext& ctx) {
  Tensor out;
  std::vector<Shape> shapes;
  for (const auto& t : inputs) shapes.push_back(t.shape());
  out = Tensor::empty(layer.output_shape(shapes), DType::F64);
  layer.forward(pointers(inputs), out, ctx);
  const double* o = out.data<double>();
  const double* w = weights.data<double>();
  double s = 0;
  for (int64_t i = 0; i < out.numel(); ++i) s += o[i] * w[i];
  return s;
}

std::vector<int64_t> probe_indices(int64_t n, int64_t max_checks, uint64_t seed) {
  std::vector<int64_t> idx;
  if (n <= max_checks) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
    return idx;
  }
  CounterRng rng(seed, 11, 0);
  for (int64_t k = 0; k < max_checks; ++k) idx.push_back(rng.below(static_cast<uint32_t>(n)));
  return idx;
}

void compare(const std::string& what, const Tensor& analytic, Tensor& value, Layer& layer,
             const std::vector<Tensor>& inputs, const Tensor& weights,
             const GradCheckOptions& o) {
  double* v = value.data<double>();
  const double* a = analytic.data<double>();
  int failures = 0, nonzero = 0;
  for (int64_t i : probe_indices(value.numel(), o.max_checks_per_tensor, o.seed)) {
    const double saved = v[i];
    v[i] = saved + o.step;
    const double up = loss_of(layer, inputs, weights, o.ctx);
    v[i] = saved - o.step;
    const double down = loss_of(layer, inputs, weights, o.ctx);
    v[i] = saved;
    const double numeric = (up - down) / (2 * o.step);
    nonzero += std::fabs(numeric) > 1e-9;
    const double err = std::fabs(a[i] - numeric) /
                       std::max({1.0, std::fabs(a[i]), std::fabs(numeric)});
    if (err > o.tolerance && failures++ < 5)
      ADD_FAILURE() << layer.type() << " gradient of " << what << "[" << i
                    << "]: analytic " << a[i] << " vs numeric " << numeric;
  }
  EXPECT_EQ(failures, 0) << "mismatching gradient elements in " << what;
  // All-zero gradients would match anything that also writes zeros: the check must see some.
  EXPECT_GT(nonzero, 0) << layer.type() << ": every probed gradient of " << what
                        << " is zero, so the check proves nothing";
}

}  // namespace

void expect_gradients_match(Layer& layer, const std::vector<Tensor>& inputs_in,
                            const GradCheckOptions& o) {
  std::vector<Tensor> inputs;
  for (const auto& t : inputs_in) inputs.push_back(t.clone());
  std::vector<Shape> shapes;
  for (const auto& t : inputs) shapes.push_back(t.shape());
  const Shape out_shape = layer.output_shape(shapes);
  const Tensor weights = random_tensor(out_shape, o.seed + 1);

  Tensor out = Tensor::empty(out_shape, DType::F64);
  layer.forward(pointers(inputs), out, o.ctx);

  std::vector<Tensor> grads;
  BackwardArgs args;
  args.inputs = pointers(inputs);
  args.output = &out;
  args.grad_output = &weights;
  args.ctx = o.ctx;
  for (size_t i = 0; i < inputs.size(); ++i) grads.push_back(Tensor::zeros(inputs[i].shape(), DType::F64));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const bool want = o.check_input.empty() || o.check_input[i];
    args.grad_inputs.push_back(want ? &grads[i] : nullptr);
    args.modes.push_back(GradMode::Overwrite);
  }
  for (auto& p : layer.params()) p.grad.zero();
  layer.backward(args);

  for (size_t i = 0; i < inputs.size(); ++i)
    if (args.grad_inputs[i]) compare("input" + std::to_string(i), grads[i], inputs[i], layer, inputs, weights, o);
  if (o.check_params)
    for (auto& p : layer.params()) {
      const Tensor analytic = p.grad.clone();
      compare(p.name, analytic, p.value, layer, inputs, weights, o);
    }
}

void expect_accumulate_mode_adds(Layer& layer, const std::vector<Tensor>& inputs,
                                 const RunContext& ctx) {
  std::vector<Shape> shapes;
  for (const auto& t : inputs) shapes.push_back(t.shape());
  Tensor out = Tensor::empty(layer.output_shape(shapes), DType::F64);
  layer.forward(pointers(inputs), out, ctx);
  const Tensor gout = random_tensor(out.shape(), 5);

  auto run = [&](GradMode mode, double prefill) {
    std::vector<Tensor> grads;
    BackwardArgs args;
    args.inputs = pointers(inputs);
    args.output = &out;
    args.grad_output = &gout;
    args.ctx = ctx;
    for (const auto& t : inputs) {
      grads.push_back(Tensor::empty(t.shape(), DType::F64));
      grads.back().fill(prefill);
    }
    for (auto& g : grads) {
      args.grad_inputs.push_back(&g);
      args.modes.push_back(mode);
    }
    for (auto& p : layer.params()) p.grad.zero();
    layer.backward(args);
    return grads;
  };
  const auto overwritten = run(GradMode::Overwrite, 3.0);
  const auto accumulated = run(GradMode::Accumulate, 3.0);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto a = overwritten[i].to_f64_vector();
    const auto b = accumulated[i].to_f64_vector();
    for (size_t k = 0; k < a.size(); ++k) {
      ASSERT_NEAR(b[k], a[k] + 3.0, 1e-9) << layer.type() << " input " << i << " element " << k;
    }
  }
}

}  // namespace te::testing
