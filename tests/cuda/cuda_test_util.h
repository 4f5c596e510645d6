#pragma once
// Helpers for the CPU-vs-CUDA operation harness: a fixture that skips (with the reason) when no
// GPU is usable, random non-zero inputs, device copies, outputs surrounded by guard regions
// that must come back untouched, and an element-wise comparison with a stated tolerance.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "engine/core/half.h"
#include "engine/core/tensor.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/device_query.h"
#include "tests/support/gradcheck.h"

namespace te::cuda_test {

// Every CUDA test derives from this: without a usable GPU it skips with the reason.
class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!te::cuda::gpu_usable(&why)) GTEST_SKIP() << "no usable GPU: " << why;
    te::cuda::initialize(0);
    te::cuda::set_allow_tf32(false);  // exact fp32: the CPU is the reference
    te::cuda::set_deterministic(false);
  }
};

inline Device gpu() { return Device::cuda(te::cuda::current_device()); }

// ---- bf16 / f16 tensors on the host, for the mixed-precision tests ----
// The element conversions are engine/core/half.h's (round to nearest-even). TODO: once
// Tensor::to_dtype and to_f64_vector handle BF16/F16, values_of and rounded_to can go.
// The values of a float tensor (f32, f64, bf16, f16; any device) as doubles, exactly.
inline std::vector<double> values_of(const Tensor& t) {
  if (t.dtype() != DType::BF16 && t.dtype() != DType::F16) return t.to_f64_vector();
  const Tensor host = t.to(Device::cpu());
  const auto* bits = static_cast<const uint16_t*>(host.raw());
  std::vector<double> out(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = t.dtype() == DType::BF16 ? bf16_to_float(bits[i]) : f16_to_float(bits[i]);
  return out;
}

// A CPU tensor of dtype `dt` (f32, f64, bf16 or f16) holding `src`'s values rounded to it
// (through f32 for the 16-bit types, whose inputs here are f32 values anyway).
inline Tensor rounded_to(const Tensor& src, DType dt) {
  const std::vector<double> v = values_of(src);
  Tensor out = Tensor::empty(src.shape(), dt);
  for (size_t i = 0; i < v.size(); ++i) {
    const float f = static_cast<float>(v[i]);
    switch (dt) {
      case DType::F32: out.data<float>()[i] = f; break;
      case DType::F64: out.data<double>()[i] = v[i]; break;
      case DType::BF16: static_cast<uint16_t*>(out.raw())[i] = float_to_bf16(f); break;
      case DType::F16: static_cast<uint16_t*>(out.raw())[i] = float_to_f16(f); break;
      default: throw Error(std::string("rounded_to: unsupported dtype ") + dtype_name(dt));
    }
  }
  return out;
}

// Random f32 CPU tensor with values in [lo, hi) (never all zero).
inline Tensor rand_cpu(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return te::testing::random_tensor(shape, seed, lo, hi, DType::F32);
}

inline Tensor to_gpu(const Tensor& t) { return t.to(gpu()); }

constexpr int64_t kGuard = 64;            // elements on each side of a guarded output
constexpr float kGuardValue = -1234.5f;   // what the guard regions hold

// A device tensor of `shape` placed inside a larger buffer whose first and last kGuard elements
// hold kGuardValue; its contents start as a copy of `init` (same numel) when given.
struct Guarded {
  Tensor buffer;  // the whole allocation
  Tensor view;    // what the op writes
  Guarded(const Shape& shape, DType dtype, const Tensor* init = nullptr) {
    const int64_t n = shape.numel();
    Tensor host = Tensor::empty(Shape{n + 2 * kGuard}, dtype);
    fill_host(host, kGuardValue);
    if (init) {
      EXPECT_EQ(init->numel(), n);
      const Tensor src = init->to(Device::cpu());
      std::memcpy(static_cast<char*>(host.raw()) + kGuard * dtype_size(dtype), src.raw(),
                  src.nbytes());
    }
    buffer = host.to(gpu());
    view = buffer.slice_flat(kGuard, shape);
    Tensor probe = Tensor::empty(Shape{1}, dtype);
    fill_host(probe, kGuardValue);
    guard_value = values_of(probe)[0];  // kGuardValue as this dtype stores it
  }
  // Tensor::fill, plus the 16-bit float types.
  static void fill_host(Tensor& t, double value) {
    if (t.dtype() != DType::BF16 && t.dtype() != DType::F16) return t.fill(value);
    const Tensor one = rounded_to(Tensor::from_vector(Shape{1}, {static_cast<float>(value)}), t.dtype());
    uint16_t bits;
    std::memcpy(&bits, one.raw(), 2);
    auto* p = static_cast<uint16_t*>(t.raw());
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = bits;
  }
  double guard_value = 0;
  // Fails the test when anything outside the view changed.
  void expect_guards_intact(const std::string& what) const {
    const std::vector<double> all = values_of(buffer);
    const double want = guard_value;
    const int64_t n = view.numel();
    for (int64_t i = 0; i < kGuard; ++i) {
      ASSERT_EQ(all[i], want) << what << ": write before the output at guard element " << i;
      ASSERT_EQ(all[kGuard + n + i], want) << what << ": write after the output at guard element " << i;
    }
  }
};

// |gpu - cpu| <= atol + rtol * |cpu| for every element (and the same shape).
inline void expect_close(const Tensor& gpu_t, const Tensor& cpu_t, double rtol, double atol,
                         const std::string& what) {
  ASSERT_EQ(gpu_t.numel(), cpu_t.numel()) << what;
  const std::vector<double> a = values_of(gpu_t), b = values_of(cpu_t);
  int reported = 0;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double err = std::fabs(a[i] - b[i]);
    const bool bad = !(err <= atol + rtol * std::fabs(b[i])) || std::isnan(a[i]) != std::isnan(b[i]);
    if (bad && reported < 5) {
      ADD_FAILURE() << what << ": element " << i << " gpu " << a[i] << " cpu " << b[i];
      ++reported;
    }
    if (err > worst) worst = err;
  }
  if (reported) ADD_FAILURE() << what << ": largest absolute difference " << worst;
}

// The message of the te::Error that `fn` throws ("" when it throws none).
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// `msg` is an error message that names every one of `words`.
inline void expect_mentions(const std::string& msg, const std::vector<std::string>& words) {
  ASSERT_FALSE(msg.empty()) << "no error thrown";
  for (const std::string& w : words)
    EXPECT_NE(msg.find(w), std::string::npos) << "'" << w << "' missing in: " << msg;
}

inline void expect_equal(const Tensor& gpu_t, const Tensor& cpu_t, const std::string& what) {
  expect_close(gpu_t, cpu_t, 0.0, 0.0, what);
}

}  // namespace te::cuda_test
