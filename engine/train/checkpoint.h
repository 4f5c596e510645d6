#pragma once
// Saving and restoring a training checkpoint: the weights (state dict with torchvision names,
// model description in the metadata) and, in a second file, the optimizer buffers and the
// TrainingState. Both are written atomically (temporary file, fsync, rename); the state file
// first, so a weights file never exists without its state (list_checkpoints needs both).
#include <string>

#include "engine/graph/graph.h"
#include "engine/optim/optimizer.h"
#include "engine/train/model_info.h"
#include "engine/train/run_dir.h"
#include "engine/train/training_state.h"

namespace te {

// Writes just the weights (e.g. best.safetensors).
void save_weights(const std::string& path, const Graph& graph, const ModelInfo& info);

// A failed write (full disk) leaves no part of this checkpoint behind and every earlier one
// intact; the IoError says so.
void save_checkpoint(const CheckpointFiles& files, const Graph& graph, Optimizer& optimizer,
                     const ModelInfo& info, const TrainingState& state);

// Loads weights, optimizer buffers and step count into existing objects; returns the state.
// Both files are read and verified (checksums) before anything is changed: DamagedFileError
// naming the file for a truncated or altered one; te::Error naming the file when names, shapes
// or sizes do not match.
TrainingState load_checkpoint(const CheckpointFiles& files, Graph& graph, Optimizer& optimizer);

// The newest checkpoint of `run` that loads; a damaged one is skipped with a warning naming it
// (falling back to the previous kept checkpoint). `used` receives the one loaded. IoError when
// there is none, or every one is damaged.
TrainingState load_newest_checkpoint(const RunPaths& run, Graph& graph, Optimizer& optimizer,
                                     CheckpointFiles* used);

// Deletes all but the newest `keep` checkpoints (best.safetensors is separate and stays).
void prune_checkpoints(const RunPaths& run, int64_t keep);

}  // namespace te
