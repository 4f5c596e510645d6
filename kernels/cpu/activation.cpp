// CPU activations: one pass over the elements, split into blocks across the thread pool.
#include <algorithm>
#include <cmath>
#include <string>

#include "engine/core/parallel.h"
#include "kernels/activation.h"

namespace te::ops::cpu {
namespace {

constexpr int64_t kGrain = 1 << 14;  // elements per task: below this threads cost more than they save
constexpr double kSqrtHalf = 0.70710678118654752440;     // 1/sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1/sqrt(2*pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2/pi)
constexpr double kTanhCoef = 0.044715;

void for_blocks(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  parallel_for((n + kGrain - 1) / kGrain,
               [&](int64_t b, int64_t e) { fn(b * kGrain, std::min(n, e * kGrain)); });
}

void check_same(const char* op, const Tensor& a, const Tensor& b) {
  if (a.numel() != b.numel() || a.dtype() != b.dtype())
    throw ShapeError(std::string(op) + ": tensors " + a.shape().str() + " " + dtype_name(a.dtype()) +
                     " and " + b.shape().str() + " " + dtype_name(b.dtype()) + " do not match");
}

// f(x) and f'(x); T is float or double (float evaluates through float math functions).
template <typename T>
T value(ActivationKind kind, T x) {
  switch (kind) {
    case ActivationKind::ReLU: return x > T(0) ? x : T(0);
    case ActivationKind::GELU: return T(0.5) * x * (T(1) + std::erf(x * T(kSqrtHalf)));
    case ActivationKind::GELUTanh:
      return T(0.5) * x * (T(1) + std::tanh(T(kSqrt2OverPi) * (x + T(kTanhCoef) * x * x * x)));
    case ActivationKind::SiLU: return x / (T(1) + std::exp(-x));
  }
  return x;
}

template <typename T>
T derivative(ActivationKind kind, T x, T y) {
  switch (kind) {
    case ActivationKind::ReLU: return y > T(0) ? T(1) : T(0);  // 0 at the kink, like PyTorch
    case ActivationKind::GELU:
      return T(0.5) * (T(1) + std::erf(x * T(kSqrtHalf))) +
             x * T(kInvSqrt2Pi) * std::exp(T(-0.5) * x * x);
    case ActivationKind::GELUTanh: {
      const T t = std::tanh(T(kSqrt2OverPi) * (x + T(kTanhCoef) * x * x * x));
      return T(0.5) * (T(1) + t) +
             T(0.5) * x * (T(1) - t * t) * T(kSqrt2OverPi) * (T(1) + T(3 * kTanhCoef) * x * x);
    }
    case ActivationKind::SiLU: {
      const T s = T(1) / (T(1) + std::exp(-x));
      return s * (T(1) + x * (T(1) - s));
    }
  }
  return T(1);
}

// The kind is a template parameter so each inner loop is branch-free (and vectorisable for ReLU).
template <typename T, ActivationKind K>
void forward_kind(const Tensor& x, Tensor& y) {
  const T* in = x.data<T>();
  T* out = y.data<T>();
  for_blocks(x.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = value(K, in[i]);
  });
}

template <typename T, ActivationKind K>
void backward_kind(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx, bool accumulate) {
  // ReLU needs only y, so x may be an undefined tensor for it.
  const T* in = K == ActivationKind::ReLU ? nullptr : x.data<T>();
  const T* out = K == ActivationKind::ReLU ? y.data<T>() : nullptr;
  const T* g = dy.data<T>();
  T* d = dx.data<T>();
  for_blocks(dy.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T slope = K == ActivationKind::ReLU ? derivative(K, T(0), out[i]) : derivative(K, in[i], T(0));
      d[i] = accumulate ? d[i] + g[i] * slope : g[i] * slope;
    }
  });
}

template <typename T>
void forward_impl(ActivationKind kind, const Tensor& x, Tensor& y) {
  switch (kind) {
    case ActivationKind::ReLU: return forward_kind<T, ActivationKind::ReLU>(x, y);
    case ActivationKind::GELU: return forward_kind<T, ActivationKind::GELU>(x, y);
    case ActivationKind::GELUTanh: return forward_kind<T, ActivationKind::GELUTanh>(x, y);
    case ActivationKind::SiLU: return forward_kind<T, ActivationKind::SiLU>(x, y);
  }
}

template <typename T>
void backward_impl(ActivationKind kind, const Tensor& x, const Tensor& y, const Tensor& dy,
                   Tensor& dx, bool accumulate) {
  switch (kind) {
    case ActivationKind::ReLU: return backward_kind<T, ActivationKind::ReLU>(x, y, dy, dx, accumulate);
    case ActivationKind::GELU: return backward_kind<T, ActivationKind::GELU>(x, y, dy, dx, accumulate);
    case ActivationKind::GELUTanh: return backward_kind<T, ActivationKind::GELUTanh>(x, y, dy, dx, accumulate);
    case ActivationKind::SiLU: return backward_kind<T, ActivationKind::SiLU>(x, y, dy, dx, accumulate);
  }
}

}  // namespace

void activation_forward(ActivationKind kind, const Tensor& x, Tensor& y) {
  check_same("activation_forward", x, y);
  switch (x.dtype()) {
    case DType::F32: return forward_impl<float>(kind, x, y);
    case DType::F64: return forward_impl<double>(kind, x, y);
    default: throw Error(std::string("activation_forward: expects f32 or f64, got ") + dtype_name(x.dtype()));
  }
}

void activation_backward(ActivationKind kind, const Tensor& x, const Tensor& y, const Tensor& dy,
                         Tensor& dx, bool accumulate) {
  check_same("activation_backward", dy, dx);
  check_same("activation_backward", dy, kind == ActivationKind::ReLU ? y : x);
  switch (dy.dtype()) {
    case DType::F32: return backward_impl<float>(kind, x, y, dy, dx, accumulate);
    case DType::F64: return backward_impl<double>(kind, x, y, dy, dx, accumulate);
    default: throw Error(std::string("activation_backward: expects f32 or f64, got ") + dtype_name(dy.dtype()));
  }
}

}  // namespace te::ops::cpu
