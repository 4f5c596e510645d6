#include "engine/train/checkpoint.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "engine/core/error.h"
#include "engine/io/safetensors.h"

namespace te {
namespace {
constexpr const char* kStateKey = "te.training_state";
constexpr const char* kOptimizerStepsKey = "te.optimizer_steps";
}  // namespace

void save_weights(const std::string& path, const Graph& graph, const ModelInfo& info) {
  save_safetensors(path, graph.state_dict(), info.to_metadata());
}

void save_checkpoint(const CheckpointFiles& files, const Graph& graph, Optimizer& optimizer,
                     const ModelInfo& info, const TrainingState& state) {
  std::vector<NamedTensor> buffers;
  for (auto& [name, tensor] : optimizer.state_tensors())
    buffers.push_back({"optimizer." + name, *tensor});
  std::map<std::string, std::string> meta;
  meta[kStateKey] = state.to_json();
  meta[kOptimizerStepsKey] = std::to_string(optimizer.step_count());
  save_safetensors(files.state, buffers, meta);
  try {
    save_weights(files.weights, graph, info);
  } catch (const IoError&) {
    // A state file without its weights is no checkpoint (list_checkpoints skips it): remove it.
    std::error_code ec;
    std::filesystem::remove(files.state, ec);
    throw;
  }
}

TrainingState load_checkpoint(const CheckpointFiles& files, Graph& graph, Optimizer& optimizer) {
  std::map<std::string, std::string> meta;
  const std::vector<NamedTensor> buffers = load_safetensors(files.state, &meta);
  const std::vector<NamedTensor> weights = load_safetensors(files.weights);
  auto state_it = meta.find(kStateKey);
  auto steps_it = meta.find(kOptimizerStepsKey);
  if (state_it == meta.end() || steps_it == meta.end())
    throw DamagedFileError(files.state + ": not a training-state file (no '" + kStateKey +
                           "' metadata)");
  TrainingState state;
  int64_t optimizer_steps = 0;
  try {
    state = TrainingState::from_json(state_it->second, files.state);
    optimizer_steps = std::stoll(steps_it->second);
  } catch (const std::exception& e) {
    throw DamagedFileError(files.state + ": unreadable training state (" + e.what() + ")");
  }

  auto wanted = optimizer.state_tensors();
  if (wanted.size() != buffers.size())
    throw IoError(files.state + ": holds " + std::to_string(buffers.size()) +
                  " optimizer buffers, the configured optimizer has " +
                  std::to_string(wanted.size()) + " (was optim.type changed?)");
  std::vector<const NamedTensor*> found(wanted.size(), nullptr);
  for (size_t i = 0; i < wanted.size(); ++i) {
    const auto& [name, tensor] = wanted[i];
    for (const auto& b : buffers)
      if (b.name == "optimizer." + name) found[i] = &b;
    if (!found[i])
      throw IoError(files.state + ": no optimizer buffer 'optimizer." + name +
                    "' (was optim.type changed?)");
    if (found[i]->tensor.numel() != tensor->numel() || found[i]->tensor.dtype() != tensor->dtype())
      throw IoError(files.state + ": optimizer buffer '" + found[i]->name + "' has " +
                    std::to_string(found[i]->tensor.numel()) + " elements, the model needs " +
                    std::to_string(tensor->numel()));
  }
  graph.load_state_dict(weights);
  for (size_t i = 0; i < wanted.size(); ++i) wanted[i].second->copy_from(found[i]->tensor);
  optimizer.set_step_count(optimizer_steps);
  return state;
}

TrainingState load_newest_checkpoint(const RunPaths& run, Graph& graph, Optimizer& optimizer,
                                     CheckpointFiles* used) {
  const std::vector<CheckpointFiles> all = list_checkpoints(run);
  if (all.empty())
    throw IoError("nothing to resume in '" + run.root + "': no complete checkpoint in " +
                  run.checkpoints());
  std::string newest_error;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    try {
      TrainingState state = load_checkpoint(*it, graph, optimizer);
      if (used) *used = *it;
      return state;
    } catch (const DamagedFileError& e) {
      if (newest_error.empty()) newest_error = e.what();
      spdlog::warn("{}; {}", e.what(),
                   it + 1 != all.rend() ? "falling back to the previous kept checkpoint"
                                        : "no older checkpoint is kept");
    }
  }
  throw IoError("cannot resume '" + run.root + "': every kept checkpoint is damaged (the newest: " +
                newest_error + ")");
}

void prune_checkpoints(const RunPaths& run, int64_t keep) {
  auto all = list_checkpoints(run);
  std::error_code ec;
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i) {
    // Weights first: without it the pair no longer counts as a checkpoint.
    std::filesystem::remove(all[i].weights, ec);
    std::filesystem::remove(all[i].state, ec);
  }
}

}  // namespace te
