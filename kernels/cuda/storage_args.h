#pragma once
// The dtype rules of the Tensor-level CUDA ops whose kernels are templated on the storage type
// (launchers.h): activations and their gradients (inputs, outputs, residuals, dy, dx) may be
// f32, bf16 or f16, and all of them in one call share one dtype, the one of the call's first
// activation argument; per-channel parameters, statistics and parameter gradients (batch norm)
// are f32 whatever that dtype is. Every check names the op and the argument.
// The dtype checks look at dtypes only (not at the device, as matmul_dtypes.h's), so an op
// checks every dtype before it touches the GPU, and they can be tested without one; ptr()
// then checks that the tensor is on the GPU.
//
//   const StorageDType st(op, x, "x");        // x fixes the call's dtype
//   st.check(y, "y");                         // every dtype before any work is issued
//   st.dispatch([&](auto tag) {
//     using T = typename decltype(tag)::type; // float, __nv_bfloat16 or __half
//     launch::kernel(st.ptr<T>(x, "x"), st.ptr<T>(y, "y"), ...);
//   });
#include <string>

#include "kernels/cuda/launchers.h"
#include "kernels/cuda/tensor_args.h"

namespace te::cuda {

// Storage element type -> DType (only the three storage types).
template <typename T> struct storage_dtype;
template <> struct storage_dtype<float> { static constexpr DType value = DType::F32; };
template <> struct storage_dtype<__nv_bfloat16> { static constexpr DType value = DType::BF16; };
template <> struct storage_dtype<__half> { static constexpr DType value = DType::F16; };

template <typename T>
struct StorageTag {
  using type = T;
};

inline bool is_storage_dtype(DType t) {
  return t == DType::F32 || t == DType::BF16 || t == DType::F16;
}

class StorageDType {
 public:
  // `first` (named `what`) fixes the dtype of the call: it must be defined and f32, bf16 or
  // f16.
  StorageDType(const char* op, const Tensor& first, const char* what) : op_(op), ref_(what) {
    if (!first.defined()) throw Error(std::string(op) + ": " + what + " is undefined");
    if (!is_storage_dtype(first.dtype()))
      throw Error(std::string(op) + ": " + what + " is " + dtype_name(first.dtype()) +
                  "; the CUDA backend takes f32, bf16 or f16 tensors here");
    dtype_ = first.dtype();
  }

  DType dtype() const { return dtype_; }

  // Activation tensor `t` must be defined and of the call's dtype.
  void check(const Tensor& t, const char* what) const {
    if (!t.defined()) throw Error(std::string(op_) + ": " + what + " is undefined");
    if (t.dtype() != dtype_)
      throw Error(std::string(op_) + ": " + what + " is " + dtype_name(t.dtype()) + " but " +
                  ref_ + " is " + dtype_name(dtype_) + "; the activations and gradients of one " +
                  op_ + " call must share one dtype (f32, bf16 or f16)");
  }
  void check(const Tensor* t, const char* what) const {
    if (t) check(*t, what);
  }

  // The device pointer of `t` as T, the element type of the call's dtype, after checking its
  // dtype and that it is on the GPU; null for a null `t`.
  template <typename T>
  T* ptr(const Tensor& t, const char* what) const {
    check(t, what);
    if (storage_dtype<T>::value != dtype_)
      throw Error(std::string(op_) + ": internal error: " + what + " read as the wrong type");
    require_on_gpu(t, op_, what);
    return static_cast<T*>(t.raw());
  }
  template <typename T>
  T* ptr(const Tensor* t, const char* what) const {
    return t ? ptr<T>(*t, what) : nullptr;
  }
  // The same as bytes, for host code that offsets pointers (the 16-bit types are incomplete
  // there: launchers.h only declares them).
  char* bytes(const Tensor& t, const char* what) const {
    check(t, what);
    require_on_gpu(t, op_, what);
    return static_cast<char*>(t.raw());
  }

  // Calls f(StorageTag<T>{}) with T = float, __nv_bfloat16 or __half for the call's dtype.
  template <typename F>
  void dispatch(F&& f) const {
    switch (dtype_) {
      case DType::BF16: f(StorageTag<__nv_bfloat16>{}); return;
      case DType::F16: f(StorageTag<__half>{}); return;
      default: f(StorageTag<float>{}); return;  // F32 (the constructor admits nothing else)
    }
  }

 private:
  const char* op_;
  const char* ref_;
  DType dtype_ = DType::F32;
};

// A per-channel parameter, statistic or parameter gradient (batch norm's weight, bias, running
// and saved statistics, dweight, dbias): f32 whatever the activations' dtype. A null `t` (not
// given) passes.
inline void require_f32_param(const Tensor* t, const char* op, const char* what) {
  if (!t) return;
  if (!t->defined()) throw Error(std::string(op) + ": " + what + " is undefined");
  if (t->dtype() != DType::F32)
    throw Error(std::string(op) + ": " + what + " is " + dtype_name(t->dtype()) +
                "; parameters and statistics of this op are f32 on the CUDA backend, also when "
                "the activations are bf16 or f16");
}

// Its device pointer after require_f32_param and the device check; null for a null `t`.
inline float* f32_param_ptr(const Tensor* t, const char* op, const char* what) {
  if (!t) return nullptr;
  require_f32_param(t, op, what);
  require_on_gpu(*t, op, what);
  return static_cast<float*>(t->raw());
}

}  // namespace te::cuda
