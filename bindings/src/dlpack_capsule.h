#pragma once
// DLPack capsules made by hand, for arrays nanobind's ndarray cannot export the way the
// DLPack / array-API protocol asks (device memory with a stream handshake). The managed-tensor
// layouts are DLPack's ABI (dlpack.h v1.x); DLTensor is nanobind's copy of it.
#include <nanobind/ndarray.h>

#include <cstdint>

namespace te::py {

namespace nb = nanobind;

struct DLPackVersion {
  uint32_t major, minor;
};
struct DLManagedTensor {  // the pre-1.0 layout, capsule name "dltensor"
  nb::dlpack::dltensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor*);
};
struct DLManagedTensorVersioned {  // DLPack 1.x, capsule name "dltensor_versioned"
  DLPackVersion version;
  void* manager_ctx;
  void (*deleter)(DLManagedTensorVersioned*);
  uint64_t flags;
  nb::dlpack::dltensor dl_tensor;
};
constexpr DLPackVersion kDLPackVersion{1, 0};

// A capsule over `tensor` whose manager_ctx and deleter the caller filled in. Versioned when
// `versioned`; a consumer that takes it renames it "used_..." and calls the deleter itself,
// otherwise the capsule's destructor does.
nb::object make_dlpack_capsule(DLManagedTensorVersioned* tensor);
nb::object make_dlpack_capsule(DLManagedTensor* tensor);

}  // namespace te::py
