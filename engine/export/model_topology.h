#pragma once
// Which nodes each node of an unfused graph reads. Graph keeps its wiring private, so this
// re-reads the model description's layer list (presets expanded) with the graph's rule: a
// layer without `inputs` reads the layer before it, the first one the graph input.
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "engine/graph/graph.h"

namespace te {

// Per node of `graph`: input node indices, -1 for the graph input. ExportError when the list
// does not match the graph's nodes one to one (a fused graph, or another model).
std::vector<std::vector<int>> layer_inputs(const YAML::Node& model, const std::string& where,
                                           const Graph& graph);

// The YAML mapping of each layer as written (arguments the layers do not expose, e.g. concat's
// axis), in node order.
std::vector<YAML::Node> layer_nodes(const YAML::Node& model, const std::string& where);

}  // namespace te
