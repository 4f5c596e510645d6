// The CUDA context: initialisation, the caching allocator (no driver calls in steady state),
// device copies, out-of-memory errors and the asynchronous upload path.
#include <cuda_runtime.h>

#include <vector>

#include "kernels/cuda/context.h"
#include "tests/cuda/cuda_test_util.h"

namespace te::cuda_test {
namespace {

class CudaContext : public CudaTest {};

TEST_F(CudaContext, InitializeIsIdempotentAndRejectsOtherDevices) {
  EXPECT_NO_THROW(te::cuda::initialize(0));
  EXPECT_TRUE(te::cuda::initialized());
  EXPECT_THROW(te::cuda::initialize(1000), DeviceError);
  const auto& ctx = te::cuda::context();
  EXPECT_GT(ctx.sm_count, 0);
  EXPECT_GE(ctx.cc_major, 5);
}

TEST_F(CudaContext, SteadyStateAllocationsHitTheCache) {
  const Shape shapes[] = {{256, 64, 56, 56}, {1000}, {3, 5}, {17, 33, 9}};
  for (const Shape& s : shapes) Tensor::empty(s, DType::F32, gpu());  // warm the cache
  const auto before = te::cuda::device_memory_stats();
  for (int step = 0; step < 5; ++step) {
    std::vector<Tensor> live;
    for (const Shape& s : shapes) live.push_back(Tensor::empty(s, DType::F32, gpu()));
  }
  const auto after = te::cuda::device_memory_stats();
  EXPECT_EQ(after.driver_allocs, before.driver_allocs) << "cudaMalloc was called in steady state";
  EXPECT_EQ(after.driver_frees, before.driver_frees);
  EXPECT_GE(after.cache_hits, before.cache_hits + 20);
  EXPECT_GE(after.peak_in_use_bytes, size_t(256) * 64 * 56 * 56 * 4);
}

TEST_F(CudaContext, CopiesRoundTripExactly) {
  const Tensor host = rand_cpu({3, 7, 11}, 3);
  const Tensor dev = host.to(gpu());
  EXPECT_EQ(dev.device(), gpu());
  const Tensor dev2 = dev.clone();  // device to device
  EXPECT_EQ(dev2.to(Device::cpu()).to_vector(), host.to_vector());
  Tensor z = Tensor::zeros({5}, DType::F32, gpu());
  EXPECT_EQ(z.to_vector(), std::vector<float>(5, 0.0f));
  z.fill(2.5);
  EXPECT_EQ(z.to_vector(), std::vector<float>(5, 2.5f));
}

TEST_F(CudaContext, ImpossibleAllocationThrowsOutOfMemoryWithSizes) {
  try {
    Tensor::empty(Shape{int64_t(1) << 40}, DType::F32, gpu());  // 4 TiB
    FAIL() << "expected out of memory";
  } catch (const te::cuda::OutOfMemoryError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("out of memory"), std::string::npos) << msg;
    EXPECT_NE(msg.find("free of"), std::string::npos) << msg;
    EXPECT_NE(msg.find("batch size"), std::string::npos) << msg;
    EXPECT_EQ(e.requested, size_t(4) << 40);
    EXPECT_GT(e.total_bytes, 0u);
  }
  // The device still works afterwards.
  EXPECT_NO_THROW(Tensor::zeros({10}, DType::F32, gpu()).to_vector());
}

TEST_F(CudaContext, PinnedUploadArrivesBeforeLaterWork) {
  const int64_t n = 1 << 20;
  auto& pinned = te::cuda::pinned_allocator();
  float* host = static_cast<float*>(pinned.allocate(n * sizeof(float)));
  for (int64_t i = 0; i < n; ++i) host[i] = static_cast<float>(i % 977) * 0.5f;
  Tensor dev = Tensor::empty({n}, DType::F32, gpu());
  te::cuda::copy_to_device_async(dev.raw(), host, n * sizeof(float));
  const std::vector<float> back = dev.to_vector();  // ordered after the upload by an event
  te::cuda::synchronize();
  for (int64_t i = 0; i < n; i += 4099) ASSERT_EQ(back[i], static_cast<float>(i % 977) * 0.5f);
  pinned.deallocate(host, n * sizeof(float));
}

}  // namespace
}  // namespace te::cuda_test
