// The model description's data-independent checks (model_check.h). Checks run in the order a
// user fixes them: the list's structure (names, inputs, cycles, order), then each layer's type
// and arguments.
#include "engine/graph/model_check.h"

#include <algorithm>
#include <functional>
#include <map>

#include "engine/core/error.h"
#include "engine/core/suggest.h"
#include "engine/layers/layer_args.h"
#include "engine/layers/registry.h"

namespace te {
namespace {

constexpr const char* kInput = "input";

std::string scalar_key(const YAML::Node& node, const char* key, const std::string& where,
                       size_t index) {
  const YAML::Node v = node[key];
  if (!v || !v.IsScalar() || v.as<std::string>().empty())
    throw ConfigError(yaml_location(where, node) + ": layer #" + std::to_string(index + 1) +
                      " needs a `" + key + "` (a string)");
  return v.as<std::string>();
}

std::vector<LayerEntry> read_entries(const ModelSpec& spec) {
  std::vector<LayerEntry> entries;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const YAML::Node node = spec.layers[i];
    if (!node.IsMap())
      throw ConfigError(yaml_location(spec.where, node) + ": layer #" + std::to_string(i + 1) +
                        " must be a mapping like {name: conv1, type: conv2d, ...}");
    LayerEntry e;
    e.node = node;
    e.listing_index = static_cast<int>(i);
    e.name = scalar_key(node, "name", spec.where, i);
    e.type = scalar_key(node, "type", spec.where, i);
    const std::string at = yaml_location(spec.where, node["name"]);
    if (e.name == kInput)
      throw ConfigError(at + ": the layer name 'input' is reserved for the graph input");
    if (const auto it = seen.find(e.name); it != seen.end())
      throw ConfigError(at + ": duplicate layer name '" + e.name + "' (first used by layer #" +
                        std::to_string(it->second + 1) + " at " +
                        yaml_location(spec.where, entries[it->second].node) + ")");
    seen[e.name] = i;
    const YAML::Node in = node["inputs"];
    if (!in) {
      e.inputs = {i == 0 ? std::string(kInput) : entries.back().name};
    } else if (in.IsScalar()) {
      e.inputs = {in.as<std::string>()};
    } else if (in.IsSequence() && in.size() > 0) {
      for (const auto& x : in) {
        if (!x.IsScalar())
          throw ConfigError(yaml_location(spec.where, in) + ": layer '" + e.name +
                            "', key 'inputs': expected layer names");
        e.inputs.push_back(x.as<std::string>());
      }
    } else {
      throw ConfigError(yaml_location(spec.where, in) + ": layer '" + e.name +
                        "', key 'inputs': expected a layer name or a non-empty list of names");
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

// Resolves input names to entry indices (-1 = graph input); unknown names get a suggestion.
std::vector<std::vector<int>> resolve_inputs(const std::vector<LayerEntry>& entries,
                                             const std::string& where) {
  std::map<std::string, int> index;
  std::vector<std::string> names = {kInput};
  for (size_t i = 0; i < entries.size(); ++i) {
    index[entries[i].name] = static_cast<int>(i);
    names.push_back(entries[i].name);
  }
  std::vector<std::vector<int>> out(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    for (const auto& name : entries[i].inputs) {
      if (name == kInput) {
        out[i].push_back(-1);
        continue;
      }
      const auto it = index.find(name);
      if (it == index.end()) {
        const std::string guess = closest_match(name, names);
        throw ConfigError(yaml_location(where, entries[i].node) + ": layer '" + entries[i].name +
                          "' takes input '" + name + "', which is not a layer" +
                          (guess.empty() ? "" : "; did you mean '" + guess + "'?"));
      }
      out[i].push_back(it->second);
    }
  }
  return out;
}

// Finds a cycle by depth-first search; returns its names ("a -> b -> a") or "".
std::string find_cycle(const std::vector<LayerEntry>& entries, const std::vector<std::vector<int>>& in) {
  enum Color { White, Grey, Black };
  std::vector<Color> color(entries.size(), White);
  std::vector<int> stack;
  std::string cycle;
  std::function<bool(int)> visit = [&](int v) {
    color[v] = Grey;
    stack.push_back(v);
    for (int u : in[v]) {
      if (u < 0) continue;
      if (color[u] == Grey) {
        // The stack from u holds consumers before producers: reverse it for data-flow order,
        // then rotate it to start at the earliest listed layer.
        std::vector<int> loop(std::find(stack.begin(), stack.end(), u), stack.end());
        std::reverse(loop.begin(), loop.end());
        std::rotate(loop.begin(), std::min_element(loop.begin(), loop.end()), loop.end());
        for (int x : loop) cycle += entries[x].name + " -> ";
        cycle += entries[loop.front()].name;
        return true;
      }
      if (color[u] == White && visit(u)) return true;
    }
    stack.pop_back();
    color[v] = Black;
    return false;
  };
  for (size_t v = 0; v < entries.size(); ++v)
    if (color[v] == White && visit(static_cast<int>(v))) return cycle;
  return "";
}

}  // namespace

std::vector<LayerEntry> checked_layer_entries(const ModelSpec& spec) {
  std::vector<LayerEntry> entries = read_entries(spec);
  const std::vector<std::vector<int>> inputs = resolve_inputs(entries, spec.where);
  for (size_t i = 0; i < entries.size(); ++i) entries[i].input_index = inputs[i];
  if (const std::string cycle = find_cycle(entries, inputs); !cycle.empty())
    throw ConfigError(spec.where + ": the layers form a cycle: " + cycle);
  for (size_t i = 0; i < entries.size(); ++i)
    for (size_t j = 0; j < inputs[i].size(); ++j)
      if (inputs[i][j] >= static_cast<int>(i))
        throw ConfigError(yaml_location(spec.where, entries[i].node) + ": layer '" +
                          entries[i].name + "' takes input '" + entries[i].inputs[j] +
                          "', which is listed after it; list every layer after its inputs");

  std::vector<bool> used(entries.size(), false);
  for (const auto& in : inputs)
    for (int s : in)
      if (s >= 0) used[s] = true;
  for (size_t i = 0; i + 1 < entries.size(); ++i)
    if (!used[i])
      throw ConfigError(yaml_location(spec.where, entries[i].node) + ": the output of layer '" +
                        entries[i].name + "' is never used (the last layer, '" +
                        entries.back().name + "', is the model's output)");
  return entries;
}

void check_model_description(const YAML::Node& model, const std::string& where) {
  const ModelSpec spec = parse_model_section(model, where, /*require_num_classes=*/false);
  for (const LayerEntry& e : checked_layer_entries(spec)) {
    // Constructing a layer reads (and so checks) every argument; finish() rejects the rest.
    LayerArgs args(e.node, spec.where, e.name);
    args.mark_used("name");
    args.mark_used("inputs");
    create_layer(e.type, args);
  }
}

}  // namespace te
