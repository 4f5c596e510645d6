// trainer_engine._core: the engine's Python module (the package's __init__.py wraps it).
#include "bindings/src/bindings.h"

NB_MODULE(_core, m) {
  m.doc() = "trainer engine: training, evaluation, prediction and the data loader";
  m.attr("__version__") = TE_VERSION;
  te::py::register_errors(m);
  te::py::register_config(m);
  te::py::register_train(m);
  te::py::register_model(m);
  te::py::register_loader(m);
}
