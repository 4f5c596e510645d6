// Deferred streams in the SIMT emulation (kernels/cuda/emu/stream_queue.h): the work of a
// stream waits until the program synchronises with it, so work that was not ordered after its
// producer sees stale memory. These tests pin the semantics down against CUDA's: events and
// waits, the legacy default stream against blocking and non-blocking streams, pageable and
// page-locked copies, queries, frees, kernels and the emulated NCCL's async error path.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernels/cuda/emu/emulation.h"
#include "kernels/cuda/launch.cuh"

namespace te::emu_test {
namespace {

__global__ void fill_kernel(int* out, int value, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = value;
}

// Device memory is host memory in the emulation, so the tests can look at it directly: what a
// GPU would hold at this point of the program.
int first_int(const void* device) {
  int v;
  std::memcpy(&v, device, sizeof v);
  return v;
}

class DeferredStreams : public ::testing::Test {
 protected:
  void SetUp() override {
    te::emu::EmulationOptions o = saved_;
    o.deferred_streams = true;
    te::emu::set_options(o);
    ASSERT_EQ(cudaStreamCreateWithFlags(&a_, cudaStreamNonBlocking), cudaSuccess);
    ASSERT_EQ(cudaStreamCreateWithFlags(&b_, cudaStreamNonBlocking), cudaSuccess);
    ASSERT_EQ(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming), cudaSuccess);
    x_ = zeroed(kBytes);
    y_ = zeroed(kBytes);
  }
  void TearDown() override {
    cudaFree(x_);
    cudaFree(y_);
    cudaEventDestroy(event_);
    cudaStreamDestroy(a_);
    cudaStreamDestroy(b_);
    te::emu::set_options(saved_);
  }
  static void* zeroed(size_t bytes) {
    void* p = nullptr;
    EXPECT_EQ(cudaMalloc(&p, bytes), cudaSuccess);
    EXPECT_EQ(cudaMemset(p, 0, bytes), cudaSuccess);  // legacy stream: done on return
    return p;
  }

  static constexpr size_t kBytes = 64;
  te::emu::EmulationOptions saved_ = te::emu::options();
  cudaStream_t a_ = nullptr, b_ = nullptr;
  cudaEvent_t event_ = nullptr;
  void* x_ = nullptr;
  void* y_ = nullptr;
};

TEST_F(DeferredStreams, WorkWaitsUntilTheProgramSynchronisesWithItsStream) {
  ASSERT_EQ(cudaMemsetAsync(x_, 7, kBytes, a_), cudaSuccess);
  EXPECT_EQ(first_int(x_), 0) << "queued, not run";
  ASSERT_EQ(cudaStreamSynchronize(a_), cudaSuccess);
  EXPECT_EQ(first_int(x_), 0x07070707);
}

TEST_F(DeferredStreams, AConsumerNotOrderedAfterItsProducerReadsStaleMemory) {
  ASSERT_EQ(cudaMemsetAsync(x_, 7, kBytes, a_), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(y_, x_, kBytes, cudaMemcpyDeviceToDevice, b_), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(b_), cudaSuccess);
  EXPECT_EQ(first_int(y_), 0) << "the missing wait shows as stale data";
  ASSERT_EQ(cudaStreamSynchronize(a_), cudaSuccess);
  EXPECT_EQ(first_int(x_), 0x07070707);
}

TEST_F(DeferredStreams, AWaitRunsTheProducerUpToTheEventAndNoFurther) {
  ASSERT_EQ(cudaMemsetAsync(x_, 7, kBytes, a_), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(event_, a_), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(x_, 9, 4, a_), cudaSuccess);  // after the event
  ASSERT_EQ(cudaStreamWaitEvent(b_, event_, 0), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(y_, x_, kBytes, cudaMemcpyDeviceToDevice, b_), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(b_), cudaSuccess);
  EXPECT_EQ(first_int(y_), 0x07070707);
  EXPECT_EQ(first_int(x_), 0x07070707) << "work after the event is still queued";
  ASSERT_EQ(cudaStreamSynchronize(a_), cudaSuccess);
  EXPECT_EQ(first_int(x_), 0x09090909);
}

TEST_F(DeferredStreams, AWaitTakesTheEventAsItWasWhenTheWaitWasIssued) {
  ASSERT_EQ(cudaEventRecord(event_, a_), cudaSuccess);  // nothing queued on a_ yet
  ASSERT_EQ(cudaStreamWaitEvent(b_, event_, 0), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(x_, 7, kBytes, a_), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(event_, a_), cudaSuccess);  // a later record does not move the wait
  ASSERT_EQ(cudaMemcpyAsync(y_, x_, kBytes, cudaMemcpyDeviceToDevice, b_), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(b_), cudaSuccess);
  EXPECT_EQ(first_int(y_), 0);
  ASSERT_EQ(cudaEventSynchronize(event_), cudaSuccess);
  EXPECT_EQ(first_int(x_), 0x07070707);
}

TEST_F(DeferredStreams, KernelsRunInTheirStreamsOrder) {
  int* out = static_cast<int*>(x_);
  TE_LAUNCH(dim3(1), dim3(16), 0, a_, fill_kernel)(out, 5, 16);
  TE_LAUNCH(dim3(1), dim3(16), 0, a_, fill_kernel)(out, 6, 8);
  EXPECT_EQ(out[0], 0);
  ASSERT_EQ(cudaStreamSynchronize(a_), cudaSuccess);
  EXPECT_EQ(out[0], 6);
  EXPECT_EQ(out[15], 5);
}

TEST_F(DeferredStreams, ALaunchAGpuRefusesFailsWhenIssued) {
  int* out = static_cast<int*>(x_);
  EXPECT_THROW(TE_LAUNCH(dim3(1), dim3(2048), 0, a_, fill_kernel)(out, 1, 16), std::exception);
  EXPECT_EQ(cudaStreamQuery(a_), cudaSuccess) << "nothing was queued";
}

TEST_F(DeferredStreams, CopiesWithPageableHostMemoryAreSynchronousWithTheirStream) {
  ASSERT_EQ(cudaMemsetAsync(x_, 3, kBytes, a_), cudaSuccess);
  std::vector<unsigned char> host(kBytes, 0);
  ASSERT_EQ(cudaMemcpyAsync(host.data(), x_, kBytes, cudaMemcpyDeviceToHost, a_), cudaSuccess);
  EXPECT_EQ(host[0], 3);
}

TEST_F(DeferredStreams, CopiesToPageLockedMemoryWaitForASynchronisation) {
  void* pinned = nullptr;
  ASSERT_EQ(cudaHostAlloc(&pinned, kBytes, 0), cudaSuccess);
  std::memset(pinned, 0, kBytes);
  ASSERT_EQ(cudaMemsetAsync(x_, 3, kBytes, a_), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(pinned, x_, kBytes, cudaMemcpyDeviceToHost, a_), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(event_, a_), cudaSuccess);
  EXPECT_EQ(static_cast<unsigned char*>(pinned)[0], 0);
  ASSERT_EQ(cudaEventSynchronize(event_), cudaSuccess);
  EXPECT_EQ(static_cast<unsigned char*>(pinned)[0], 3);
  ASSERT_EQ(cudaFreeHost(pinned), cudaSuccess);
}

TEST_F(DeferredStreams, TheLegacyStreamWaitsForBlockingStreamsOnly) {
  cudaStream_t blocking = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&blocking, cudaStreamDefault), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(x_, 1, kBytes, blocking), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(y_, 2, kBytes, a_), cudaSuccess);  // non-blocking
  int got[2] = {-1, -1};
  ASSERT_EQ(cudaMemcpy(&got[0], x_, sizeof(int), cudaMemcpyDeviceToHost), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(&got[1], y_, sizeof(int), cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(got[0], 0x01010101);
  EXPECT_EQ(got[1], 0);
  ASSERT_EQ(cudaStreamDestroy(blocking), cudaSuccess);
}

TEST_F(DeferredStreams, AQueryReportsQueuedWorkNotReadyThenFinished) {
  EXPECT_EQ(cudaStreamQuery(a_), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(x_, 4, kBytes, a_), cudaSuccess);
  EXPECT_EQ(cudaStreamQuery(a_), cudaErrorNotReady);
  EXPECT_EQ(cudaStreamQuery(a_), cudaSuccess);
  EXPECT_EQ(first_int(x_), 0x04040404);
}

TEST_F(DeferredStreams, FreeingMemorySynchronisesTheDevice) {
  void* scratch = nullptr;
  ASSERT_EQ(cudaMalloc(&scratch, 16), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(x_, 8, kBytes, a_), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(scratch, 8, 16, b_), cudaSuccess);
  ASSERT_EQ(cudaFree(scratch), cudaSuccess);
  EXPECT_EQ(first_int(x_), 0x08080808);
}

TEST(ImmediateStreams, RunWorkWhenItIsIssuedByDefault) {
  const te::emu::EmulationOptions saved = te::emu::options();
  te::emu::EmulationOptions o = saved;
  o.deferred_streams = false;
  te::emu::set_options(o);
  cudaStream_t s = nullptr;
  void* p = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&p, 16), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(p, 5, 16, s), cudaSuccess);
  EXPECT_EQ(first_int(p), 0x05050505);
  cudaFree(p);
  cudaStreamDestroy(s);
  te::emu::set_options(saved);
}

}  // namespace
}  // namespace te::emu_test
