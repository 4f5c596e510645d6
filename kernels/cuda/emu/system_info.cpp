// `trainer doctor`'s report (kernels/cuda/system_info.h) in the SIMT emulation: what is here
// is said plainly, and the convolution check, which compares cuDNN with the CPU reference, is
// not run (the emulation's convolution is that reference: the comparison would prove nothing).
#include "kernels/cuda/system_info.h"

#include "kernels/cuda/emu/device_limits.h"

namespace te::cuda {

StackVersions stack_versions() {
  StackVersions v;
  v.driver = "none (SIMT emulation)";
  v.runtime = "the SIMT emulation's (kernels/cuda/emu)";
  v.cudnn = "none (convolution is the CPU reference in the emulation)";
  v.cublas = "none (linear is the CPU reference in the emulation)";
  return v;
}

std::vector<GpuInfo> list_gpus() {
  const emu::DeviceLimits& d = emu::device_limits();
  GpuInfo g;
  g.name = d.name;
  g.cc_major = d.major;
  g.cc_minor = d.minor;
  g.memory_gib = static_cast<double>(d.total_memory) / (1024.0 * 1024.0 * 1024.0);
  g.sm_count = d.sm_count;
  return {g};
}

ConvSelfTest conv_self_test(DType, Layout) {
  ConvSelfTest r;
  r.detail = "not run: the SIMT emulation has no cuDNN (its convolution is the CPU reference)";
  return r;
}

}  // namespace te::cuda
