// The run-time check of the loaded cuDNN against the headers (kernels/cuda/cudnn_version.h).
#include <gtest/gtest.h>

#include "kernels/cuda/cudnn_version.h"

namespace te::cuda {
namespace {

TEST(CudnnVersion, SameOrNewerMinorFits) {
  EXPECT_TRUE(check_cudnn_version(91400, 91400).message.empty());
  EXPECT_TRUE(check_cudnn_version(91401, 91400).message.empty());
  EXPECT_TRUE(check_cudnn_version(91900, 91400).message.empty());
  EXPECT_TRUE(check_cudnn_version(91400, 91402).message.empty());  // patch levels only
}

TEST(CudnnVersion, AnOlderMinorIsAWarningNamingBoth) {
  const CudnnVersionVerdict v = check_cudnn_version(91400, 91900);
  EXPECT_TRUE(v.usable);
  EXPECT_NE(v.message.find("cuDNN 9.14.0 is loaded, older than the cuDNN 9.19.0 headers"),
            std::string::npos)
      << v.message;
  EXPECT_NE(v.message.find("Rebuild"), std::string::npos);
}

TEST(CudnnVersion, AnotherMajorIsRefused) {
  const CudnnVersionVerdict v = check_cudnn_version(81000, 91900);
  EXPECT_FALSE(v.usable);
  EXPECT_NE(v.message.find("cuDNN 8.10.0 is loaded, but this trainer was built against cuDNN "
                           "9.19.0"),
            std::string::npos)
      << v.message;
  EXPECT_FALSE(check_cudnn_version(100000, 91900).usable);
}

}  // namespace
}  // namespace te::cuda
