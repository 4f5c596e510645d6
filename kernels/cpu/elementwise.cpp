// CPU element-wise sums and copies, split into blocks across the thread pool.
#include <algorithm>
#include <string>

#include "engine/core/parallel.h"
#include "kernels/elementwise.h"

namespace te::ops::cpu {
namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per task: below this threads cost more than they save

void for_blocks(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  parallel_for((n + kGrain - 1) / kGrain,
               [&](int64_t b, int64_t e) { fn(b * kGrain, std::min(n, e * kGrain)); });
}

void check_same(const char* op, const Tensor& a, const Tensor& b) {
  if (a.numel() != b.numel() || a.dtype() != b.dtype())
    throw ShapeError(std::string(op) + ": tensors " + a.shape().str() + " " + dtype_name(a.dtype()) +
                     " and " + b.shape().str() + " " + dtype_name(b.dtype()) + " do not match");
}

template <typename T>
void add_n_impl(const std::vector<const Tensor*>& xs, Tensor& y) {
  std::vector<const T*> in;
  for (const Tensor* x : xs) in.push_back(x->data<T>());
  T* out = y.data<T>();
  for_blocks(y.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = in[0][i] + in[1][i];
    for (size_t k = 2; k < in.size(); ++k)
      for (int64_t i = b; i < e; ++i) out[i] += in[k][i];
  });
}

template <typename T>
void copy_or_add_impl(const Tensor& src, Tensor& dst, bool accumulate) {
  const T* s = src.data<T>();
  T* d = dst.data<T>();
  for_blocks(dst.numel(), [&](int64_t b, int64_t e) {
    if (accumulate)
      for (int64_t i = b; i < e; ++i) d[i] += s[i];
    else
      std::copy(s + b, s + e, d + b);
  });
}

}  // namespace

void add_n(const std::vector<const Tensor*>& xs, Tensor& y) {
  if (xs.size() < 2) throw Error("add_n: needs at least 2 inputs, got " + std::to_string(xs.size()));
  for (const Tensor* x : xs) check_same("add_n", *x, y);
  switch (y.dtype()) {
    case DType::F32: return add_n_impl<float>(xs, y);
    case DType::F64: return add_n_impl<double>(xs, y);
    default: throw Error(std::string("add_n: expects f32 or f64, got ") + dtype_name(y.dtype()));
  }
}

void copy_or_add(const Tensor& src, Tensor& dst, bool accumulate) {
  check_same("copy_or_add", src, dst);
  switch (dst.dtype()) {
    case DType::F32: return copy_or_add_impl<float>(src, dst, accumulate);
    case DType::F64: return copy_or_add_impl<double>(src, dst, accumulate);
    default: throw Error(std::string("copy_or_add: expects f32 or f64, got ") + dtype_name(dst.dtype()));
  }
}

}  // namespace te::ops::cpu
