// Graph::build: from a model description to wired, shape-checked, parameter-bound layers.
// Checks run in the order a user fixes them: the list's structure (names, inputs, cycles,
// order), then each layer's type and arguments, then shapes.
#include <algorithm>
#include <functional>
#include <map>

#include "engine/core/error.h"
#include "engine/core/suggest.h"
#include "engine/graph/fusion.h"
#include "engine/graph/graph.h"
#include "engine/graph/model_spec.h"
#include "engine/layers/registry.h"

namespace te {
namespace {

constexpr const char* kInput = "input";

using Entry = LayerEntry;

std::string scalar_key(const YAML::Node& node, const char* key, const std::string& where,
                       size_t index) {
  const YAML::Node v = node[key];
  if (!v || !v.IsScalar() || v.as<std::string>().empty())
    throw ConfigError(yaml_location(where, node) + ": layer #" + std::to_string(index + 1) +
                      " needs a `" + key + "` (a string)");
  return v.as<std::string>();
}

std::vector<Entry> read_entries(const ModelSpec& spec) {
  std::vector<Entry> entries;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const YAML::Node node = spec.layers[i];
    if (!node.IsMap())
      throw ConfigError(yaml_location(spec.where, node) + ": layer #" + std::to_string(i + 1) +
                        " must be a mapping like {name: conv1, type: conv2d, ...}");
    Entry e;
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
std::vector<std::vector<int>> resolve_inputs(const std::vector<Entry>& entries,
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
std::string find_cycle(const std::vector<Entry>& entries, const std::vector<std::vector<int>>& in) {
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

std::string shapes_text(const std::vector<std::string>& names, const std::vector<Shape>& shapes) {
  std::string s;
  for (size_t i = 0; i < shapes.size(); ++i)
    s += (i ? ", " : "") + std::string("'") + names[i] + "' " + shapes[i].str();
  return s;
}

}  // namespace

std::unique_ptr<Graph> Graph::build(const YAML::Node& model, const std::string& where,
                                    const Shape& input_chw, const GraphOptions& options) {
  const ModelSpec spec = parse_model_section(model, where);
  if (input_chw.rank() == 0 || input_chw.numel() <= 0)
    throw ShapeError(where + ": the input sample shape " + input_chw.str() + " is empty");
  if (model["in_channels"] && input_chw.rank() == 3 && input_chw[0] != spec.in_channels)
    throw ConfigError(yaml_location(where, model["in_channels"]) + ": model.in_channels is " +
                      std::to_string(spec.in_channels) + " but the input samples are " +
                      input_chw.str());

  std::vector<Entry> entries = read_entries(spec);
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
  std::unique_ptr<Graph> g(new Graph());
  g->input_chw_ = input_chw;
  g->dtype_ = options.dtype;
  g->compute_dtype_ = options.compute_dtype.value_or(options.dtype);
  g->layout_ = options.channels_last ? Layout::NHWC : Layout::NCHW;
  g->device_ = options.device;
  g->inference_only_ = options.inference_only;
  g->reuse_memory_ = options.reuse_memory;
  g->poison_dead_memory_ = options.poison_dead_memory;
  // Creates the layers of `list` and infers their shapes at batch 1 (layers' shapes do not
  // depend on the batch size).
  std::vector<Shape> outputs;
  auto create_nodes = [&](const std::vector<Entry>& list) {
    g->nodes_.clear();
    outputs.clear();
    const Shape batch1 = g->batched_input(1);
    for (const Entry& e : list) {
      LayerArgs args(e.node, spec.where, e.name);
      args.mark_used("name");
      args.mark_used("inputs");
      Node node;
      node.name = e.name;
      node.inputs = e.input_index;
      node.listing_index = e.listing_index;
      node.layer = options.factory ? options.factory(e.type, args) : create_layer(e.type, args);
      node.layer->set_name(node.name);
      g->nodes_.push_back(std::move(node));
      Node& n = g->nodes_.back();
      const std::vector<Shape> in = g->input_shapes(outputs, batch1, n);
      try {
        outputs.push_back(n.layer->output_shape(in));
        n.layer->build(in);
      } catch (const ShapeError& err) {
        throw ShapeError(yaml_location(spec.where, e.node) + ": " + err.what() +
                         " (inputs at batch 1: " + shapes_text(e.inputs, in) + ")");
      }
    }
  };
  // Arguments and shapes are checked on the list as written, so every message speaks of the
  // user's layers; the fused list (fusion.h) is created afterwards from checked arguments.
  create_nodes(entries);
  if (options.fuse) {
    std::vector<Entry> fused = fuse_batchnorm_activation(entries);
    if (fused.size() != entries.size()) {
      entries = std::move(fused);
      create_nodes(entries);
    }
  }

  if (spec.num_classes > 0) {
    const Shape& out = outputs.back();
    if (out.rank() != 2 || out[1] != spec.num_classes)
      throw ShapeError(spec.where + ": the last layer '" + entries.back().name + "' outputs " +
                       out.str() + " at batch 1, but model.num_classes = " +
                       std::to_string(spec.num_classes) + " needs [1, " +
                       std::to_string(spec.num_classes) + "]");
  }

  g->listing_order_.resize(g->nodes_.size());
  for (size_t i = 0; i < g->nodes_.size(); ++i) g->listing_order_[i] = i;
  std::stable_sort(g->listing_order_.begin(), g->listing_order_.end(), [&](size_t a, size_t b) {
    return g->nodes_[a].listing_index < g->nodes_[b].listing_index;
  });
  g->bind_parameters();
  g->plan_backward();
  if (options.initialize) g->initialize(options.init_seed);
  return g;
}

}  // namespace te
