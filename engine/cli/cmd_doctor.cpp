// `trainer doctor`: what this build can use. Prints the build's backends and, with the CUDA
// backend, the driver, runtime, cuDNN and cuBLAS versions, each GPU with its compute capability,
// and the result of a small convolution (forward and backward) run on the GPU and on the CPU.
// Without a GPU it says so plainly and exits 0: the CPU backend still works. Exit 1 only when a
// GPU is present but computes wrong results or cannot be initialised.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/device.h"
#include "engine/core/error.h"
#ifdef TE_WITH_CUDA
#include "kernels/cuda/context.h"
#include "kernels/cuda/system_info.h"
#endif

namespace te::cli {
namespace {

int run_doctor() {
  std::cout << "trainer " << TE_VERSION << "\n";
  std::cout << "CPU backend: yes\n";
#ifndef TE_WITH_CUDA
  std::cout << "CUDA backend: not built (configure with -DTE_CUDA=ON where the CUDA toolkit and "
               "cuDNN 9 are installed)\n"
            << "No GPU can be used by this build; training runs on the CPU (--device cpu).\n";
  return 0;
#else
  std::cout << "CUDA backend: built\n";
  const te::cuda::StackVersions v = te::cuda::stack_versions();
  std::cout << "  driver supports CUDA " << v.driver << "\n"
            << "  CUDA runtime        " << v.runtime << "\n"
            << "  cuDNN               " << v.cudnn << "\n"
            << "  cuBLAS              " << v.cublas << "\n";
  if (!v.cudnn_check.empty()) std::cout << "  WARNING: " << v.cudnn_check << "\n";
  std::string why;
  if (!te::cuda::gpu_usable(&why)) {
    std::cout << "No usable GPU: " << why << "\n"
              << "Training runs on the CPU (--device cpu, or --device auto picks it).\n";
    return 0;
  }
  const auto gpus = te::cuda::list_gpus();
  std::cout << gpus.size() << " GPU(s):\n";
  for (const auto& g : gpus) {
    char mem[32];
    std::snprintf(mem, sizeof(mem), "%.1f", g.memory_gib);
    std::cout << "  cuda:" << g.index << "  " << g.name << "  compute capability " << g.cc_major
              << "." << g.cc_minor << "  " << mem << " GiB  " << g.sm_count << " SMs\n";
  }
  try {
    te::cuda::initialize(0);
  } catch (const Error& e) {
    std::cout << "cuda:0 cannot be initialised: " << e.what() << "\n";
    return 1;
  }
  // fp32 as every run uses it, then what train.precision: bf16 and train.channels_last use.
  struct Variant {
    DType dtype;
    Layout layout;
    const char* what;
  };
  const Variant variants[] = {{DType::F32, Layout::NCHW, "fp32"},
                              {DType::BF16, Layout::NCHW, "bf16"},
                              {DType::BF16, Layout::NHWC, "bf16 channels-last"}};
  bool all_passed = true;
  for (const Variant& v : variants) {
    const te::cuda::ConvSelfTest t = te::cuda::conv_self_test(v.dtype, v.layout);
    char line[256];
    std::snprintf(line, sizeof(line),
                  "max relative error vs CPU: forward %.2e, input grad %.2e, weight grad %.2e, "
                  "bias grad %.2e",
                  t.max_rel_error_forward, t.max_rel_error_input, t.max_rel_error_weight,
                  t.max_rel_error_bias);
    std::cout << "Convolution check on cuda:0 (3x3, stride 2, " << v.what << "): "
              << (t.passed ? "PASS" : "FAIL") << "\n  " << line << "\n  " << t.detail << "\n";
    all_passed = all_passed && t.passed;
  }
  return all_passed ? 0 : 1;
#endif
}

}  // namespace

void register_doctor(CLI::App& app, std::vector<std::pair<CLI::App*, std::function<int()>>>& runners) {
  CLI::App* cmd = app.add_subcommand(
      "doctor", "Report the CUDA driver, runtime, cuDNN and cuBLAS versions and the GPUs, and "
                "check a convolution on the GPU against the CPU");
  runners.emplace_back(cmd, [] { return run_doctor(); });
}

}  // namespace te::cli
