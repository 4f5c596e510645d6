// Checked-call macros, out-of-memory messages and the allocator's size bins. These need no GPU
// (the libraries' error strings are host-side tables), so they run on every CUDA build.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <gtest/gtest.h>

#include <string>

#include "kernels/cuda/caching_allocator.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/device_query.h"

namespace {

std::string message_of(void (*fn)()) {
  try {
    fn();
  } catch (const te::DeviceError& e) {
    return e.what();
  }
  return "";
}

TEST(CudaErrors, CudaCheckNamesCallFileLineAndLibraryMessage) {
  const std::string msg = message_of([] { TE_CUDA_CHECK(cudaErrorInvalidValue); });
  EXPECT_NE(msg.find("cudaErrorInvalidValue"), std::string::npos) << msg;
  EXPECT_NE(msg.find("invalid argument"), std::string::npos) << msg;
  EXPECT_NE(msg.find("errors_test.cpp"), std::string::npos) << msg;
  EXPECT_NE(msg.find("`cudaErrorInvalidValue`"), std::string::npos)
      << "the message should quote the call: " << msg;
}

TEST(CudaErrors, OutOfMemoryFromDriverSuggestsSmallerBatch) {
  const std::string msg = message_of([] { TE_CUDA_CHECK(cudaErrorMemoryAllocation); });
  EXPECT_NE(msg.find("out of memory"), std::string::npos) << msg;
  EXPECT_NE(msg.find("batch size"), std::string::npos) << msg;
}

TEST(CudaErrors, CudnnCheckCarriesStatusName) {
  const std::string msg = message_of([] { TE_CUDNN_CHECK(CUDNN_STATUS_BAD_PARAM); });
  EXPECT_NE(msg.find("cuDNN error"), std::string::npos) << msg;
  EXPECT_NE(msg.find("CUDNN_STATUS_BAD_PARAM"), std::string::npos) << msg;
  EXPECT_NE(msg.find("CUDNN_STATUS_BAD_PARAM`"), std::string::npos) << "call quoted: " << msg;
}

TEST(CudaErrors, CublasCheckCarriesStatusName) {
  const std::string msg = message_of([] { TE_CUBLAS_CHECK(CUBLAS_STATUS_INVALID_VALUE); });
  EXPECT_NE(msg.find("cuBLAS error"), std::string::npos) << msg;
  EXPECT_NE(msg.find("CUBLAS_STATUS_INVALID_VALUE"), std::string::npos) << msg;
}

TEST(CudaErrors, SuccessDoesNotThrow) {
  EXPECT_NO_THROW(TE_CUDA_CHECK(cudaSuccess));
  EXPECT_NO_THROW(TE_CUDNN_CHECK(CUDNN_STATUS_SUCCESS));
  EXPECT_NO_THROW(TE_CUBLAS_CHECK(CUBLAS_STATUS_SUCCESS));
}

TEST(CudaAllocator, BlockSizesAreBinned) {
  using te::cuda::round_block_size;
  EXPECT_EQ(round_block_size(1), 512u);
  EXPECT_EQ(round_block_size(512), 512u);
  EXPECT_EQ(round_block_size(513), 1024u);
  EXPECT_EQ(round_block_size(1 << 20), size_t(1) << 20);
  EXPECT_EQ(round_block_size((1 << 20) + 1), size_t(2) << 20);
  EXPECT_EQ(round_block_size((size_t(5) << 20) + 7), size_t(6) << 20);
  for (size_t b : {size_t(3), size_t(4097), size_t(3) << 20, size_t(77777777)}) {
    EXPECT_GE(round_block_size(b), b);
    EXPECT_LT(round_block_size(b) - b, b <= (1u << 20) ? 512u : (2u << 20));
  }
}

TEST(CudaAllocator, OutOfMemoryMessageStatesSizesAndFraction) {
  const size_t mib = size_t(1) << 20;
  const std::string msg =
      te::cuda::out_of_memory_message(600 * mib, 100 * mib, 8000 * mib, 900 * mib, 0);
  EXPECT_NE(msg.find("600.0 MiB"), std::string::npos) << msg;
  EXPECT_NE(msg.find("100.0 MiB free of 8000.0 MiB"), std::string::npos) << msg;
  EXPECT_NE(msg.find("900.0 MiB"), std::string::npos) << msg;
  // (900 + 100) / (900 + 600) = 2/3, times a 0.9 safety factor = 60%.
  EXPECT_NE(msg.find("about 60%"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gradient accumulation"), std::string::npos) << msg;
}

TEST(CudaDevice, QueryExplainsMissingGpu) {
  const te::cuda::GpuAvailability a = te::cuda::query_gpus();
  if (a.device_count == 0) {
    EXPECT_FALSE(a.reason.empty());
  } else {
    EXPECT_TRUE(a.reason.empty()) << a.reason;
  }
}

}  // namespace
