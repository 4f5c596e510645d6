#pragma once
// Argument checks and helpers shared by the Tensor-level CUDA ops (*_ops.cpp): every op checks
// that its tensors are defined, of the right dtype (f32 here; storage_args.h and
// matmul_dtypes.h hold the rules of the ops that also take bf16/f16), on the initialised GPU
// and of the expected size, and says which op and which argument when not.
#include <cuda_runtime.h>

#include <string>

#include "engine/core/tensor.h"
#include "kernels/cuda/context.h"

namespace te::cuda {

inline cudaStream_t compute_stream() { return context().compute; }

// Throws unless `t` lives on the initialised GPU (the message is built only on failure).
inline void require_on_gpu(const Tensor& t, const char* op, const char* what) {
  const Device d = t.device();
  if (d.is_cuda() && d.index == context().device) return;
  require_current(d, (std::string(op) + " (" + what + ")").c_str());
}

// The f32 device pointer of `t`, after checking it.
inline float* f32_ptr(const Tensor& t, const char* op, const char* what) {
  if (!t.defined()) throw Error(std::string(op) + ": " + what + " is undefined");
  require_on_gpu(t, op, what);
  if (t.dtype() != DType::F32)
    throw Error(std::string(op) + ": " + what + " is " + dtype_name(t.dtype()) +
                "; this CUDA op takes f32 only");
  return static_cast<float*>(t.raw());
}

template <typename T>
inline T* typed_ptr(const Tensor& t, DType want, const char* op, const char* what) {
  if (!t.defined()) throw Error(std::string(op) + ": " + what + " is undefined");
  require_on_gpu(t, op, what);
  if (t.dtype() != want)
    throw Error(std::string(op) + ": " + what + " must be " + dtype_name(want) + ", got " +
                dtype_name(t.dtype()));
  return static_cast<T*>(t.raw());
}

inline void require_numel(const Tensor& t, int64_t n, const char* op, const char* what) {
  if (t.numel() != n)
    throw ShapeError(std::string(op) + ": " + what + " " + t.shape().str() + " has " +
                     std::to_string(t.numel()) + " elements, expected " + std::to_string(n));
}

inline void require_shape(const Tensor& t, const Shape& s, const char* op, const char* what) {
  if (t.shape() != s)
    throw ShapeError(std::string(op) + ": " + what + " is " + t.shape().str() + ", expected " +
                     s.str());
}

// Temporary device memory from the caching allocator (free after the first step).
inline Tensor device_scratch(const Shape& shape, DType dtype) {
  return Tensor::empty(shape, dtype, Device::cuda(current_device()));
}

// Copies `bytes` from device to host and waits (used for scalar results such as the loss).
void read_back(void* host, const void* device, size_t bytes);

}  // namespace te::cuda
