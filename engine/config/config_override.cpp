#include "engine/config/config_override.h"

#include "engine/core/error.h"

namespace te {

ConfigOverride parse_override(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set " + text + ": expected KEY.PATH=VALUE, e.g. --set optim.lr=0.05");
  ConfigOverride o;
  o.path = text.substr(0, eq);
  const std::string value = text.substr(eq + 1);
  try {
    o.value = value.empty() ? YAML::Node(YAML::NodeType::Null) : YAML::Load(value);
  } catch (const YAML::Exception& e) {
    throw ConfigError("--set " + text + ": the value is not valid YAML (" + e.msg + ")");
  }
  return o;
}

}  // namespace te
