// The static memory plan: the placement algorithm on its own (no two tensors alive at the
// same step overlap in memory), and graphs run in the planned arena against graphs where every
// tensor has its own memory, with dead tensors poisoned so that any read of memory a layer did
// not declare (Layer::backward_reads) shows up as NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "engine/core/philox.h"
#include "engine/graph/memory_plan.h"
#include "tests/graph/test_layers.h"

namespace te::testing {
namespace {

void expect_no_conflicts(const std::vector<BufferLifetime>& b, const MemoryPlan& plan, int64_t align) {
  ASSERT_EQ(plan.offsets.size(), b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    EXPECT_EQ(plan.offsets[i] % align, 0);
    EXPECT_LE(plan.offsets[i] + b[i].bytes, plan.arena_bytes);
    for (size_t j = i + 1; j < b.size(); ++j) {
      if (b[i].bytes == 0 || b[j].bytes == 0 || !lifetimes_overlap(b[i], b[j])) continue;
      const bool disjoint = plan.offsets[i] + b[i].bytes <= plan.offsets[j] ||
                            plan.offsets[j] + b[j].bytes <= plan.offsets[i];
      EXPECT_TRUE(disjoint) << "buffers " << i << " and " << j << " are alive together and overlap";
    }
  }
}

TEST(MemoryPlan, ChainReusesMemoryOfDeadBuffers) {
  // A chain: each buffer is written at step i and read at step i + 1.
  std::vector<BufferLifetime> b;
  for (int i = 0; i < 6; ++i) b.push_back({1000, i, i + 1});
  const MemoryPlan plan = plan_memory(b, 64);
  expect_no_conflicts(b, plan, 64);
  EXPECT_EQ(plan.total_bytes, 6 * 1024);
  EXPECT_EQ(plan.arena_bytes, 2 * 1024);  // two alive at a time
  EXPECT_EQ(plan.lower_bound_bytes, 2 * 1024);
}

TEST(MemoryPlan, WithoutReuseEveryBufferHasItsOwnRange) {
  std::vector<BufferLifetime> b = {{100, 0, 1}, {300, 2, 3}, {0, 0, 0}, {64, 1, 2}};
  const MemoryPlan plan = plan_memory(b, 64, /*reuse=*/false);
  EXPECT_EQ(plan.offsets, (std::vector<int64_t>{0, 128, 448, 448}));
  EXPECT_EQ(plan.arena_bytes, 512);
  EXPECT_EQ(plan.total_bytes, 512);
}

TEST(MemoryPlan, SmallBufferFillsTheBestFittingGap) {
  // A (0..2) and C (0..2) are alive with D; B died before D starts, leaving a gap.
  std::vector<BufferLifetime> b = {{4096, 0, 9}, {1024, 0, 1}, {4096, 0, 9}, {512, 5, 6}};
  const MemoryPlan plan = plan_memory(b, 256);
  expect_no_conflicts(b, plan, 256);
  EXPECT_EQ(plan.arena_bytes, 4096 * 2 + 1024);
  EXPECT_EQ(plan.offsets[3], plan.offsets[1]);  // D takes B's place
}

TEST(MemoryPlan, RandomLifetimesNeverConflict) {
  for (uint64_t trial = 0; trial < 200; ++trial) {
    CounterRng rng(17, trial, 0);
    const int n = 1 + static_cast<int>(rng.next_u32() % 40);
    std::vector<BufferLifetime> b(n);
    for (BufferLifetime& x : b) {
      x.bytes = rng.next_u32() % 5000;
      x.first = static_cast<int>(rng.next_u32() % 30);
      x.last = x.first + static_cast<int>(rng.next_u32() % 10);
    }
    const MemoryPlan plan = plan_memory(b, 128);
    expect_no_conflicts(b, plan, 128);
    EXPECT_LE(plan.arena_bytes, plan.total_bytes);
    EXPECT_LE(plan.lower_bound_bytes, plan.arena_bytes);
    // The lower bound by brute force: the most bytes alive at any step.
    int64_t most = 0;
    for (int step = 0; step < 40; ++step) {
      int64_t at = 0;
      for (const BufferLifetime& x : b) at += x.first <= step && step <= x.last ? (x.bytes + 127) / 128 * 128 : 0;
      most = std::max(most, at);
    }
    EXPECT_EQ(plan.lower_bound_bytes, most);
  }
}

TEST(MemoryPlan, RejectsBadInput) {
  EXPECT_THROW(plan_memory({{10, 3, 2}}, 64), Error);
  EXPECT_THROW(plan_memory({{-1, 0, 0}}, 64), Error);
  EXPECT_THROW(plan_memory({{10, 0, 0}}, 48), Error);
}

// A miniature ResNet (fusable: bn1 -> relu, b.bn2 -> b.add -> b.relu) with every real layer type whose backward reads differ: conv (input),
// batch norm (input), ReLU (output), GELU and SiLU (input), add/concat/pools/flatten/dropout
// (nothing).
const char* kPlannedNet = R"(
in_channels: 3
layers:
  - {name: conv1, type: conv2d, out_channels: 4, kernel: 3, padding: 1, bias: false}
  - {name: bn1, type: batchnorm2d}
  - {name: relu, type: relu}
  - {name: b.conv1, type: conv2d, out_channels: 4, kernel: 3, padding: 1}
  - {name: b.bn1, type: batchnorm2d}
  - {name: b.act, type: gelu}
  - {name: b.conv2, type: conv2d, out_channels: 4, kernel: 3, padding: 1}
  - {name: b.bn2, type: batchnorm2d}
  - {name: b.add, type: add, inputs: [b.bn2, relu]}
  - {name: b.relu, type: relu}
  - {name: side, type: silu, inputs: relu}
  - {name: cat, type: concat, inputs: [b.relu, side]}
  - {name: pool, type: maxpool2d, kernel: 2, stride: 2}
  - {name: avg, type: avgpool2d, kernel: 2, stride: 1}
  - {name: drop, type: dropout, p: 0.25}
  - {name: flat, type: flatten}
  - {name: fc1, type: linear, out_features: 7}
  - {name: fc_relu, type: relu}
  - {name: fc2, type: linear, out_features: 3}
)";

struct StepResult {
  std::vector<float> output, grads, running;
};

StepResult run_steps(const char* model, const Shape& chw, GraphOptions o, int64_t batch) {
  o.init_seed = 9;
  auto g = Graph::build(yaml(model), "m.yaml", chw, o);
  StepResult r;
  for (int step = 0; step < 2; ++step) {
    std::vector<int64_t> dims = {batch};
    for (int64_t d : chw.dims()) dims.push_back(d);
    const Tensor x = random_tensor(Shape(dims), 100 + step, -1, 1, DType::F32);
    RunContext ctx;
    ctx.seed = 4;
    ctx.step = step;
    g->zero_grad();
    const Tensor& out = g->forward(x, ctx);
    r.output = out.to_vector();
    g->backward(random_tensor(out.shape(), 200 + step, -1, 1, DType::F32), ctx);
  }
  r.grads = g->gradients().to_vector();
  for (const NamedTensor& b : g->named_buffers())
    if (b.tensor.dtype() == DType::F32)
      for (float v : b.tensor.to_vector()) r.running.push_back(v);
  return r;
}

TEST(GraphMemoryPlan, PlannedArenaGivesBitIdenticalResultsWithDeadMemoryPoisoned) {
  for (bool fuse : {false, true})
  for (int64_t batch : {1, 3}) {
    GraphOptions reference;
    reference.reuse_memory = false;
    reference.fuse = fuse;
    GraphOptions planned;
    planned.poison_dead_memory = true;
    planned.fuse = fuse;
    const StepResult a = run_steps(kPlannedNet, {3, 8, 8}, reference, batch);
    const StepResult b = run_steps(kPlannedNet, {3, 8, 8}, planned, batch);
    ASSERT_EQ(a.output.size(), b.output.size());
    EXPECT_EQ(std::memcmp(a.output.data(), b.output.data(), a.output.size() * 4), 0) << batch;
    EXPECT_EQ(std::memcmp(a.grads.data(), b.grads.data(), a.grads.size() * 4), 0) << batch;
    EXPECT_EQ(a.running, b.running) << batch;
    for (float v : b.grads) ASSERT_TRUE(std::isfinite(v));
  }
}

TEST(GraphMemoryPlan, ArenaIsSmallerThanSeparateBuffers) {
  GraphOptions o;
  o.fuse = false;  // the layers as listed
  auto g = Graph::build(yaml(kPlannedNet), "m.yaml", {3, 16, 16}, o);
  const GraphMemory m = g->memory_at(32);
  EXPECT_EQ(m.buffers, 19 + 18);  // every output, every gradient but the last node's
  EXPECT_LT(m.arena_bytes, m.unplanned_bytes * 3 / 4);
  o.inference_only = true;
  auto inference = Graph::build(yaml(kPlannedNet), "m.yaml", {3, 16, 16}, o);
  const GraphMemory mi = inference->memory_at(32);
  EXPECT_EQ(mi.buffers, 19);
  EXPECT_LT(mi.arena_bytes, m.arena_bytes / 2);
  // At the concat: its two inputs [32, 4, 16, 16] and its output [32, 8, 16, 16].
  EXPECT_EQ(mi.arena_bytes, (2 * 4 + 8) * 32 * 16 * 16 * 4);
  EXPECT_EQ(mi.saved_bytes, 0);
}

TEST(GraphMemoryPlan, InferenceOnlyGraphMatchesTrainingGraphAndRefusesBackward) {
  GraphOptions o;
  o.init_seed = 2;
  auto train = Graph::build(yaml(kPlannedNet), "m.yaml", {3, 8, 8}, o);
  o.inference_only = true;
  o.poison_dead_memory = true;
  auto infer = Graph::build(yaml(kPlannedNet), "m.yaml", {3, 8, 8}, o);
  const Tensor x = random_tensor({4, 3, 8, 8}, 5, -1, 1, DType::F32);
  RunContext eval;
  eval.training = false;
  EXPECT_EQ(train->forward(x, eval).to_vector(), infer->forward(x, eval).to_vector());
  EXPECT_THROW(infer->backward(random_tensor({4, 3}, 6, -1, 1, DType::F32), eval), Error);
}

TEST(GraphMemoryPlan, SmallerBatchReusesTheArenaAndLargerReplans) {
  auto g = Graph::build(yaml(kPlannedNet), "m.yaml", {3, 8, 8});
  RunContext ctx;
  const void* arena = g->forward(random_tensor({4, 3, 8, 8}, 1, -1, 1, DType::F32), ctx).raw();
  EXPECT_EQ(g->forward(random_tensor({2, 3, 8, 8}, 1, -1, 1, DType::F32), ctx).raw(), arena);
  g->backward(random_tensor({2, 3}, 2, -1, 1, DType::F32), ctx);
  EXPECT_EQ(g->forward(random_tensor({4, 3, 8, 8}, 1, -1, 1, DType::F32), ctx).raw(), arena);
  const Tensor& big = g->forward(random_tensor({9, 3, 8, 8}, 1, -1, 1, DType::F32), ctx);
  EXPECT_EQ(big.shape(), Shape({9, 3}));
  g->backward(random_tensor({9, 3}, 2, -1, 1, DType::F32), ctx);
  for (float v : g->gradients().to_vector()) ASSERT_TRUE(std::isfinite(v));
}

// Declares that its backward reads nothing but reads its input anyway (tanh' from x): the
// poisoning must catch it, or the planned-memory test above could not fail.
class LyingTanh : public TTanh {
 public:
  using TTanh::TTanh;
  BackwardReads backward_reads() const override { return {false, false}; }
};

TEST(GraphMemoryPlan, PoisoningCatchesALayerReadingMemoryItDidNotDeclare) {
  const char* model = R"(
layers:
  - {name: s1, type: t_scale}
  - {name: lie, type: t_tanh}
  - {name: s2, type: t_scale}
  - {name: s3, type: t_scale}
  - {name: fc, type: t_dense, out_features: 2}
)";
  GraphOptions o = test_options();
  o.poison_dead_memory = true;
  o.factory = [](const std::string& type, LayerArgs& args) -> std::unique_ptr<Layer> {
    if (type != "t_tanh") return test_factory(type, args);
    args.mark_used("type");
    args.finish(type);
    return std::make_unique<LyingTanh>(args);
  };
  auto g = Graph::build(yaml(model), "m.yaml", {2, 3, 1}, o);
  RunContext ctx;
  g->zero_grad();
  g->forward(random_tensor({2, 2, 3, 1}, 1, -1, 1, DType::F32), ctx);
  g->backward(random_tensor({2, 2}, 2, -1, 1, DType::F32), ctx);
  bool poisoned = false;
  for (float v : g->gradients().to_vector()) poisoned = poisoned || std::isnan(v);
  EXPECT_TRUE(poisoned);
}

}  // namespace
}  // namespace te::testing
