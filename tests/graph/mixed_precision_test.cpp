// Mixed precision in the graph (GraphOptions::compute_dtype), exercised on the CPU with f64
// master parameters and f32 compute: the same plumbing a GPU runs with f32 masters and bf16
// compute (casts after each update, gradients gathered into the masters with a scale, state
// dicts from the masters, layers that keep their parameters in the master dtype).
#include <gtest/gtest.h>

#include <cmath>

#include "tests/graph/test_layers.h"

namespace te::testing {
namespace {

const char* kNet = R"(
in_channels: 3
layers:
  - {name: conv1, type: conv2d, out_channels: 4, kernel: 3, padding: 1}
  - {name: bn1, type: batchnorm2d}
  - {name: relu, type: relu}
  - {name: conv2, type: conv2d, out_channels: 4, kernel: 3, padding: 1, bias: false}
  - {name: bn2, type: batchnorm2d}
  - {name: add, type: add, inputs: [bn2, relu]}
  - {name: relu2, type: relu}
  - {name: gap, type: global_avg_pool}
  - {name: fc, type: linear, out_features: 3}
)";

std::unique_ptr<Graph> build(bool mixed, const char* model = kNet, GraphLayerFactory factory = {}) {
  GraphOptions o;
  o.init_seed = 6;
  o.factory = std::move(factory);
  if (mixed) {
    o.dtype = DType::F64;
    o.compute_dtype = DType::F32;
  }
  return Graph::build(yaml(model), "m.yaml", {3, 5, 5}, o);
}

TEST(MixedPrecision, MatchesThePlainGraphAndKeepsMasters) {
  auto plain = build(false), mixed = build(true);
  ASSERT_TRUE(mixed->mixed_precision());
  EXPECT_FALSE(plain->mixed_precision());
  EXPECT_EQ(mixed->parameters().dtype(), DType::F64);
  EXPECT_EQ(mixed->compute_dtype(), DType::F32);
  // Same initial values: the masters hold them in f64, the compute copy rounded to f32.
  EXPECT_EQ(plain->parameters().to_vector(), mixed->parameters().to_vector());
  for (const NamedTensor& t : mixed->named_parameters()) EXPECT_EQ(t.tensor.dtype(), DType::F64) << t.name;
  // Running statistics take the dtype the layer computes its parameters in (f32 here; f32
  // under bf16 too, where batch norm keeps f32 parameters).
  for (const NamedTensor& t : mixed->named_buffers())
    if (t.tensor.dtype() != DType::I64) EXPECT_EQ(t.tensor.dtype(), DType::F32) << t.name;

  const Tensor x = random_tensor({2, 3, 5, 5}, 1, -1, 1, DType::F32);
  const Tensor r = random_tensor({2, 3}, 2, -1, 1, DType::F32);
  RunContext ctx;
  plain->zero_grad();
  mixed->zero_grad();
  EXPECT_EQ(plain->forward(x, ctx).to_vector(), mixed->forward(x, ctx).to_vector());
  plain->backward(r, ctx);
  mixed->backward(r, ctx);
  mixed->finish_backward(0.5);  // e.g. 1 / loss scale
  const std::vector<double> gp = plain->gradients().to_f64_vector(), gm = mixed->gradients().to_f64_vector();
  ASSERT_EQ(gp.size(), gm.size());
  double largest = 0;
  for (size_t i = 0; i < gp.size(); ++i) {
    ASSERT_EQ(gm[i], 0.5 * gp[i]) << i;  // exact: f32 products widened, halved
    largest = std::max(largest, std::fabs(gp[i]));
  }
  EXPECT_GT(largest, 1e-3);

  // An update of the masters reaches the layers only through sync_compute_params.
  Tensor& p = mixed->parameters();
  const Tensor before = mixed->forward(x, ctx).clone();
  {
    double* v = p.data<double>();
    for (int64_t i = 0; i < p.numel(); ++i) v[i] -= 0.1 * gm[i];
  }
  EXPECT_EQ(mixed->forward(x, ctx).to_vector(), before.to_vector());
  mixed->sync_compute_params();
  EXPECT_NE(mixed->forward(x, ctx).to_vector(), before.to_vector());
}

TEST(MixedPrecision, LoadingAStateDictRefreshesTheComputeCopy) {
  auto a = build(true), b = build(true);
  b->initialize(99);
  const Tensor x = random_tensor({2, 3, 5, 5}, 1, -1, 1, DType::F32);
  RunContext eval;
  eval.training = false;
  ASSERT_NE(a->forward(x, eval).to_vector(), b->forward(x, eval).to_vector());
  b->load_state_dict(a->state_dict());
  EXPECT_EQ(a->forward(x, eval).to_vector(), b->forward(x, eval).to_vector());
}

// y = w[c] * x with w kept in the master dtype (f64) while x is f32, like batch norm keeps
// f32 parameters under bf16 activations on a GPU.
class MasterScale : public Layer {
 public:
  explicit MasterScale(LayerArgs&) {}
  std::string type() const override { return "t_master_scale"; }
  Shape output_shape(const std::vector<Shape>& in) const override { return in.at(0); }
  void build(const std::vector<Shape>& in) override { declare_param("weight", {in[0][1]}, Init::Ones); }
  DType param_dtype(DType) const override { return DType::F64; }
  void forward(const std::vector<const Tensor*>& in, Tensor& out, const RunContext&) override {
    const Tensor& x = *in[0];
    const int64_t c = x.dim(1), inner = x.numel() / x.dim(0) / c;
    const double* w = params_[0].value.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i)
      out.data<float>()[i] = static_cast<float>(w[(i / inner) % c] * x.data<float>()[i]);
  }
  void backward(const BackwardArgs& a) override {
    const Tensor& x = *a.inputs[0];
    const int64_t c = x.dim(1), inner = x.numel() / x.dim(0) / c;
    const double* w = params_[0].value.data<double>();
    double* gw = params_[0].grad.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double g = a.grad_output->data<float>()[i];
      gw[(i / inner) % c] += g * x.data<float>()[i];
      if (a.grad_inputs[0]) write_grad<float>(a.grad_inputs[0], a.modes[0], i, static_cast<float>(g * w[(i / inner) % c]));
    }
  }
};

TEST(MixedPrecision, LayersMayKeepParametersInTheMasterDtype) {
  const char* model = R"(
in_channels: 3
layers:
  - {name: conv, type: conv2d, out_channels: 3, kernel: 1}
  - {name: ms, type: t_master_scale}
  - {name: gap, type: global_avg_pool}
)";
  auto factory = [](const std::string& type, LayerArgs& args) -> std::unique_ptr<Layer> {
    if (type != "t_master_scale") return create_layer(type, args);
    args.mark_used("type");
    args.finish(type);
    return std::make_unique<MasterScale>(args);
  };
  auto g = build(true, model, factory);
  EXPECT_EQ(g->layer(1).params()[0].value.dtype(), DType::F64);
  EXPECT_EQ(g->layer(0).params()[0].value.dtype(), DType::F32);
  const Tensor x = random_tensor({2, 3, 5, 5}, 3, -1, 1, DType::F32);
  RunContext ctx;
  g->zero_grad();
  g->forward(x, ctx);
  g->backward(random_tensor({2, 3}, 4, -1, 1, DType::F32), ctx);
  const std::vector<double> compute_side = g->layer(0).params()[0].grad.to_f64_vector();
  const std::vector<double> master_side = g->layer(1).params()[0].grad.to_f64_vector();
  g->finish_backward(0.25);
  const std::vector<double> all = g->gradients().to_f64_vector();
  // conv.weight (9), conv.bias (3), ms.weight (3), in listing order.
  ASSERT_EQ(all.size(), 15u);
  for (size_t i = 0; i < 9; ++i) EXPECT_EQ(all[i], 0.25 * compute_side[i]);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(all[12 + i], 0.25 * master_side[i]);
    EXPECT_NE(master_side[i], 0.0);
  }
}

}  // namespace
}  // namespace te::testing
