#pragma once
// One layer of a model's `layers:` list, read but not yet created (graph_build.cpp), so that
// passes such as fusion (fusion.h) can rewrite the list first.
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace te {

struct LayerEntry {
  std::string name, type;
  std::vector<std::string> inputs;  // names; "input" is the graph input
  std::vector<int> input_index;     // resolved: entry indices, -1 for the graph input
  YAML::Node node;                  // the layer's mapping: its arguments and its file position
  // The position in the list as written. Parameters are laid out, initialised and named in
  // this order, so a rewritten list keeps the flat layout, checkpoints and initial values.
  int listing_index = 0;
};

}  // namespace te
