#pragma once
// Creates layers by type name. Every layer type is registered in registry.cpp (one line each),
// so adding a layer means: its header and source, its kernels, one test entry, one line there.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/layers/layer.h"
#include "engine/layers/layer_args.h"

namespace te {

using LayerFactory = std::function<std::unique_ptr<Layer>(LayerArgs&)>;

// Throws ConfigError listing the known types (and the closest one) for an unknown type.
std::unique_ptr<Layer> create_layer(const std::string& type, LayerArgs& args);
std::vector<std::string> layer_types();

}  // namespace te
