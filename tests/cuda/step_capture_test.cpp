// CUDA graphs for the training step (engine/train/step_capture.h): several SGD steps of a small
// residual network with the forward/loss/backward replayed from captured graphs must give the
// same parameters as the same steps run eagerly (deterministic cuDNN algorithms on both).
#include <yaml-cpp/yaml.h>

#include <cmath>

#include "engine/graph/graph.h"
#include "engine/layers/softmax_cross_entropy.h"
#include "engine/train/step_capture.h"
#include "kernels/cuda/context.h"
#include "kernels/cast.h"
#include "tests/cuda/cuda_test_util.h"

namespace te::cuda_test {
namespace {

class StepCaptureTest : public CudaTest {};

const char* kNet = R"(
in_channels: 3
num_classes: 5
layers:
  - {name: conv1, type: conv2d, out_channels: 8, kernel: 3, padding: 1, bias: false}
  - {name: bn1, type: batchnorm2d}
  - {name: relu, type: relu}
  - {name: conv2, type: conv2d, out_channels: 8, kernel: 3, padding: 1, bias: false}
  - {name: bn2, type: batchnorm2d}
  - {name: add, type: add, inputs: [bn2, relu]}
  - {name: relu2, type: relu}
  - {name: pool, type: maxpool2d, kernel: 2, stride: 2}
  - {name: gap, type: global_avg_pool}
  - {name: fc, type: linear, out_features: 5}
)";

std::vector<double> train(bool capture, int64_t* replays) {
  te::cuda::set_deterministic(true);
  GraphOptions o;
  o.init_seed = 3;
  o.device = gpu();
  auto g = Graph::build(YAML::Load(kNet), "step_capture_test", {3, 12, 12}, o);
  StepCapture sc(capture, *g, /*ruled_out=*/"", /*warmup=*/1);
  EXPECT_EQ(sc.active(), capture);
  SoftmaxCrossEntropy loss(0.1);
  // Two input slots, as the batch feed alternates.
  Tensor inputs[2] = {Tensor::empty({6, 3, 12, 12}, DType::F32, gpu()),
                      Tensor::empty({6, 3, 12, 12}, DType::F32, gpu())};
  Tensor labels = Tensor::empty({6}, DType::I32);
  for (int i = 0; i < 6; ++i) labels.data<int32_t>()[i] = i % 5;
  const Tensor dlabels = labels.to(gpu());
  Tensor grad = Tensor::empty({6, 5}, DType::F32, gpu());
  Tensor loss_sum = Tensor::zeros({1}, DType::F64, gpu()), correct = Tensor::zeros({1}, DType::I64, gpu());
  Tensor bad = Tensor::empty({1}, DType::I32, gpu());
  bad.fill(-1);
  for (int step = 0; step < 8; ++step) {
    const int slot = step % 2;
    inputs[slot].copy_from(rand_cpu({6, 3, 12, 12}, 100 + step, -2, 2));
    RunContext ctx;
    ctx.step = static_cast<uint64_t>(step);
    g->zero_grad();
    StepKey key;
    key.slot = slot;
    key.rows = 6;
    key.arena = g->arena_address();
    key.input = inputs[slot].raw();
    sc.run(key, [&] {
      const Tensor& logits = g->forward(inputs[slot], ctx);
      loss.forward_backward(logits, dlabels, 1.0, grad, loss_sum, correct, bad);
      g->backward(grad, ctx);
    });
    // Evaluations between steps with a smaller and (once) a larger batch: layer memory that
    // depends on the batch must not move under the captured graphs (max-pool's argmax).
    if (step == 3 || step == 5) {
      RunContext eval;
      eval.training = false;
      const int64_t rows = step == 3 ? 3 : 9;
      g->forward(rand_cpu({rows, 3, 12, 12}, 300 + step, -2, 2).to(gpu()), eval);
    }
    // Plain SGD on the host side of the step, outside any graph.
    Tensor p = g->parameters().to(Device::cpu());
    const Tensor d = g->gradients().to(Device::cpu());
    for (int64_t i = 0; i < p.numel(); ++i) p.data<float>()[i] -= 0.05f * d.data<float>()[i];
    g->parameters().copy_from(p);
  }
  *replays = sc.replays();
  te::cuda::set_deterministic(false);
  std::vector<double> out = g->parameters().to_f64_vector();
  for (const NamedTensor& b : g->named_buffers())
    for (double v : b.tensor.to_f64_vector()) out.push_back(v);
  return out;
}

TEST_F(StepCaptureTest, ReplayedStepsMatchEagerSteps) {
  int64_t eager_replays = -1, replays = -1;
  const std::vector<double> eager = train(false, &eager_replays);
  const std::vector<double> captured = train(true, &replays);
  EXPECT_EQ(eager_replays, 0);
  // Step 0 runs before the activation arena exists (its key has no arena address), so slot 0
  // runs eagerly at steps 0 and 2 and is captured at step 4; slot 1 at step 3. Replays: steps 3,
  // 4 and 5. The evaluation with 9 rows after step 5 grows (moves) the arena, so steps 6 and 7
  // are new keys and run eagerly. (Written as ">= 4" before this ran anywhere: the emulation,
  // which replays captured work since, found it.)
  EXPECT_EQ(replays, 3);
  ASSERT_EQ(eager.size(), captured.size());
  for (size_t i = 0; i < eager.size(); ++i)
    ASSERT_NEAR(captured[i], eager[i], 1e-5 * std::max(1.0, std::fabs(eager[i]))) << i;
}

}  // namespace
}  // namespace te::cuda_test
