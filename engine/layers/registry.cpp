#include "engine/layers/registry.h"

#include <map>

#include "engine/core/error.h"
#include "engine/core/suggest.h"
// Layer headers (one line each, alphabetical).
#include "engine/layers/activation.h"
#include "engine/layers/add.h"
#include "engine/layers/avg_pool2d.h"
#include "engine/layers/batchnorm2d.h"
#include "engine/layers/batchnorm_act.h"
#include "engine/layers/concat.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/dropout.h"
#include "engine/layers/flatten.h"
#include "engine/layers/global_avg_pool.h"
#include "engine/layers/linear.h"
#include "engine/layers/max_pool2d.h"

namespace te {
namespace {

template <typename L>
LayerFactory make() {
  return [](LayerArgs& args) -> std::unique_ptr<Layer> { return std::make_unique<L>(args); };
}

const std::map<std::string, LayerFactory>& factories() {
  // Each layer's constructor reads its own keys from LayerArgs.
  static const std::map<std::string, LayerFactory> table = {
      // {"type", make<Class>()},  one line per layer type, alphabetical
      {"add", make<Add>()},
      {"avgpool2d", make<AvgPool2d>()},
      {"batchnorm2d", make<BatchNorm2d>()},
      {"batchnorm2d_act", make<BatchNormAct>()},
      {"concat", make<Concat>()},
      {"conv2d", make<Conv2d>()},
      {"dropout", make<Dropout>()},
      {"flatten", make<Flatten>()},
      {"gelu", make<GELU>()},
      {"global_avg_pool", make<GlobalAvgPool>()},
      {"linear", make<Linear>()},
      {"maxpool2d", make<MaxPool2d>()},
      {"relu", make<ReLU>()},
      {"silu", make<SiLU>()},
  };
  return table;
}

}  // namespace

std::vector<std::string> layer_types() {
  std::vector<std::string> out;
  for (const auto& kv : factories()) out.push_back(kv.first);
  return out;
}

std::unique_ptr<Layer> create_layer(const std::string& type, LayerArgs& args) {
  const auto& table = factories();
  const auto it = table.find(type);
  if (it == table.end()) {
    const std::string guess = closest_match(type, layer_types());
    throw ConfigError(args.location("type") + ": unknown layer type '" + type + "'" +
                      (guess.empty() ? "" : "; did you mean '" + guess + "'?") +
                      " (known types: " + join(layer_types()) + ")");
  }
  args.mark_used("type");
  std::unique_ptr<Layer> layer = it->second(args);
  layer->set_name(args.layer_name());
  args.finish(type);
  return layer;
}

}  // namespace te
