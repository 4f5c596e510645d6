// trainer_engine._core.train: the CLI's `trainer --config` / `--resume` as a function. The engine
// computes with the GIL released; after every step and epoch the record goes to `on_record`
// (with the GIL), which may ask to stop. Ctrl-C is noticed at the next step and takes the
// SIGINT path: checkpoint, then KeyboardInterrupt.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <csignal>
#include <filesystem>
#include <optional>

#include "bindings/src/bindings.h"
#include "bindings/src/config.h"
#include "bindings/src/convert.h"
#include "engine/cli/device_select.h"
#include "engine/train/interrupt.h"
#include "engine/train/logging.h"
#include "engine/train/run_dir.h"
#include "engine/train/trainer.h"

namespace te::py {
namespace {

// What the record hook saw, read after the run on the calling thread.
struct HookState {
  nb::object on_record;
  std::optional<nb::python_error> error;  // raised by a callback, or KeyboardInterrupt
  bool stop_asked = false;                // a callback returned True
};

void on_record(HookState& h, const nlohmann::json& rec) {
  nb::gil_scoped_acquire gil;
  if (h.error) return;
  try {
    // Python's SIGINT handler only sets a flag while we hold no GIL; this runs it.
    if (PyErr_CheckSignals() != 0) throw nb::python_error();
    if (!h.on_record.is_none() && nb::cast<bool>(h.on_record(to_python(rec)))) {
      h.stop_asked = true;
      request_stop(SIGINT);
    }
  } catch (nb::python_error& e) {
    h.error.emplace(std::move(e));
    request_stop(SIGINT);  // checkpoint, then the error is raised from train()
  }
}

nb::dict train(std::optional<PyConfig> config, const std::string& out, nb::object record_hook,
               const std::string& device, bool resume, const std::vector<std::string>& resume_overrides) {
  RunConfig rc;
  std::string run_dir = out;
  if (resume) {
    require_path(out, "resume");
    const RunPaths run{out};
    require_path(run.config(), "resume (is this a run directory?)");
    rc = load_run_config(run.config(), resume_overrides);
  } else {
    if (!config) throw nb::value_error("train: a config is needed unless resuming");
    rc = config->parse();
    if (run_dir.empty()) run_dir = default_run_dir(config->path.empty() ? "python" : config->path);
  }
  require_path(rc.data.train, "data.train");
  if (!rc.data.val.empty()) require_path(rc.data.val, "data.val");

  HookState hook{std::move(record_hook), std::nullopt, false};
  TrainerOptions options;
  options.run_dir = run_dir;
  options.resume = resume;
  options.on_record = [&hook](const nlohmann::json& rec) { on_record(hook, rec); };
  request_stop(0);
  TrainSummary s;
  bool stopped = false;
  {
    nb::gil_scoped_release release;
    const RunPaths run = create_run_dir(run_dir);
    log_to_console_and_file(run.log());
    try {
      options.device = cli::select_device(device.empty() ? rc.train.device : device, rc.model);
      cli::configure_gpu_numerics(options.device, rc.train.deterministic, rc.train.allow_tf32);
      Trainer trainer(std::move(rc), options);
      s = trainer.run();
    } catch (const Interrupted&) {
      stopped = true;  // the checkpoint is written
    } catch (...) {
      request_stop(0);
      log_to_console_only();
      throw;
    }
    stopped = stopped || stop_requested();  // a stop during the last epoch ends it normally
    request_stop(0);
    log_to_console_only();
  }
  if (hook.error) {
    hook.error->restore();
    throw nb::python_error();
  }
  nb::dict r;
  r["run_dir"] = run_dir;
  r["stopped"] = stopped;
  r["epochs"] = s.epochs;
  r["steps"] = s.steps;
  r["skipped_steps"] = s.skipped_steps;
  r["skipped_files"] = s.skipped_files;
  r["train_loss"] = s.train_loss;
  r["val_loss"] = s.validated ? nb::object(nb::float_(s.val_loss)) : nb::none();
  r["val_accuracy"] = s.validated ? nb::object(nb::float_(s.val_accuracy)) : nb::none();
  r["best_epoch"] = s.best_epoch;
  r["seconds"] = s.seconds;
  r["images_per_s"] = s.images_per_s;
  r["best_weights"] = s.best_weights;
  const auto last = latest_checkpoint(RunPaths{run_dir});
  r["last_weights"] = last ? last->weights : std::string();
  return r;
}

}  // namespace

void register_train(nb::module_& m) {
  m.def("_train", &train, nb::arg("config").none(), nb::arg("out"), nb::arg("on_record").none(),
        nb::arg("device"), nb::arg("resume"), nb::arg("resume_overrides"),
        "Low-level training entry; use trainer_engine.train().");
}

}  // namespace te::py
