#include "engine/train/checkpoint.h"

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
  save_weights(files.weights, graph, info);
}

TrainingState load_checkpoint(const CheckpointFiles& files, Graph& graph, Optimizer& optimizer) {
  graph.load_state_dict(load_safetensors(files.weights));

  std::map<std::string, std::string> meta;
  const std::vector<NamedTensor> buffers = load_safetensors(files.state, &meta);
  auto state_it = meta.find(kStateKey);
  auto steps_it = meta.find(kOptimizerStepsKey);
  if (state_it == meta.end() || steps_it == meta.end())
    throw IoError(files.state + ": not a training-state file (no '" + kStateKey + "' metadata)");
  const TrainingState state = TrainingState::from_json(state_it->second, files.state);

  auto wanted = optimizer.state_tensors();
  if (wanted.size() != buffers.size())
    throw IoError(files.state + ": holds " + std::to_string(buffers.size()) +
                  " optimizer buffers, the configured optimizer has " +
                  std::to_string(wanted.size()) + " (was optim.type changed?)");
  for (auto& [name, tensor] : wanted) {
    const NamedTensor* found = nullptr;
    for (const auto& b : buffers)
      if (b.name == "optimizer." + name) found = &b;
    if (!found)
      throw IoError(files.state + ": no optimizer buffer 'optimizer." + name +
                    "' (was optim.type changed?)");
    if (found->tensor.numel() != tensor->numel() || found->tensor.dtype() != tensor->dtype())
      throw IoError(files.state + ": optimizer buffer '" + found->name + "' has " +
                    std::to_string(found->tensor.numel()) + " elements, the model needs " +
                    std::to_string(tensor->numel()));
    tensor->copy_from(found->tensor);
  }
  optimizer.set_step_count(std::stoll(steps_it->second));
  return state;
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
