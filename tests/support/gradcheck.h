#pragma once
// Finite-difference gradient checking for layers (Caffe's GradientChecker idea), in double
// precision. The scalar checked is L = sum(output * R) for a fixed random R, so dL/doutput = R
// is non-trivial. Analytic gradients (from backward) are compared with central differences
// for every input element and every parameter element (or a random subset when large).
#include <gtest/gtest.h>

#include <vector>

#include "engine/layers/layer.h"

namespace te::testing {

struct GradCheckOptions {
  double step = 1e-6;
  double tolerance = 1e-5;  // on |a - n| / max(1, |a|, |n|)
  int64_t max_checks_per_tensor = 400;  // elements probed per tensor (all when fewer)
  std::vector<bool> check_input;        // per input; empty = all inputs
  bool check_params = true;
  RunContext ctx{};                     // training mode by default
  uint64_t seed = 1234;
};

// Random tensor with values in [lo, hi), never all zero (F64 unless told otherwise).
Tensor random_tensor(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0,
                     DType dtype = DType::F64);

// Builds `layer` for the inputs' shapes, allocates F64 parameters and initialises them
// randomly (non-zero) unless they are already bound.
void prepare_layer_f64(Layer& layer, const std::vector<Tensor>& inputs, uint64_t seed = 99);

// Runs the check; reports mismatches as gtest failures with the tensor name and index, and
// fails a tensor whose probed gradients are all zero (such a check proves nothing).
void expect_gradients_match(Layer& layer, const std::vector<Tensor>& inputs,
                            const GradCheckOptions& options = {});

// Checks that backward with GradMode::Accumulate adds to what is in the gradient buffers
// (and Overwrite replaces it).
void expect_accumulate_mode_adds(Layer& layer, const std::vector<Tensor>& inputs,
                                 const RunContext& ctx = {});

}  // namespace te::testing
