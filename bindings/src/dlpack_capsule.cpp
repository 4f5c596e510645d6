// PyCapsules for DLPack managed tensors (dlpack_capsule.h).
#include "bindings/src/dlpack_capsule.h"

namespace te::py {
namespace {

template <typename Managed> constexpr const char* kCapsuleName = "dltensor_versioned";
template <> constexpr const char* kCapsuleName<DLManagedTensor> = "dltensor";

template <typename Managed>
void delete_unconsumed(PyObject* capsule) {
  // A consumer renames the capsule when it takes the tensor over; only then is it theirs.
  if (!PyCapsule_IsValid(capsule, kCapsuleName<Managed>)) return;
  auto* tensor = static_cast<Managed*>(PyCapsule_GetPointer(capsule, kCapsuleName<Managed>));
  if (tensor && tensor->deleter) tensor->deleter(tensor);
}

template <typename Managed>
nb::object make_capsule(Managed* tensor) {
  PyObject* c = PyCapsule_New(tensor, kCapsuleName<Managed>, delete_unconsumed<Managed>);
  if (!c) {
    tensor->deleter(tensor);
    throw nb::python_error();
  }
  return nb::steal(c);
}

}  // namespace

nb::object make_dlpack_capsule(DLManagedTensorVersioned* tensor) { return make_capsule(tensor); }
nb::object make_dlpack_capsule(DLManagedTensor* tensor) { return make_capsule(tensor); }

}  // namespace te::py
