#pragma once
// What `trainer doctor` reports about the CUDA stack: library versions, the GPUs, and a small
// convolution run on the GPU and on the CPU and compared. Host-only header.
#include <string>
#include <vector>

#include "engine/core/dtype.h"
#include "kernels/layout.h"

namespace te::cuda {

struct StackVersions {
  std::string driver;   // CUDA version the driver supports, "none" without a driver
  std::string runtime;  // CUDA runtime this binary uses
  std::string cudnn;    // loaded cuDNN library (and the header it was built with)
  std::string cudnn_check;  // empty, or why the loaded cuDNN may not fit the headers
  std::string cublas;   // loaded cuBLAS library
};
StackVersions stack_versions();

struct GpuInfo {
  int index = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  double memory_gib = 0;
  int sm_count = 0;
};
// Every GPU the runtime sees (empty without a driver or GPU).
std::vector<GpuInfo> list_gpus();

struct ConvSelfTest {
  bool passed = false;
  double max_rel_error_forward = 0, max_rel_error_input = 0, max_rel_error_weight = 0,
         max_rel_error_bias = 0;
  std::string detail;  // how the convolution ran, or why it failed
};
// A 3x3 convolution with bias (forward, input and parameter gradients) on the initialised GPU
// against the CPU backend, with TF32 off: activations and weights in `dtype` (f32, bf16, f16;
// the CPU reference gets the same rounded inputs), activations in `layout`. Needs
// initialize() first.
ConvSelfTest conv_self_test(DType dtype = DType::F32, Layout layout = Layout::NCHW);

}  // namespace te::cuda
