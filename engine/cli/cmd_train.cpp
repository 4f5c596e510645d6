// `trainer --config FILE [--set key=value ...] [--device D] [--out DIR]` and
// `trainer --resume DIR`: the top-level command, training.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/cli/device_select.h"
#include "engine/cli/rank_device.h"
#include "engine/config/run_config.h"
#include "engine/core/error.h"
#include "engine/distributed/collective_watchdog.h"
#include "engine/distributed/launch_env.h"
#include "engine/distributed/mpi_communicator.h"
#include "engine/distributed/nccl_communicator.h"
#include "engine/distributed/rank_logging.h"
#include "engine/train/interrupt.h"
#include "engine/train/logging.h"
#include "engine/train/run_dir.h"
#include "engine/train/trainer.h"

namespace te::cli {
namespace {

struct TrainOptions {
  std::string config, resume, device, out;
  std::vector<std::string> sets;
  double collective_timeout = 300;  // data parallelism: seconds a rank waits for the others
  double bucket_mib = 25;           // data parallelism: gradient all-reduce bucket
};

int run_train(CLI::App& app, const TrainOptions& o) {
  if (o.config.empty() && o.resume.empty()) {
    std::cout << app.help();
    return 0;
  }
  // Launched as one of several ranks (mpirun, srun, torchrun-style variables)?
  const LaunchInfo launch = detect_launch_from_environment();
  if (launch.rank > 0) log_as_rank(launch.rank);
  RunConfig config;
  std::string run_dir;
  if (!o.resume.empty()) {
    const RunPaths run{o.resume};
    if (!std::filesystem::exists(run.config()))
      throw IoError("--resume " + o.resume + ": no " + run.config() +
                    " (is this a run directory written by `trainer --config`?)");
    config = load_run_config(run.config(), o.sets);
    run_dir = o.resume;
  } else {
    config = load_run_config(o.config, o.sets);
    run_dir = o.out.empty() ? default_run_dir(o.config) : o.out;
  }
  // Data parallelism: MPI first (rank 0 names the run directory: it has a timestamp); rank 0
  // alone writes the directory and train.log. torchrun-style variables without mpirun: GPU
  // ranks on NCCL over the TCP rendezvous (CPU ranks refused before anything is written).
  const std::string request = o.device.empty() ? config.train.device : o.device;
  const bool torchrun = launch.distributed() && launch.launcher == "torchrun";
  std::unique_ptr<Communicator> mpi, nccl;
  Device torchrun_device;
  if (launch.distributed()) {
    // A rank left waiting in a collective ends the job (the launcher ends the others).
    set_collective_timeout_handler([](const std::string& message) {
      std::fprintf(stderr,
                   "error: %s; exiting so the job ends instead of hanging (--collective-timeout "
                   "sets the limit)\n",
                   message.c_str());
      std::fflush(stderr);
      std::_Exit(124);
    });
    if (torchrun) {
      torchrun_device = select_torchrun_device(request, config.model, launch);
      nccl = make_nccl_communicator(launch, torchrun_device, o.collective_timeout);
    } else {
      mpi = make_mpi_communicator(launch, o.collective_timeout);
    }
    run_dir = broadcast_string(mpi ? *mpi : *nccl, run_dir);
  }
  RunPaths run = launch.rank == 0 ? create_run_dir(run_dir) : RunPaths{run_dir};
  if (launch.rank == 0) log_to_console_and_file(run.log());
  if (launch.distributed()) spdlog::info("launched as {}", launch.describe());
  spdlog::info("trainer {} {} run dir {}", TE_VERSION, o.resume.empty() ? "starting," : "resuming,", run.root);

  TrainerOptions options;
  options.run_dir = run_dir;
  options.resume = !o.resume.empty();
  options.device = torchrun ? torchrun_device
                   : mpi   ? select_rank_device(request, config.model, launch, *mpi)
                           : select_device(request, config.model);
  if (mpi && options.device.is_cpu()) options.comm = std::move(mpi);
  if (mpi) options.comm = make_nccl_communicator(std::move(mpi), o.collective_timeout);
  if (nccl) options.comm = std::move(nccl);
  options.bucket_bytes = std::max<int64_t>(1, static_cast<int64_t>(o.bucket_mib * 1048576.0));
  if (options.comm && options.device.is_cpu() && config.train.threads == 0)
    share_cores_among_local_ranks(launch);
  configure_gpu_numerics(options.device, config.train.deterministic, config.train.allow_tf32);
  install_stop_handlers();
  Trainer trainer(std::move(config), options);
  TrainSummary s;
  try {
    s = trainer.run();
  } catch (const Interrupted&) {
    // Every rank agreed to stop and the checkpoint is written (save() ends in a barrier). No
    // MPI_Finalize: a launcher that sent the signal is ending the job and would not answer it.
    throw;
  }
  if (options.comm) options.comm->shutdown();
  remove_stop_handlers();
  if (s.validated)
    spdlog::info("done: {} epochs, {} steps in {:.1f} s ({:.0f} img/s); final val accuracy {:.4f}, "
                 "loss {:.4f}; best {:.4f} at epoch {}", s.epochs, s.steps, s.seconds, s.images_per_s,
                 s.val_accuracy, s.val_loss, s.best_metric, s.best_epoch);
  else
    spdlog::info("done: {} epochs, {} steps in {:.1f} s ({:.0f} img/s); final train loss {:.4f}",
                 s.epochs, s.steps, s.seconds, s.images_per_s, s.train_loss);
  if (s.graph_captures > 0)
    spdlog::info("CUDA graphs: {} micro-batch steps replayed from {} captures", s.replayed_micro_batches,
                 s.graph_captures);
  if (s.skipped_files > 0)
    spdlog::warn("{} unreadable files skipped (named in the warnings above)", s.skipped_files);
  if (s.skipped_steps > 0) spdlog::warn("{} steps were skipped (non-finite loss or gradient)", s.skipped_steps);
  spdlog::info("weights: {}{}", s.best_weights.empty() ? s.last_weights : s.best_weights,
               s.best_weights.empty() ? "" : " (best)");
  return 0;
}

}  // namespace

void register_train(CLI::App& app, std::vector<std::pair<CLI::App*, std::function<int()>>>& runners) {
  auto o = std::make_shared<TrainOptions>();
  auto* config = app.add_option("--config", o->config, "Train with this run config (YAML)");
  auto* resume = app.add_option("--resume", o->resume, "Continue the run in this run directory");
  config->excludes(resume);
  app.add_option("--set", o->sets, "Override a config key, e.g. --set optim.lr=0.05 (repeatable)")
      ->type_name("KEY=VALUE");
  app.add_option("--device", o->device, "cpu, cuda[:N] or auto (default: train.device, auto)");
  app.add_option("--out", o->out, "Run directory (default: runs/<config name>-<timestamp>)");
  app.add_option("--collective-timeout", o->collective_timeout,
                 "Data parallelism: seconds a rank waits in a collective before it exits, naming "
                 "the operation (default 300; 0 waits forever)");
  app.add_option("--bucket-mib", o->bucket_mib,
                 "Data parallelism: MiB of gradients per all-reduce (default 25)")
      ->check(CLI::PositiveNumber);
  runners.emplace_back(&app, [&app, o] { return run_train(app, *o); });
}

}  // namespace te::cli
