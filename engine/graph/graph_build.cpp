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
#include "engine/graph/model_check.h"
#include "engine/graph/model_spec.h"
#include "engine/layers/registry.h"

namespace te {
namespace {

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

  std::vector<LayerEntry> entries = checked_layer_entries(spec);
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
  auto create_nodes = [&](const std::vector<LayerEntry>& list) {
    g->nodes_.clear();
    outputs.clear();
    const Shape batch1 = g->batched_input(1);
    for (const LayerEntry& e : list) {
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
    std::vector<LayerEntry> fused = fuse_batchnorm_activation(entries);
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
