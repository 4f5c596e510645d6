#include "kernels/cuda/system_info.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cmath>

#include "engine/core/philox.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/cudnn_conv.h"
#include "kernels/cuda/cudnn_version.h"
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

// A CPU [N, C, H, W] tensor's elements in NHWC memory order (same logical shape), or back.
Tensor permute_nchw(const Tensor& t, bool to_nhwc) {
  const int64_t n = t.dim(0), c = t.dim(1), h = t.dim(2), w = t.dim(3);
  Tensor out = Tensor::empty(t.shape(), t.dtype());
  const float* s = t.data<float>();
  float* d = out.data<float>();
  for (int64_t in = 0; in < n; ++in)
    for (int64_t ic = 0; ic < c; ++ic)
      for (int64_t p = 0; p < h * w; ++p) {
        const int64_t nchw = (in * c + ic) * h * w + p, nhwc = (in * h * w + p) * c + ic;
        if (to_nhwc) d[nhwc] = s[nchw];
        else d[nchw] = s[nhwc];
      }
  return out;
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
  v.cudnn = cudnn_version_string(cudnnGetVersion()) + " (built against " +
            cudnn_version_string(CUDNN_VERSION) + ")";
  v.cudnn_check = check_cudnn_version(cudnnGetVersion(), CUDNN_VERSION).message;
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

ConvSelfTest conv_self_test(DType dtype, Layout layout) {
  ConvSelfTest r;
  const bool tf32 = allow_tf32();
  set_allow_tf32(false);
  try {
    ops::Conv2dParams p;
    p.kernel_h = p.kernel_w = 3;
    p.pad_h = p.pad_w = 1;
    p.stride_h = p.stride_w = 2;
    const Shape xs{2, 3, 17, 15}, ws{8, 3, 3, 3}, ys{2, 8, 9, 8};
    // Inputs rounded to `dtype` first, so the CPU reference sees exactly what the GPU reads.
    auto rounded = [&](const Tensor& t) { return t.to_dtype(dtype).to_dtype(DType::F32); };
    const Tensor x = rounded(random_cpu(xs, 1)), w = rounded(random_cpu(ws, 2));
    const Tensor b = random_cpu({8}, 3), dy = rounded(random_cpu(ys, 4));
    const bool nhwc = layout == Layout::NHWC;
    const Device dev = Device::cuda(current_device());
    // The GPU's copies: activations in `layout`, 16-bit where asked; the bias and the
    // parameter gradients in f32 (what mixed-precision training uses).
    auto activation = [&](const Tensor& t) {
      return (nhwc ? permute_nchw(t, true) : t).to_dtype(dtype).to(dev);
    };
    auto back = [&](const Tensor& t) {
      const Tensor f = t.to(Device::cpu()).to_dtype(DType::F32);
      return nhwc ? permute_nchw(f, false) : f;
    };
    const Tensor xg = activation(x), wg = w.to_dtype(dtype).to(dev), bg = b.to(dev),
                 dyg = activation(dy);
    ops::Conv2dWorkspace cws, gws;

    Tensor y = Tensor::empty(ys), yg = Tensor::empty(ys, dtype, dev);
    ops::cpu::conv2d_forward(x, w, &b, y, p, cws);
    ops::cuda::conv2d_forward(xg, wg, &bg, yg, p, gws, layout);
    Tensor dx = Tensor::empty(xs), dxg = Tensor::empty(xs, dtype, dev);
    ops::cpu::conv2d_backward_input(dy, w, dx, false, p, cws);
    ops::cuda::conv2d_backward_input(dyg, wg, dxg, false, p, gws, layout);
    Tensor dw = Tensor::zeros(ws), dwg = Tensor::zeros(ws, DType::F32, dev);
    Tensor db = Tensor::zeros({8}), dbg = Tensor::zeros({8}, DType::F32, dev);
    ops::cpu::conv2d_backward_params(x, dy, dw, &db, p, cws);
    ops::cuda::conv2d_backward_params(xg, dyg, dwg, &dbg, p, gws, layout);
    synchronize();

    r.max_rel_error_forward = max_rel_error(back(yg), y);
    r.max_rel_error_input = max_rel_error(back(dxg), dx);
    r.max_rel_error_weight = max_rel_error(dwg, dw);
    r.max_rel_error_bias = max_rel_error(dbg, db);
    // fp32: summation order only. 16 bits: one rounding of each output (2^-8 for bf16).
    const double tol = dtype == DType::F32 ? 1e-4 : dtype == DType::BF16 ? 2e-2 : 4e-3;
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
