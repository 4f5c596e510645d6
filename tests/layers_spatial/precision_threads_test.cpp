// The float path agrees with the double path, and results are bit-identical with 1 and 2
// threads (the kernels split work by shape, never by thread count).
#include <cmath>
#include <cstring>

#include "tests/layers_spatial/spatial_util.h"

namespace te::testing {
namespace {

struct Case {
  const char* type;
  const char* yaml;
  Shape input;
};

// Shapes that give several chunks, several images per GEMM, several weight-gradient blocks
// and several linear column blocks.
std::vector<Case> cases() {
  return {
      {"conv2d", "{out_channels: 6, kernel: 3, padding: 1}", Shape{8, 4, 9, 9}},
      {"conv2d", "{out_channels: 8, kernel: 3, stride: 2, padding: 1, bias: false}",
       Shape{5, 3, 33, 31}},
      {"conv2d", "{out_channels: 6, kernel: 1}", Shape{7, 4, 17, 16}},
      {"conv2d", "{out_channels: 6, kernel: 3, padding: 1}", Shape{3, 8, 17, 16}},
      {"conv2d", "{out_channels: 40, kernel: 3, padding: 1}", Shape{4, 20, 3, 3}},
      {"conv2d", "{out_channels: 4, kernel: 3, groups: 2, dilation: 2, padding: 2}",
       Shape{6, 4, 8, 8}},
      // Per-tap weight gradient with more images than its fixed 16 batch chunks.
      {"conv2d", "{out_channels: 5, kernel: 3, padding: 1}", Shape{19, 8, 12, 12}},
      {"linear", "{out_features: 300}", Shape{9, 200}},
      {"maxpool2d", "{kernel: 3, stride: 2, padding: 1}", Shape{4, 3, 12, 12}},
      {"avgpool2d", "{kernel: 2}", Shape{4, 3, 12, 12}},
      {"global_avg_pool", "{}", Shape{4, 5, 7, 7}},
  };
}

struct Result {
  std::vector<Tensor> tensors;  // y, dx, parameter gradients
};

// Forward + backward in `dtype`, with parameters drawn in double and converted.
Result run(const Case& c, DType dtype) {
  auto layer = make_layer(c.type, c.yaml);
  const Tensor x64 = random_tensor(c.input, 77);
  layer->build({x64.shape()});
  layer->allocate_unbound(dtype);
  uint64_t seed = 80;
  for (auto& p : layer->params())
    p.value.copy_from(random_tensor(p.shape, seed++, -0.5, 0.5, dtype));
  const Tensor x = x64.to_dtype(dtype);
  const Tensor y = run_forward(*layer, x);
  const Tensor dy = random_tensor(y.shape(), 90, -1, 1, dtype);
  Result r;
  r.tensors.push_back(y);
  r.tensors.push_back(run_backward(*layer, x, y, dy));
  for (auto& p : layer->params()) r.tensors.push_back(p.grad.clone());
  return r;
}

TEST(SpatialLayers, FloatAgreesWithDouble) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(std::string(c.type) + " " + c.yaml);
    const Result f = run(c, DType::F32);
    const Result d = run(c, DType::F64);
    ASSERT_EQ(f.tensors.size(), d.tensors.size());
    for (size_t t = 0; t < f.tensors.size(); ++t) {
      const auto a = f.tensors[t].to_f64_vector(), b = d.tensors[t].to_f64_vector();
      ASSERT_EQ(a.size(), b.size());
      double scale = 0;
      for (double v : b) scale = std::max(scale, std::fabs(v));
      for (size_t i = 0; i < a.size(); ++i)
        ASSERT_NEAR(a[i], b[i], 1e-5 * std::max(1.0, scale)) << "tensor " << t << " element " << i;
    }
  }
}

TEST(SpatialLayers, IdenticalWithOneAndTwoThreads) {
  ThreadCountGuard guard;
  for (const Case& c : cases()) {
    SCOPED_TRACE(std::string(c.type) + " " + c.yaml);
    set_num_threads(1);
    const Result one = run(c, DType::F32);
    set_num_threads(2);
    const Result two = run(c, DType::F32);
    set_num_threads(3);
    const Result three = run(c, DType::F32);
    for (size_t t = 0; t < one.tensors.size(); ++t) {
      EXPECT_EQ(std::memcmp(one.tensors[t].raw(), two.tensors[t].raw(), one.tensors[t].nbytes()), 0)
          << "tensor " << t << " differs between 1 and 2 threads";
      EXPECT_EQ(std::memcmp(one.tensors[t].raw(), three.tensors[t].raw(), one.tensors[t].nbytes()),
                0)
          << "tensor " << t << " differs between 1 and 3 threads";
    }
  }
}

}  // namespace
}  // namespace te::testing
