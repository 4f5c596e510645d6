#pragma once
// Python values <-> YAML nodes (configs given as dicts) and JSON records -> Python dicts
// (callback metrics, epoch history).
#include <nanobind/nanobind.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

namespace te::py {

namespace nb = nanobind;

// dict / list / tuple / str / os.PathLike / bool / int / float / None. TypeError naming the key
// path for anything else.
YAML::Node to_yaml(nb::handle value, const std::string& key = "");
nb::object to_python(const nlohmann::json& value);

}  // namespace te::py
