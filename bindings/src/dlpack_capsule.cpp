// PyCapsules for DLPack managed tensors (dlpack_capsule.h).
#include "bindings/src/dlpack_capsule.h"

namespace te::py {
namespace {

template <typename Managed>
void delete_unconsumed(PyObject* capsule, const char* name) {
  // A consumer renames the capsule when it takes the tensor over; only then is it theirs.
  if (!PyCapsule_IsValid(capsule, name)) return;
  auto* tensor = static_cast<Managed*>(PyCapsule_GetPointer(capsule, name));
  if (tensor && tensor->deleter) tensor->deleter(tensor);
}

}  // namespace

nb::object make_dlpack_capsule(DLManagedTensorVersioned* tensor) {
  PyObject* c = PyCapsule_New(tensor, "dltensor_versioned", [](PyObject* capsule) {
    delete_unconsumed<DLManagedTensorVersioned>(capsule, "dltensor_versioned");
  });
  if (!c) {
    tensor->deleter(tensor);
    throw nb::python_error();
  }
  return nb::steal(c);
}

nb::object make_dlpack_capsule(DLManagedTensor* tensor) {
  PyObject* c = PyCapsule_New(tensor, "dltensor", [](PyObject* capsule) {
    delete_unconsumed<DLManagedTensor>(capsule, "dltensor");
  });
  if (!c) {
    tensor->deleter(tensor);
    throw nb::python_error();
  }
  return nb::steal(c);
}

}  // namespace te::py
