#include "engine/export/model_topology.h"

#include <map>

#include "engine/export/export_error.h"
#include "engine/graph/model_spec.h"

namespace te {

std::vector<YAML::Node> layer_nodes(const YAML::Node& model, const std::string& where) {
  const ModelSpec spec = parse_model_section(model, where);
  std::vector<YAML::Node> out;
  for (const auto& n : spec.layers) out.push_back(n);
  return out;
}

std::vector<std::vector<int>> layer_inputs(const YAML::Node& model, const std::string& where,
                                           const Graph& graph) {
  const std::vector<YAML::Node> nodes = layer_nodes(model, where);
  if (nodes.size() != graph.num_layers())
    throw ExportError(where + ": the model lists " + std::to_string(nodes.size()) +
                      " layers but the graph has " + std::to_string(graph.num_layers()) +
                      " (export needs the graph built with fusion off)");
  std::map<std::string, int> index = {{"input", -1}};
  std::vector<std::vector<int>> out(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string name = nodes[i]["name"].as<std::string>();
    if (name != graph.layer_name(i))
      throw ExportError(where + ": layer #" + std::to_string(i + 1) + " is '" + name +
                        "' in the model but '" + graph.layer_name(i) + "' in the graph");
    std::vector<std::string> names;
    const YAML::Node in = nodes[i]["inputs"];
    if (!in)
      names = {i == 0 ? std::string("input") : graph.layer_name(i - 1)};
    else if (in.IsScalar())
      names = {in.as<std::string>()};
    else
      for (const auto& x : in) names.push_back(x.as<std::string>());
    for (const auto& n : names) {
      const auto it = index.find(n);
      // Graph::build already rejected unknown or later names; this guards the re-reading.
      if (it == index.end())
        throw ExportError(where + ": layer '" + name + "' reads '" + n + "', not listed before it");
      out[i].push_back(it->second);
    }
    index[name] = static_cast<int>(i);
  }
  return out;
}

}  // namespace te
