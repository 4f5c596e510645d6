#include "kernels/cuda/system_info.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cmath>

#include "engine/core/philox.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cudnn_conv.h"
#include "kernels/cuda/ops_cuda.h"

namespace te::cuda {
namespace {
std::string cuda_version(int v) {
  if (v <= 0) return "none";
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

Tensor random_cpu(const Shape& s, uint64_t seed) {
  CounterRng rng(seed, 1, 0);
  std::vector<float> v(static_cast<size_t>(s.numel()));
  for (auto& x : v) x = rng.uniform(-1.0f, 1.0f);
  return Tensor::from_vector(s, v);
}

// max |a - b| / (1 + |b|)
double max_rel_error(const Tensor& gpu, const Tensor& cpu) {
  const std::vector<double> a = gpu.to_f64_vector(), b = cpu.to_f64_vector();
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::fabs(a[i] - b[i]) / (1.0 + std::fabs(b[i]));
    worst = std::isnan(e) ? INFINITY : std::max(worst, e);
  }
  return worst;
}
}  // namespace

StackVersions stack_versions() {
  StackVersions v;
  int driver = 0, runtime = 0;
  if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;
  cudaGetLastError();
  if (cudaRuntimeGetVersion(&runtime) != cudaSuccess) runtime = 0;
  v.driver = cuda_version(driver);
  v.runtime = cuda_version(runtime);
  const size_t dnn = cudnnGetVersion();  // e.g. 91400 = 9.14.0
  v.cudnn = std::to_string(dnn / 10000) + "." + std::to_string((dnn % 10000) / 100) + "." +
            std::to_string(dnn % 100) + " (built against " + std::to_string(CUDNN_MAJOR) + "." +
            std::to_string(CUDNN_MINOR) + "." + std::to_string(CUDNN_PATCHLEVEL) + ")";
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS)
    v.cublas = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  else
    v.cublas = "unknown";
  return v;
}

std::vector<GpuInfo> list_gpus() {
  std::vector<GpuInfo> out;
  const GpuAvailability avail = query_gpus();
  for (int i = 0; i < avail.device_count; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    GpuInfo g;
    g.index = i;
    g.name = p.name;
    g.cc_major = p.major;
    g.cc_minor = p.minor;
    g.memory_gib = static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0);
    g.sm_count = p.multiProcessorCount;
    out.push_back(g);
  }
  return out;
}

ConvSelfTest conv_self_test() {
  ConvSelfTest r;
  const bool tf32 = allow_tf32();
  set_allow_tf32(false);
  try {
    ops::Conv2dParams p;
    p.kernel_h = p.kernel_w = 3;
    p.pad_h = p.pad_w = 1;
    p.stride_h = p.stride_w = 2;
    const Shape xs{2, 3, 17, 15}, ws{8, 3, 3, 3}, ys{2, 8, 9, 8};
    const Tensor x = random_cpu(xs, 1), w = random_cpu(ws, 2), b = random_cpu({8}, 3);
    const Tensor dy = random_cpu(ys, 4);
    const Device dev = Device::cuda(current_device());
    const Tensor xg = x.to(dev), wg = w.to(dev), bg = b.to(dev), dyg = dy.to(dev);
    ops::Conv2dWorkspace cws, gws;

    Tensor y = Tensor::empty(ys), yg = Tensor::empty(ys, DType::F32, dev);
    ops::cpu::conv2d_forward(x, w, &b, y, p, cws);
    ops::cuda::conv2d_forward(xg, wg, &bg, yg, p, gws);
    Tensor dx = Tensor::empty(xs), dxg = Tensor::empty(xs, DType::F32, dev);
    ops::cpu::conv2d_backward_input(dy, w, dx, false, p, cws);
    ops::cuda::conv2d_backward_input(dyg, wg, dxg, false, p, gws);
    Tensor dw = Tensor::zeros(ws), dwg = Tensor::zeros(ws, DType::F32, dev);
    Tensor db = Tensor::zeros({8}), dbg = Tensor::zeros({8}, DType::F32, dev);
    ops::cpu::conv2d_backward_params(x, dy, dw, &db, p, cws);
    ops::cuda::conv2d_backward_params(xg, dyg, dwg, &dbg, p, gws);
    synchronize();

    r.max_rel_error_forward = max_rel_error(yg, y);
    r.max_rel_error_input = max_rel_error(dxg, dx);
    r.max_rel_error_weight = max_rel_error(dwg, dw);
    r.max_rel_error_bias = max_rel_error(dbg, db);
    const double tol = 1e-4;
    r.passed = r.max_rel_error_forward < tol && r.max_rel_error_input < tol &&
               r.max_rel_error_weight < tol && r.max_rel_error_bias < tol;
    r.detail = conv_backend_mode();
  } catch (const std::exception& e) {
    r.passed = false;
    r.detail = e.what();
  }
  set_allow_tf32(tf32);
  return r;
}

}  // namespace te::cuda
