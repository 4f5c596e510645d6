// trainer_engine._core: the engine's Python module (the package's __init__.py wraps it).
// The same sources build trainer_engine._core_emu (tests only): the CUDA backend's emulation
// instead of the real runtime, so the device paths run on machines without a GPU.
#include "bindings/src/bindings.h"

#ifndef TE_PY_MODULE
#define TE_PY_MODULE _core
#endif

NB_MODULE(TE_PY_MODULE, m) {
  m.doc() = "trainer engine: training, evaluation, prediction and the data loader";
  m.attr("__version__") = TE_VERSION;
  te::py::register_errors(m);
  te::py::register_config(m);
  te::py::register_train(m);
  te::py::register_model(m);
  te::py::register_device_array(m);
  te::py::register_loader(m);
#ifdef TE_PY_EMU_TEST_HOOKS
  te::py::register_emu_test_hooks(m);
#endif
}
