// te::Error subclasses as Python exceptions. The engine's messages are complete already
// (file, line, key, shapes), so only the type changes:
//   ConfigError, ShapeError -> ValueError subclasses; DataError, IoError -> OSError subclasses;
//   DeviceError, TrainingDiverged, any other te::Error -> EngineError (a RuntimeError);
//   CUDA out of memory (a DeviceError), host allocation failures and std::bad_alloc -> MemoryError.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <new>

#include "bindings/src/bindings.h"
#include "engine/core/error.h"
#include "engine/train/trainer.h"

namespace te::py {
namespace {

struct PyTypes {
  nb::object engine, config, shape, data, io, device, diverged;
};
PyTypes* types = nullptr;  // created once at import, lives as long as the process

void raise(const nb::object& type, const char* message) { PyErr_SetString(type.ptr(), message); }

void translate(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const ConfigError& e) {
    raise(types->config, e.what());
  } catch (const ShapeError& e) {
    raise(types->shape, e.what());
  } catch (const DataError& e) {
    raise(types->data, e.what());
  } catch (const IoError& e) {
    raise(types->io, e.what());
  } catch (const DeviceError& e) {
    if (std::strstr(e.what(), "out of memory"))
      PyErr_SetString(PyExc_MemoryError, e.what());
    else
      raise(types->device, e.what());
  } catch (const TrainingDiverged& e) {
    raise(types->diverged, e.what());
  } catch (const Error& e) {
    // The host allocator throws a plain te::Error (engine/core/allocator.cpp).
    if (std::strncmp(e.what(), "out of host memory", 18) == 0)
      PyErr_SetString(PyExc_MemoryError, e.what());
    else
      raise(types->engine, e.what());
  } catch (const std::bad_alloc&) {
    PyErr_SetString(PyExc_MemoryError, "out of host memory");
  }
}

nb::object new_type(nb::module_& m, const char* name, PyObject* base, const char* doc) {
  const std::string qualified = std::string("trainer_engine.") + name;
  nb::object t = nb::steal(PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base, nullptr));
  if (!t.is_valid()) throw nb::python_error();
  m.attr(name) = t;
  return t;
}

}  // namespace

void register_errors(nb::module_& m) {
  types = new PyTypes;
  types->engine = new_type(m, "EngineError", PyExc_RuntimeError, "An error of the training engine.");
  types->config = new_type(m, "ConfigError", PyExc_ValueError,
                           "A config key is unknown, mistyped or out of range; the message names "
                           "the file, line and key and suggests the closest key.");
  types->shape = new_type(m, "ShapeError", PyExc_ValueError,
                          "A layer's input shapes do not fit (the message names the layer).");
  types->data = new_type(m, "DataError", PyExc_OSError,
                         "A data set, image or data file is unreadable or malformed.");
  types->io = new_type(m, "IoError", PyExc_OSError,
                       "A checkpoint, log or run directory could not be read or written.");
  types->device = new_type(m, "DeviceError", types->engine.ptr(),
                           "A CUDA, cuDNN or cuBLAS call failed, or no device is usable.");
  types->diverged = new_type(m, "TrainingDiverged", types->engine.ptr(),
                             "The loss or the gradients stayed non-finite.");
  nb::register_exception_translator(translate);
}

void require_path(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return;
  const std::string message = what + ": no such file or directory: '" + path + "'";
  nb::object err = nb::borrow(PyExc_FileNotFoundError)(ENOENT, message, path);
  PyErr_SetObject(PyExc_FileNotFoundError, err.ptr());
  throw nb::python_error();
}

}  // namespace te::py
