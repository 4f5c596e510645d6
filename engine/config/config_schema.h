#pragma once
// The keys a run config may contain: their type, default, allowed range or choices. One table
// drives validation, default filling, `--set` overrides and the "did you mean" suggestions, so a
// new key is one line in config_schema.cpp plus the field that reads it.
#include <limits>
#include <string>
#include <vector>

namespace te {

enum class ConfigKind {
  Int,
  Float,
  Bool,
  String,     // free text (paths, names)
  Choice,     // one of `choices`
  FloatList,  // [a, b, ...] of numbers (normalisation mean/std, betas)
  IntList,    // [a, b, ...] of integers (schedule milestones)
  StringList, // [a, b, ...] of non-empty strings (class names)
  Model,      // the model description: a mapping checked by the graph builder, not here
};

struct ConfigKey {
  std::string path;           // "optim.lr"
  ConfigKind kind;
  std::string default_yaml;   // YAML text of the default; "" = none (absent unless required)
  bool required = false;
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;  // "> min" instead of ">= min"
  bool max_exclusive = false;
  std::vector<std::string> choices;
  std::string help;            // one phrase, used in "missing required key" messages
  std::vector<std::string> aliases;  // names users write from other tools ("learning_rate")
};

// Every key of the run config, in the order the resolved config lists them.
const std::vector<ConfigKey>& run_config_schema();

// The key with this exact dotted path, or nullptr.
const ConfigKey* find_config_key(const std::string& path);

// Names directly below `section` ("" for the top level): "optim" -> {type, lr, momentum, ...}.
std::vector<std::string> config_children(const std::string& section);

// The child of `section` closest to the unknown `name` (also through the keys' aliases, so
// `learning_rat` finds `lr`), or "" when nothing is plausible.
std::string suggest_config_child(const std::string& section, const std::string& name);

// True when `path` is a section (a prefix of some key), e.g. "data" or "data.augment".
bool is_config_section(const std::string& path);

// "a number > 0", "an integer in [1, 4096]", "one of sgd, adamw" for messages.
std::string describe_expected(const ConfigKey& key);

}  // namespace te
