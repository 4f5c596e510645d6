#pragma once
// The model description checked without any data: the `model:` keys (model_spec.h), the layer
// list's structure (names, inputs, listing order, cycles, unused outputs) and every layer's type
// and arguments. The config loader runs this so a wrong model key stops a run before a data set
// is opened; Graph::build runs the same checks and then the shapes, which need the input size.
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "engine/graph/layer_entry.h"
#include "engine/graph/model_spec.h"

namespace te {

// The layers of `spec` with resolved inputs; ConfigError naming file, line and layer for a
// broken structure.
std::vector<LayerEntry> checked_layer_entries(const ModelSpec& spec);

// ConfigError (file, line, key, what was expected) for anything wrong in `model` that does not
// depend on the data. `model.num_classes` may be absent (the trainer takes it from the data).
void check_model_description(const YAML::Node& model, const std::string& where);

}  // namespace te
