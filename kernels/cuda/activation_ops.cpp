// Tensor-level activations and dropout (kernels/activation.h, kernels/dropout.h). x, y, dy, dx
// of one call are f32, bf16 or f16, all the same (storage_args.h).
#include <string>

#include "kernels/cuda/launchers.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/storage_args.h"
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
  const int code = kind_code(kind);
  const StorageDType st(op, x, "x");
  st.check(y, "y");
  require_numel(y, x.numel(), op, "y");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    launch::activation_forward(code, st.ptr<T>(x, "x"), st.ptr<T>(y, "y"), x.numel(),
                               compute_stream());
  });
}

void activation_backward(ActivationKind kind, const Tensor& x, const Tensor& y, const Tensor& dy,
                         Tensor& dx, bool accumulate) {
  const char* op = "activation_backward";
  const int code = kind_code(kind);
  // ReLU reads only y, the others only x (like the CPU backend); the unread one may be
  // undefined and is not checked.
  const bool relu = code == 0;
  const Tensor& read = relu ? y : x;
  const char* read_name = relu ? "y" : "x";
  const StorageDType st(op, dy, "dy");
  st.check(read, read_name);
  st.check(dx, "dx");
  require_numel(dy, read.numel(), op, "dy");
  require_numel(dx, read.numel(), op, "dx");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* rp = st.ptr<T>(read, read_name);
    launch::activation_backward(code, relu ? nullptr : rp, relu ? rp : nullptr,
                                st.ptr<T>(dy, "dy"), st.ptr<T>(dx, "dx"), dy.numel(), accumulate,
                                compute_stream());
  });
}

void dropout_forward(const Tensor& x, Tensor& y, double p, uint64_t key, uint64_t stream) {
  const char* op = "dropout_forward";
  check_p(op, p);
  const StorageDType st(op, x, "x");
  st.check(y, "y");
  require_numel(y, x.numel(), op, "y");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    launch::dropout(st.ptr<T>(x, "x"), st.ptr<T>(y, "y"), x.numel(), p, key, stream, false,
                    compute_stream());
  });
}

void dropout_backward(const Tensor& dy, Tensor& dx, double p, uint64_t key, uint64_t stream,
                      bool accumulate) {
  const char* op = "dropout_backward";
  check_p(op, p);
  const StorageDType st(op, dy, "dy");
  st.check(dx, "dx");
  require_numel(dx, dy.numel(), op, "dx");
  st.dispatch([&](auto tag) {
    using T = typename decltype(tag)::type;
    launch::dropout(st.ptr<T>(dy, "dy"), st.ptr<T>(dx, "dx"), dy.numel(), p, key, stream,
                    accumulate, compute_stream());
  });
}

}  // namespace te::ops::cuda
