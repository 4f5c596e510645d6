// Channels-last (kernels/layout.h) where the element order would change a layer's meaning:
// flatten of a spatial map and concatenation of 4-D maps refuse NHWC with a clear error
// instead of silently computing something else.
#include <gtest/gtest.h>

#include "tests/layers_pointwise/make_layer.h"

namespace te::testing {
namespace {

RunContext nhwc() {
  RunContext ctx;
  ctx.layout = Layout::NHWC;
  return ctx;
}

TEST(LayoutGuards, FlattenRefusesChannelsLastSpatialMaps) {
  auto flatten = make_layer("flatten");
  const Tensor x = random_tensor({2, 3, 4, 5}, 1);
  try {
    run_forward(*flatten, {x}, nhwc());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("channels-last"), std::string::npos) << e.what();
  }
  // [N, C, 1, 1] has one order only; NCHW is unaffected.
  EXPECT_EQ(run_forward(*flatten, {random_tensor({2, 3, 1, 1}, 2)}, nhwc()).shape(), Shape({2, 3}));
  EXPECT_EQ(run_forward(*flatten, {x}).shape(), Shape({2, 60}));
}

TEST(LayoutGuards, ConcatRefusesChannelsLastMaps) {
  auto concat = make_layer("concat");
  const Tensor a = random_tensor({2, 3, 4, 4}, 3), b = random_tensor({2, 2, 4, 4}, 4);
  EXPECT_THROW(run_forward(*concat, {a, b}, nhwc()), Error);
  EXPECT_EQ(run_forward(*concat, {a, b}).shape(), Shape({2, 5, 4, 4}));
}

}  // namespace
}  // namespace te::testing
