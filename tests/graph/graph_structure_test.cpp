// Building graphs from descriptions: wiring, order, and the errors a user meets.
#include <gtest/gtest.h>

#include "tests/graph/test_layers.h"

namespace te::testing {
namespace {

// Builds and returns the error message (or "" when the build succeeds).
template <typename E>
std::string build_error(const std::string& model, const Shape& input = {3, 4, 4}) {
  try {
    Graph::build(yaml(model), "m.yaml", input, test_options());
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

const char* kResidual = R"(
in_channels: 3
layers:
  - {name: s1, type: t_scale}
  - {name: a1, type: t_tanh}
  - {name: s2, type: t_scale}
  - {name: sum, type: t_add, inputs: [a1, s2]}
  - {name: fc, type: t_dense, out_features: 5}
)";

TEST(GraphStructure, DefaultInputsChainAndExplicitInputsWire) {
  auto g = Graph::build(yaml(kResidual), "m.yaml", {3, 4, 4}, test_options());
  ASSERT_EQ(g->num_layers(), 5u);
  EXPECT_EQ(g->layer_name(3), "sum");
  EXPECT_EQ(g->output_shape(7), Shape({7, 5}));
  // 3 + 3 (s1), 3 + 3 (s2), 5 * 48 + 5 (fc)
  EXPECT_EQ(g->num_parameters(), 6 + 6 + 245);
  const std::string table = g->summary(2);
  EXPECT_NE(table.find("a1, s2"), std::string::npos) << table;  // residual inputs listed
  EXPECT_NE(table.find("[2, 5]"), std::string::npos) << table;
  EXPECT_NE(table.find("parameters: 257"), std::string::npos) << table;
}

TEST(GraphStructure, UnknownInputNameIsAnErrorWithSuggestion) {
  const std::string msg = build_error<ConfigError>(R"(
layers:
  - {name: s1, type: t_scale}
  - {name: a1, type: t_tanh}
  - {name: sum, type: t_add, inputs: [a1, s11]}
)");
  EXPECT_NE(msg.find("m.yaml:5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("layer 'sum'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'s11'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 's1'"), std::string::npos) << msg;
}

TEST(GraphStructure, DuplicateAndReservedNamesAreErrors) {
  std::string msg = build_error<ConfigError>(R"(
layers:
  - {name: s1, type: t_scale}
  - {name: s1, type: t_tanh}
)");
  EXPECT_NE(msg.find("duplicate layer name 's1'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("m.yaml:4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("m.yaml:3"), std::string::npos) << msg;  // where the first one is
  msg = build_error<ConfigError>("layers: [{name: input, type: t_tanh}]");
  EXPECT_NE(msg.find("reserved"), std::string::npos) << msg;
  msg = build_error<ConfigError>("layers: [{type: t_tanh}]");
  EXPECT_NE(msg.find("needs a `name`"), std::string::npos) << msg;
}

TEST(GraphStructure, CycleIsAnError) {
  const std::string msg = build_error<ConfigError>(R"(
layers:
  - {name: s1, type: t_scale}
  - {name: a, type: t_add, inputs: [s1, c]}
  - {name: b, type: t_tanh}
  - {name: c, type: t_tanh}
  - {name: fc, type: t_dense, out_features: 2}
)");
  EXPECT_NE(msg.find("cycle"), std::string::npos) << msg;
  EXPECT_NE(msg.find("a -> b -> c -> a"), std::string::npos) << msg;
}

TEST(GraphStructure, ForwardReferenceWithoutCycleIsAnError) {
  const std::string msg = build_error<ConfigError>(R"(
layers:
  - {name: s1, type: t_scale, inputs: a1}
  - {name: a1, type: t_tanh, inputs: input}
)");
  EXPECT_NE(msg.find("listed after it"), std::string::npos) << msg;
  EXPECT_NE(msg.find("layer 's1'"), std::string::npos) << msg;
}

TEST(GraphStructure, ShapeMismatchNamesLayerAndShapes) {
  const std::string msg = build_error<ShapeError>(R"(
layers:
  - {name: s1, type: t_scale}
  - {name: fc, type: t_dense, out_features: 5}
  - {name: sum, type: t_add, inputs: [s1, fc]}
)");
  EXPECT_NE(msg.find("m.yaml:5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("layer 'sum'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1, 3, 4, 4]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1, 5]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'fc' [1, 5]"), std::string::npos) << msg;
}

TEST(GraphStructure, UnusedLayerIsAnError) {
  const std::string msg = build_error<ConfigError>(R"(
layers:
  - {name: s1, type: t_scale}
  - {name: dead, type: t_tanh}
  - {name: fc, type: t_dense, out_features: 2, inputs: s1}
)");
  EXPECT_NE(msg.find("'dead' is never used"), std::string::npos) << msg;
}

TEST(GraphStructure, UnknownLayerKeyIsAnErrorWithSuggestion) {
  const std::string msg = build_error<ConfigError>(R"(
layers:
  - {name: s1, type: t_scale, bais: false}
  - {name: fc, type: t_dense, out_features: 5}
)");
  EXPECT_NE(msg.find("m.yaml:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("layer 's1'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'bias'"), std::string::npos) << msg;
}

TEST(GraphStructure, NumClassesIsCheckedAgainstTheOutput) {
  const std::string msg = build_error<ShapeError>(R"(
num_classes: 4
layers:
  - {name: fc, type: t_dense, out_features: 5}
)");
  EXPECT_NE(msg.find("num_classes = 4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1, 5]"), std::string::npos) << msg;
}

TEST(GraphStructure, InChannelsMustMatchTheInput) {
  const std::string msg = build_error<ConfigError>("{in_channels: 1, layers: [{name: a, type: t_tanh}]}");
  EXPECT_NE(msg.find("in_channels is 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3, 4, 4]"), std::string::npos) << msg;
}

TEST(GraphStructure, ModelSectionErrors) {
  std::string msg = build_error<ConfigError>("{preset: resnet18, num_class: 10}");
  EXPECT_NE(msg.find("did you mean 'num_classes'"), std::string::npos) << msg;
  msg = build_error<ConfigError>("{preset: resnet19, num_classes: 10}");
  EXPECT_NE(msg.find("unknown preset 'resnet19'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'resnet18'"), std::string::npos) << msg;
  msg = build_error<ConfigError>("{preset: resnet18}");
  EXPECT_NE(msg.find("num_classes"), std::string::npos) << msg;
  msg = build_error<ConfigError>("{preset: resnet18, num_classes: 10, layers: [{name: a, type: t_tanh}]}");
  EXPECT_NE(msg.find("exactly one of"), std::string::npos) << msg;
  msg = build_error<ConfigError>("{preset: resnet50, num_classes: 10, width: 0.5}");
  EXPECT_NE(msg.find("fixed width"), std::string::npos) << msg;
  msg = build_error<ConfigError>("{preset: resnet9, num_classes: -3}");
  EXPECT_NE(msg.find("positive integer"), std::string::npos) << msg;
  msg = build_error<ConfigError>("{layers: []}");
  EXPECT_NE(msg.find("non-empty list"), std::string::npos) << msg;
}

TEST(GraphStructure, ForwardRejectsWrongInputShape) {
  auto g = Graph::build(yaml(kResidual), "m.yaml", {3, 4, 4}, test_options());
  Tensor bad = random_tensor({2, 3, 4, 5}, 1, -1, 1, DType::F32);
  EXPECT_THROW(g->forward(bad, {}), ShapeError);
}

}  // namespace
}  // namespace te::testing
