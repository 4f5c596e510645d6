#pragma once
// The dtype rules of the CUDA convolution and Linear ops, which (unlike the other CUDA ops) also
// take bf16 and f16 storage: the data tensors of one call (x, weight, y; or dy, weight, dx; or
// x, dy) share one dtype, f32, bf16 or f16; bias, dbias and dweight may be f32 or that dtype
// (f32 data: f32 only). Products and sums run in f32 either way.
// The checks say which op and which argument is off, and what it was compared with. They look
// at dtypes only (no device), so an op checks every dtype before it touches the GPU.
#include <string>

#include "kernels/cuda/tensor_args.h"

namespace te::cuda {

inline bool is_matmul_dtype(DType t) {
  return t == DType::F32 || t == DType::BF16 || t == DType::F16;
}

// The dtype of the call, taken from its first data tensor `t` (named `what`).
inline DType matmul_dtype(const Tensor& t, const char* op, const char* what) {
  if (!t.defined()) throw Error(std::string(op) + ": " + what + " is undefined");
  if (!is_matmul_dtype(t.dtype()))
    throw Error(std::string(op) + ": " + what + " is " + dtype_name(t.dtype()) +
                "; the CUDA backend computes this op on f32, bf16 or f16 tensors");
  return t.dtype();
}

// Data tensor `t` must have the call's dtype `want` (that of the argument named `ref`).
inline void require_dtype(const Tensor& t, DType want, const char* op, const char* what,
                          const char* ref) {
  if (!t.defined()) throw Error(std::string(op) + ": " + what + " is undefined");
  if (t.dtype() != want)
    throw Error(std::string(op) + ": " + what + " is " + dtype_name(t.dtype()) + " but " + ref +
                " is " + dtype_name(want) + "; " + what + " must have " + ref +
                "'s dtype (this op does not mix dtypes there)");
}

// A bias or parameter gradient `t` may be f32 or the call's dtype `want` (that of `ref`).
inline void require_f32_or(const Tensor& t, DType want, const char* op, const char* what,
                           const char* ref) {
  if (!t.defined()) throw Error(std::string(op) + ": " + what + " is undefined");
  if (t.dtype() != DType::F32 && t.dtype() != want)
    throw Error(std::string(op) + ": " + what + " is " + dtype_name(t.dtype()) + " but " + ref +
                " is " + dtype_name(want) + "; " + what + " must be f32" +
                (want == DType::F32 ? std::string() : std::string(" or ") + dtype_name(want)));
}

// The device pointer of `t` (dtype already checked), after checking that it is on the GPU.
inline void* gpu_ptr(const Tensor& t, const char* op, const char* what) {
  require_on_gpu(t, op, what);
  return t.raw();
}

}  // namespace te::cuda
