#include "rank_training.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "dist_fixture.h"
#include "engine/config/run_config.h"
#include "engine/core/philox.h"
#include "engine/distributed/data_parallel.h"
#include "engine/graph/graph.h"

namespace te::testing {

Trained train_on_ranks(const std::string& config_text, const std::string& run_dir,
                       std::shared_ptr<Communicator> c, Device device, int64_t stop_at_step, bool resume) {
  const std::string config_path = run_dir + ".yaml";
  if (!c || c->rank() == 0) write_text_file(config_path, config_text);
  if (c) c->barrier();
  TrainerOptions o;
  o.run_dir = run_dir;
  o.device = device;
  o.comm = c;
  o.bucket_bytes = 64;  // several buckets even for a tiny model
  o.stop_at_step = stop_at_step;
  o.resume = resume;
  Trainer trainer(load_run_config(config_path), o);
  Trained t;
  t.summary = trainer.run();
  t.params = trainer.graph().parameters().to_vector();
  for (const auto& b : trainer.graph().named_buffers())
    if (b.tensor.dtype() == DType::F32) {
      const auto v = b.tensor.to_vector();
      t.buffers.insert(t.buffers.end(), v.begin(), v.end());
    }
  return t;
}

namespace {
class SharedCommunicatorShutdown : public ::testing::Environment {
 public:
  void TearDown() override {
    if (shared_communicator()) shared_communicator()->shutdown();
    shared_communicator().reset();
  }
};
[[maybe_unused]] ::testing::Environment* const g_shutdown =
    ::testing::AddGlobalTestEnvironment(new SharedCommunicatorShutdown);
}  // namespace

std::shared_ptr<Communicator>& shared_communicator() {
  static std::shared_ptr<Communicator> comm;
  return comm;
}

std::string shared_root(Communicator& c, const std::string& name) {
  const std::string root = broadcast_string(c, c.rank() == 0 ? temp_dir(name) : "");
  if (c.rank() == 0) write_tiny_idx(root + "/data", 96, 30);
  c.barrier();  // the data exists before any rank reads it
  return root;
}

double max_relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    worst = std::max(worst, std::abs(double(a[i]) - double(b[i])) / (1.0 + std::abs(double(a[i]))));
  return worst;
}

std::vector<float> rank_zeros(Communicator& c, const std::vector<float>& mine) {
  Tensor t = Tensor::from_vector(Shape{static_cast<int64_t>(mine.size())}, mine);
  c.broadcast(t, 0);
  return t.to_vector();
}

std::vector<float> averaged_gradients(DataParallel& dp, bool overlapped, Device device) {
  const YAML::Node spec = YAML::Load(
      "{layers: [{name: conv1, type: conv2d, out_channels: 6, kernel: 3, padding: 1},"
      " {name: bn1, type: batchnorm2d}, {name: relu1, type: relu},"
      " {name: conv2, type: conv2d, out_channels: 5, kernel: 3, padding: 1},"
      " {name: pool, type: global_avg_pool}, {name: flatten, type: flatten},"
      " {name: fc, type: linear, out_features: 4}]}");
  auto graph = Graph::build(spec, "test", Shape{3, 6, 6});
  graph->to(device);
  Tensor x = Tensor::empty({4, 3, 6, 6});
  CounterRng rng(7, static_cast<uint64_t>(dp.rank()), 0);  // each rank its own batch
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = rng.uniform(-1.0f, 1.0f);
  RunContext ctx;
  ctx.training = true;
  const Tensor& y = graph->forward(x.to(device), ctx);
  Tensor dy = Tensor::empty(y.shape());
  for (int64_t i = 0; i < dy.numel(); ++i) dy.data<float>()[i] = rng.uniform(-1.0f, 1.0f);
  graph->zero_grad();
  if (overlapped) {
    // After the first report (fc: bucket 0 complete) the hook waits, inside backward, until
    // the bucket has started: a fast backward could otherwise end before CPU ranks' comm
    // thread picks it up (GPU ranks queue it on the side stream at once: no wait).
    const int64_t early_before = dp.overlap_early_buckets();
    bool first = true;
    graph->set_gradients_ready_hook([&](int64_t o, int64_t n) {
      dp.gradients_ready(o, n);
      for (int i = 0; first && i < 10000 && dp.overlap_early_buckets() == early_before; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      first = false;
    });
    dp.arm_overlap(graph->gradients());
    graph->backward(dy.to(device), ctx);
    dp.finish_overlap();
  } else {
    graph->backward(dy.to(device), ctx);
    dp.average_gradients(graph->gradients());
  }
  return graph->gradients().to(Device::cpu()).to_vector();
}

}  // namespace te::testing
