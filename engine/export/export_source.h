#pragma once
// What an exporter reads: the model's info (metadata, preprocessing), the graph built WITHOUT
// fusion (one node per layer as written, so batchnorm2d_act appears only where a model names
// it) and each node's inputs, which the graph keeps private.
#include <memory>
#include <string>
#include <vector>

#include "engine/graph/graph.h"
#include "engine/train/model_info.h"

namespace te {

struct ExportSource {
  ModelInfo info;
  std::unique_ptr<Graph> graph;
  // Per node: indices of the nodes it reads, -1 for the graph input (see model_topology.h).
  std::vector<std::vector<int>> inputs;
};

// Loads a weights file: info from its metadata, the unfused graph with its weights (f32, CPU).
ExportSource load_export_source(const std::string& weights_path);

}  // namespace te
