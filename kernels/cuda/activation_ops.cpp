// Tensor-level activations and dropout (kernels/activation.h, kernels/dropout.h).
#include <string>

#include "kernels/cuda/launchers.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/tensor_args.h"

namespace te::ops::cuda {
using namespace te::cuda;
namespace {
int kind_code(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::ReLU: return 0;
    case ActivationKind::GELU: return 1;
    case ActivationKind::GELUTanh: return 2;
    case ActivationKind::SiLU: return 3;
  }
  throw Error("activation: unknown kind " + std::to_string(static_cast<int>(kind)));
}

void check_p(const char* op, double p) {
  if (!(p >= 0.0 && p < 1.0))
    throw Error(std::string(op) + ": drop probability p = " + std::to_string(p) +
                " is outside [0, 1)");
}
}  // namespace

void activation_forward(ActivationKind kind, const Tensor& x, Tensor& y) {
  const char* op = "activation_forward";
  const float* xp = f32_ptr(x, op, "x");
  float* yp = f32_ptr(y, op, "y");
  require_numel(y, x.numel(), op, "y");
  launch::activation_forward(kind_code(kind), xp, yp, x.numel(), compute_stream());
}

void activation_backward(ActivationKind kind, const Tensor& x, const Tensor& y, const Tensor& dy,
                         Tensor& dx, bool accumulate) {
  const char* op = "activation_backward";
  const int code = kind_code(kind);
  // ReLU reads only y, the others only x (like the CPU backend).
  const float* xp = code == 0 ? nullptr : f32_ptr(x, op, "x");
  const float* yp = code == 0 ? f32_ptr(y, op, "y") : nullptr;
  const Tensor& read = code == 0 ? y : x;
  const float* dyp = f32_ptr(dy, op, "dy");
  float* dxp = f32_ptr(dx, op, "dx");
  require_numel(dy, read.numel(), op, "dy");
  require_numel(dx, read.numel(), op, "dx");
  launch::activation_backward(code, xp, yp, dyp, dxp, dy.numel(), accumulate, compute_stream());
}

void dropout_forward(const Tensor& x, Tensor& y, double p, uint64_t key, uint64_t stream) {
  const char* op = "dropout_forward";
  check_p(op, p);
  const float* xp = f32_ptr(x, op, "x");
  float* yp = f32_ptr(y, op, "y");
  require_numel(y, x.numel(), op, "y");
  launch::dropout(xp, yp, x.numel(), p, key, stream, false, compute_stream());
}

void dropout_backward(const Tensor& dy, Tensor& dx, double p, uint64_t key, uint64_t stream,
                      bool accumulate) {
  const char* op = "dropout_backward";
  check_p(op, p);
  const float* dyp = f32_ptr(dy, op, "dy");
  float* dxp = f32_ptr(dx, op, "dx");
  require_numel(dx, dy.numel(), op, "dx");
  launch::dropout(dyp, dxp, dy.numel(), p, key, stream, accumulate, compute_stream());
}

}  // namespace te::ops::cuda
