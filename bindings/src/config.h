#pragma once
// A run config as Python holds it: where it comes from (a file, or YAML text made from a dict)
// plus the overrides. Parsed (and so checked) when made, and again whenever a run needs a
// fresh RunConfig (the trainer fills the model section in place, so none is shared).
#include <string>
#include <vector>

#include "engine/config/run_config.h"

namespace te::py {

struct PyConfig {
  std::string path;  // the YAML file, or "" when built from text
  std::string text;  // YAML text when path is ""
  std::string where;  // names the text in messages ("<dict>")
  std::vector<std::string> overrides;  // "key.path=value", applied in order

  RunConfig parse() const {
    return path.empty() ? parse_run_config(text, where, overrides) : load_run_config(path, overrides);
  }
};

}  // namespace te::py
