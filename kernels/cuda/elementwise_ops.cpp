// Tensor-level element-wise ops (kernels/elementwise.h) and the optimizer helpers of
// kernels/optim.h that are plain reductions or scalings. add_n and copy_or_add take f32, bf16
// or f16 tensors (all of one call in one dtype, storage_args.h); the reductions and scalings
// (optimizer helpers, on f32 gradients) take f32.
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/storage_args.h"
#include "kernels/cuda/tensor_args.h"

namespace te::cuda {
void read_back(void* host, const void* device, size_t bytes) {
  TE_CUDA_CHECK(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, compute_stream()));
  TE_CUDA_CHECK(cudaStreamSynchronize(compute_stream()));
}
}  // namespace te::cuda

namespace te::ops::cuda {
using namespace te::cuda;

void add_n(const std::vector<const Tensor*>& xs, Tensor& y) {
  const char* op = "add_n";
  // The CPU backend's contract (a sum has at least two terms; one is a copy, copy_or_add).
  if (xs.size() < 2) throw Error("add_n: needs at least 2 inputs, got " + std::to_string(xs.size()));
  const StorageDType st(op, y, "output");
  std::vector<std::string> names;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!xs[i]) throw Error(std::string(op) + ": input " + std::to_string(i) + " is null");
    names.push_back("input " + std::to_string(i));
    st.check(*xs[i], names.back().c_str());
    require_numel(*xs[i], y.numel(), op, names.back().c_str());
  }
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    std::vector<const T*> ptrs;
    for (size_t i = 0; i < xs.size(); ++i) ptrs.push_back(st.ptr<T>(*xs[i], names[i].c_str()));
    launch::add_n(ptrs.data(), static_cast<int>(ptrs.size()), st.ptr<T>(y, "output"), y.numel(),
                  compute_stream());
  });
}

void copy_or_add(const Tensor& src, Tensor& dst, bool accumulate) {
  const char* op = "copy_or_add";
  const StorageDType st(op, dst, "destination");
  st.check(src, "source");
  require_numel(src, dst.numel(), op, "source");
  if (!accumulate) {
    const char* s = st.bytes(src, "source");
    char* d = st.bytes(dst, "destination");
    if (s != d && dst.numel() > 0)
      TE_CUDA_CHECK(cudaMemcpyAsync(d, s, dst.nbytes(), cudaMemcpyDeviceToDevice, compute_stream()));
    return;
  }
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    launch::add_inplace(st.ptr<T>(src, "source"), st.ptr<T>(dst, "destination"), dst.numel(),
                        compute_stream());
  });
}

double sum_of_squares(const Tensor& x) {
  const float* p = f32_ptr(x, "sum_of_squares", "input");
  Tensor scratch = device_scratch(Shape{launch::kReducePartials + 1}, DType::F64);
  double* partials = static_cast<double*>(scratch.raw());
  launch::sum_of_squares(p, x.numel(), partials, partials + launch::kReducePartials,
                         compute_stream());
  double result = 0;
  read_back(&result, partials + launch::kReducePartials, sizeof(double));
  return result;
}

void scale_inplace(Tensor& x, double factor) {
  float* p = f32_ptr(x, "scale_inplace", "input");
  launch::scale(p, static_cast<float>(factor), x.numel(), compute_stream());
}

bool all_finite(const Tensor& x) {
  const float* p = f32_ptr(x, "all_finite", "input");
  Tensor flag = device_scratch(Shape{1}, DType::I32);
  TE_CUDA_CHECK(cudaMemsetAsync(flag.raw(), 0, sizeof(int), compute_stream()));
  launch::flag_nonfinite(p, x.numel(), static_cast<int*>(flag.raw()), compute_stream());
  int host = 0;
  read_back(&host, flag.raw(), sizeof(int));
  return host == 0;
}

}  // namespace te::ops::cuda
