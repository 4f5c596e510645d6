#pragma once
// The pieces of the `trainer_engine._core` module, one registration function per file.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <string>

namespace te::py {

namespace nb = nanobind;

void register_errors(nb::module_& m);
void register_config(nb::module_& m);
void register_train(nb::module_& m);
void register_model(nb::module_& m);
void register_loader(nb::module_& m);
void register_device_array(nb::module_& m);  // device_array.h
// Test-only functions of the emulated-CUDA build (_core_emu, bindings/tests/emu_hooks.cpp).
void register_emu_test_hooks(nb::module_& m);

// str(value) as text (nb::str(handle) borrows rather than converts).
inline std::string text_of(nb::handle value) {
  nb::object s = nb::steal(PyObject_Str(value.ptr()));
  if (!s.is_valid()) throw nb::python_error();
  return nb::cast<std::string>(s);
}

// FileNotFoundError (errno ENOENT, the path as filename) when `path` does not exist; the engine
// would say the same as a DataError/IoError, but Python callers test for the built-in type.
void require_path(const std::string& path, const std::string& what);

}  // namespace te::py
