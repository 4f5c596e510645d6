#pragma once
// Engine tensors as NumPy arrays without copying: the array's owner is a capsule holding a
// reference to the tensor's storage, so the memory lives as long as the array (and anything
// that took it over through DLPack, e.g. torch.from_dlpack) and no longer.
#include <nanobind/ndarray.h>

#include <vector>

#include "engine/core/tensor.h"

namespace te::py {

namespace nb = nanobind;
using NumpyArray = nb::ndarray<nb::numpy>;

inline nb::dlpack::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::U8: return nb::dtype<uint8_t>();
    case DType::I32: return nb::dtype<int32_t>();
    case DType::I64: return nb::dtype<int64_t>();
    case DType::F32: return nb::dtype<float>();
    case DType::F64: return nb::dtype<double>();
    default: throw Error(std::string("no NumPy type for ") + dtype_name(t));
  }
}

// A host tensor as an array sharing its memory. Host only: CUDA tensors are copied to the host
// first by the callers that can meet them.
inline NumpyArray share_as_numpy(const Tensor& t) {
  if (!t.device().is_cpu()) throw Error("share_as_numpy: tensor is on " + t.device().str());
  std::vector<size_t> shape;
  for (size_t i = 0; i < t.rank(); ++i) shape.push_back(static_cast<size_t>(t.dim(static_cast<int>(i))));
  nb::capsule owner(new Tensor(t), [](void* p) noexcept { delete static_cast<Tensor*>(p); });
  return NumpyArray(t.raw(), shape.size(), shape.data(), owner, nullptr, numpy_dtype(t.dtype()),
                    nb::device::cpu::value);
}

// A copy the caller owns (parameters that keep changing, device tensors).
inline NumpyArray copy_as_numpy(const Tensor& t) {
  Tensor host = t.device().is_cpu() ? t.clone() : t.to(Device::cpu());
  return share_as_numpy(host);
}

}  // namespace te::py
