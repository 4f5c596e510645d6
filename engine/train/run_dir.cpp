#include "engine/train/run_dir.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "engine/core/error.h"

namespace te {
namespace fs = std::filesystem;

std::string default_run_dir(const std::string& config_path) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  std::string name = fs::path(config_path).stem().string();
  if (name.empty()) name = "run";
  return "runs/" + name + "-" + stamp;
}

RunPaths create_run_dir(const std::string& root) {
  RunPaths run{root};
  std::error_code ec;
  fs::create_directories(run.checkpoints(), ec);
  if (ec)
    throw IoError("cannot create the run directory '" + root + "': " + ec.message() +
                  " (choose another with --out DIR)");
  return run;
}

CheckpointFiles checkpoint_files(const RunPaths& run, int64_t epoch, int64_t step) {
  char name[64];
  std::snprintf(name, sizeof name, "epoch-%04lld-step-%07lld", static_cast<long long>(epoch),
                static_cast<long long>(step));
  CheckpointFiles f;
  f.epoch = epoch;
  f.step = step;
  f.weights = run.checkpoints() + "/" + name + ".safetensors";
  f.state = run.checkpoints() + "/" + name + ".state.safetensors";
  return f;
}

std::vector<CheckpointFiles> list_checkpoints(const RunPaths& run) {
  std::vector<CheckpointFiles> out;
  std::error_code ec;
  if (!fs::is_directory(run.checkpoints(), ec)) return out;
  for (const auto& entry : fs::directory_iterator(run.checkpoints(), ec)) {
    const std::string name = entry.path().filename().string();
    long long epoch = 0, step = 0;
    char tail[32] = {};
    // Only weights files of the exact pattern; temporary files of an interrupted write differ.
    if (std::sscanf(name.c_str(), "epoch-%lld-step-%lld%31s", &epoch, &step, tail) != 3) continue;
    if (std::string(tail) != ".safetensors") continue;
    CheckpointFiles f = checkpoint_files(run, epoch, step);
    if (fs::exists(f.state, ec)) out.push_back(f);
  }
  std::sort(out.begin(), out.end(),
            [](const CheckpointFiles& a, const CheckpointFiles& b) { return a.step < b.step; });
  return out;
}

std::optional<CheckpointFiles> latest_checkpoint(const RunPaths& run) {
  auto all = list_checkpoints(run);
  if (all.empty()) return std::nullopt;
  return all.back();
}

void remove_stale_temporaries(const RunPaths& run) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const std::string& dir : {run.root, run.checkpoints()})
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (entry.is_regular_file(ec) && entry.path().filename().string().find(".tmp.") != std::string::npos)
        stale.push_back(entry.path());
  for (const auto& p : stale) fs::remove(p, ec);
}

std::string resolve_weights_path(const std::string& arg) {
  std::error_code ec;
  if (fs::is_regular_file(arg, ec)) return arg;
  if (!fs::is_directory(arg, ec))
    throw IoError("checkpoint '" + arg + "' does not exist (give a .safetensors file or a run "
                  "directory)");
  RunPaths run{arg};
  if (fs::is_regular_file(run.best_weights(), ec)) return run.best_weights();
  if (auto last = latest_checkpoint(run)) return last->weights;
  throw IoError("run directory '" + arg + "' holds no checkpoint (expected " + run.best_weights() +
                " or " + run.checkpoints() + "/epoch-*.safetensors)");
}

}  // namespace te
