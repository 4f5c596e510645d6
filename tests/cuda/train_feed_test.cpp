// The training loop's GPU pieces that never wait for the device: the double-buffered batch
// uploads (engine/train/batch_feed.h) against the CPU path on the same loader output, and
// softmax_xent_train against the CPU reference (loss sums, accuracy counts, gradients, bad
// labels).
#include <cmath>
#include <memory>
#include <vector>

#include "engine/core/philox.h"
#include "engine/data/dataset.h"
#include "engine/data/loader.h"
#include "engine/train/batch_feed.h"
#include "kernels/softmax_xent.h"
#include "tests/cuda/cuda_test_util.h"

namespace te::cuda_test {
namespace {

class TrainFeed : public CudaTest {};

// Random 7x6 RGB pixels per sample, labels i % 4.
class PixelDataset : public Dataset {
 public:
  explicit PixelDataset(int64_t n) : n_(n), names_{"a", "b", "c", "d"} {}
  int64_t size() const override { return n_; }
  const std::vector<std::string>& class_names() const override { return names_; }
  int32_t label(int64_t i) const override { return static_cast<int32_t>(i % 4); }
  std::string describe(int64_t i) const override { return "pixels#" + std::to_string(i); }
  void read(int64_t i, SampleData& out) const override {
    out.kind = SampleData::Kind::Pixels;
    out.height = 7;
    out.width = 6;
    out.channels = 3;
    out.storage.resize(7 * 6 * 3);
    CounterRng rng(5, static_cast<uint64_t>(i), 0);
    for (uint8_t& v : out.storage) v = static_cast<uint8_t>(rng.next_u32() & 0xff);
    out.own();
  }
  std::string kind() const override { return "pixels"; }

 private:
  int64_t n_;
  std::vector<std::string> names_;
};

std::unique_ptr<DataLoader> loader(int64_t batch) {
  TransformConfig t;
  t.image_size = 6;
  t.train = true;  // random crops and flips: the two loaders must still agree (same seed)
  LoaderOptions o;
  o.batch_size = batch;
  o.workers = 2;
  o.seed = 9;
  o.drop_last = true;
  return std::make_unique<DataLoader>(std::make_shared<PixelDataset>(37), t, o);
}

TEST_F(TrainFeed, UploadedBatchesEqualTheCpuPathAcrossEpochs) {
  auto cpu_loader = loader(5), gpu_loader = loader(5);
  const std::vector<float> mean = {0.4f, 0.5f, 0.6f}, std = {0.2f, 0.25f, 0.3f};
  BatchFeed cpu_feed(*cpu_loader, Device::cpu(), mean, std);
  BatchFeed gpu_feed(*gpu_loader, gpu(), mean, std);
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    // Resume the second epoch mid-way, like a restarted run.
    const int64_t first = epoch == 0 ? 0 : 3, batches = cpu_loader->batches_per_epoch() - first;
    cpu_loader->start_epoch(epoch, first);
    gpu_loader->start_epoch(epoch, first);
    cpu_feed.start_epoch(batches);
    gpu_feed.start_epoch(batches);
    for (int64_t b = 0; b < batches; ++b) {
      const DeviceBatch& c = cpu_feed.next();
      const DeviceBatch& g = gpu_feed.next();
      const std::vector<float> want = c.input.to_vector(), got = g.input.to(Device::cpu()).to_vector();
      ASSERT_EQ(want.size(), got.size());
      for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-6f) << epoch << " " << b;
      const Tensor labels = g.labels.to(Device::cpu());
      for (int64_t i = 0; i < labels.numel(); ++i)
        ASSERT_EQ(labels.data<int32_t>()[i], c.labels.data<int32_t>()[i]);
      cpu_feed.release();
      gpu_feed.release();
    }
    EXPECT_THROW(gpu_feed.next(), Error);  // the epoch's batches are used up
  }
}

TEST_F(TrainFeed, SoftmaxXentTrainMatchesCpuAndFlagsBadLabels) {
  const int64_t n = 19, k = 7;
  const Tensor logits = rand_cpu({n, k}, 3, -3, 3);
  Tensor labels = Tensor::empty({n}, DType::I32);
  for (int64_t i = 0; i < n; ++i) labels.data<int32_t>()[i] = static_cast<int32_t>((i * 5) % k);
  auto run = [&](Device d, const Tensor& lab, double* loss, int64_t* correct, int32_t* bad) {
    Tensor probs = Tensor::empty({n, k}, DType::F32, d), grad = Tensor::empty({n, k}, DType::F32, d);
    Tensor loss_sum = Tensor::zeros({1}, DType::F64, d), count = Tensor::zeros({1}, DType::I64, d);
    Tensor bad_row = Tensor::empty({1}, DType::I32, d);
    bad_row.fill(-1);
    const Tensor x = logits.to(d), l = lab.to(d);
    for (int rep = 0; rep < 2; ++rep)  // `correct` accumulates, loss_sum is overwritten
      ops::softmax_xent_train(x, l, 0.1, 0.5, probs, grad, loss_sum, count, bad_row);
    *loss = loss_sum.to_f64_vector()[0];
    *correct = count.to(Device::cpu()).data<int64_t>()[0];
    *bad = bad_row.to(Device::cpu()).data<int32_t>()[0];
    return grad.to(Device::cpu()).to_vector();
  };
  double lc = 0, lg = 0;
  int64_t cc = 0, cg = 0;
  int32_t bc = 0, bg = 0;
  const std::vector<float> gc = run(Device::cpu(), labels, &lc, &cc, &bc);
  const std::vector<float> gg = run(gpu(), labels, &lg, &cg, &bg);
  EXPECT_NEAR(lg, lc, 1e-9 * std::fabs(lc));
  EXPECT_EQ(cg, cc);
  EXPECT_GT(cc, 0);
  EXPECT_EQ(bg, -1);
  for (size_t i = 0; i < gc.size(); ++i) EXPECT_NEAR(gg[i], gc[i], 1e-6f);

  labels.data<int32_t>()[11] = static_cast<int32_t>(k);  // out of range
  labels.data<int32_t>()[15] = -2;
  run(gpu(), labels, &lg, &cg, &bg);
  EXPECT_TRUE(bg == 11 || bg == 15) << bg;
  EXPECT_THROW(run(Device::cpu(), labels, &lc, &cc, &bc), Error);
}

}  // namespace
}  // namespace te::cuda_test
