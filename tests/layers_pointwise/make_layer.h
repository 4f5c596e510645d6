#pragma once
// Helpers shared by the pointwise layer tests: build a layer through the registry (so the
// registration and argument parsing are tested too) and run its forward pass.
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/layers/registry.h"
#include "tests/support/gradcheck.h"

namespace te::testing {

inline std::unique_ptr<Layer> make_layer(const std::string& type, const std::string& yaml = "{}",
                                         const std::string& name = "test_layer") {
  LayerArgs args(YAML::Load(yaml), "test.yaml", name);
  return create_layer(type, args);
}

inline Tensor run_forward(Layer& layer, const std::vector<Tensor>& inputs,
                          const RunContext& ctx = {}) {
  std::vector<Shape> shapes;
  std::vector<const Tensor*> ptrs;
  for (const auto& t : inputs) {
    shapes.push_back(t.shape());
    ptrs.push_back(&t);
  }
  Tensor out = Tensor::empty(layer.output_shape(shapes), inputs.at(0).dtype());
  layer.forward(ptrs, out, ctx);
  return out;
}

// Runs backward for one input with grad_output `dy`; returns the input gradient.
inline Tensor run_backward1(Layer& layer, const Tensor& x, const Tensor& y, const Tensor& dy,
                            const RunContext& ctx = {}) {
  Tensor dx = Tensor::zeros(x.shape(), x.dtype());
  BackwardArgs args;
  args.inputs = {&x};
  args.output = &y;
  args.grad_output = &dy;
  args.grad_inputs = {&dx};
  args.modes = {GradMode::Overwrite};
  args.ctx = ctx;
  layer.backward(args);
  return dx;
}

inline void expect_all_near(const std::vector<double>& got, const std::vector<double>& want,
                            double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << what << "[" << i << "]";
}

}  // namespace te::testing
