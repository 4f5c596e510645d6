#pragma once
// `--set key.path=value` on the command line: the dotted key and the value parsed as YAML (so
// `--set data.mean=[0.5]` gives a list and `--set optim.lr=0.05` a number).
#include <yaml-cpp/yaml.h>

#include <string>

namespace te {

struct ConfigOverride {
  std::string path;  // "optim.lr"
  YAML::Node value;
};

// Throws ConfigError when there is no '=' or the key is empty or the value is not valid YAML.
ConfigOverride parse_override(const std::string& text);

}  // namespace te
