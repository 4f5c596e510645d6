// Flat parameter buffers, names, state dicts and initialisation, on test-only layers.
#include <gtest/gtest.h>

#include "tests/graph/test_layers.h"

namespace te::testing {
namespace {

const char* kModel = R"(
layers:
  - {name: s1, type: t_scale}
  - {name: a1, type: t_tanh}
  - {name: s2, type: t_scale}
  - {name: sum, type: t_add, inputs: [a1, s2]}
  - {name: fc, type: t_dense, out_features: 5}
)";

std::unique_ptr<Graph> make(uint64_t seed = 5) {
  GraphOptions o = test_options();
  o.init_seed = seed;
  return Graph::build(yaml(kModel), "m.yaml", {3, 4, 4}, o);
}

TEST(GraphState, ParametersAreViewsIntoOneFlatBuffer) {
  auto g = make();
  const auto named = g->named_parameters();
  ASSERT_EQ(named.size(), 6u);
  const char* base = static_cast<const char*>(g->parameters().raw());
  int64_t offset = 0;
  for (const auto& p : named) {
    EXPECT_EQ(static_cast<const char*>(p.tensor.raw()), base + offset * 4) << p.name;
    offset += p.tensor.numel();
  }
  EXPECT_EQ(offset, g->num_parameters());
  EXPECT_EQ(g->gradients().numel(), g->num_parameters());
  // Writing through the flat buffer is visible in the layer's parameter.
  g->parameters().data<float>()[0] = 42.0f;
  EXPECT_EQ(named[0].tensor.to_vector()[0], 42.0f);
}

TEST(GraphState, NamesFollowLayerNamesInStateDictOrder) {
  auto g = make();
  std::vector<std::string> names;
  for (const auto& t : g->state_dict()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"s1.weight", "s1.bias", "s1.calls", "s2.weight",
                                             "s2.bias", "s2.calls", "fc.weight", "fc.bias"}));
  const auto buffers = g->named_buffers();
  ASSERT_EQ(buffers.size(), 2u);
  EXPECT_EQ(buffers[0].tensor.dtype(), DType::I64);
}

TEST(GraphState, NoDecayRangesCoverBiasesAndRankOneWeights) {
  auto g = make();
  // s1.weight, s1.bias, s2.weight, s2.bias are adjacent [0, 12); fc.weight [12, 252) decays.
  const auto r = g->no_decay_ranges();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], (std::pair<int64_t, int64_t>{0, 12}));
  EXPECT_EQ(r[1], (std::pair<int64_t, int64_t>{252, 5}));
}

TEST(GraphState, InitializeIsDeterministicPerSeed) {
  auto a = make(1), b = make(1), c = make(2);
  EXPECT_EQ(a->parameters().to_vector(), b->parameters().to_vector());
  EXPECT_NE(a->parameters().to_vector(), c->parameters().to_vector());
  c->initialize(1);
  EXPECT_EQ(a->parameters().to_vector(), c->parameters().to_vector());
}

TEST(GraphState, LoadStateDictRoundTrips) {
  auto a = make(1), b = make(2);
  a->forward(random_tensor({2, 3, 4, 4}, 1, -1, 1, DType::F32), {});  // bumps a's counters
  std::vector<NamedTensor> saved;
  for (const auto& t : a->state_dict()) saved.push_back({t.name, t.tensor.clone()});
  b->load_state_dict(saved);
  EXPECT_EQ(a->parameters().to_vector(), b->parameters().to_vector());
  EXPECT_EQ(b->named_buffers()[0].tensor.to_f64_vector()[0], 1.0);
  // f64 values (e.g. from a checkpoint written in double) are converted.
  for (auto& t : saved)
    if (t.tensor.dtype() == DType::F32) t.tensor = t.tensor.to_dtype(DType::F64);
  b->initialize(9);
  b->load_state_dict(saved);
  EXPECT_EQ(a->parameters().to_vector(), b->parameters().to_vector());
}

TEST(GraphState, LoadStateDictIsStrictAndAtomic) {
  auto a = make(1), b = make(2);
  const std::vector<float> before = b->parameters().to_vector();
  std::vector<NamedTensor> sd;
  for (const auto& t : a->state_dict()) sd.push_back({t.name, t.tensor.clone()});
  sd.erase(sd.begin() + 1);                                        // drop s1.bias
  sd.push_back({"head.weight", Tensor::zeros({2})});               // unexpected
  sd[0].tensor = random_tensor({4}, 3, -1, 1, DType::F32);         // s1.weight wrong shape
  try {
    b->load_state_dict(sd);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("1 missing (s1.bias)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("1 unexpected (head.weight)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("s1.weight: expected [3] f32, got [4] f32"), std::string::npos) << msg;
  }
  EXPECT_EQ(b->parameters().to_vector(), before);  // nothing was loaded
}

}  // namespace
}  // namespace te::testing
