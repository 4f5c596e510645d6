// trainer_engine.Config: load_run_config / parse_run_config with `--set`-style overrides.
#include "bindings/src/config.h"

#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings/src/bindings.h"
#include "bindings/src/convert.h"

namespace te::py {
namespace {

PyConfig checked(PyConfig c) {
  c.parse();  // ConfigError now rather than at train()
  return c;
}

}  // namespace

void register_config(nb::module_& m) {
  nb::class_<PyConfig>(m, "Config",
                       "A checked run config (the YAML `trainer --config` reads) with overrides.")
      .def_static(
          "from_file",
          [](const std::filesystem::path& path, const std::vector<std::string>& overrides) {
            require_path(path.string(), "config");
            return checked(PyConfig{path.string(), "", "", overrides});
          },
          nb::arg("path"), nb::arg("overrides") = std::vector<std::string>{},
          "Reads a YAML config; overrides are 'key.path=value' strings like --set.")
      .def_static(
          "from_yaml",
          [](const std::string& text, const std::vector<std::string>& overrides, const std::string& where) {
            return checked(PyConfig{"", text, where, overrides});
          },
          nb::arg("text"), nb::arg("overrides") = std::vector<std::string>{},
          nb::arg("where") = "<string>", "Parses YAML text; `where` names it in messages.")
      .def_static(
          "from_dict",
          [](nb::dict d, const std::vector<std::string>& overrides) {
            YAML::Emitter out;
            out << to_yaml(d);
            return checked(PyConfig{"", out.c_str(), "<dict>", overrides});
          },
          nb::arg("config"), nb::arg("overrides") = std::vector<std::string>{},
          "A config from nested dicts (the YAML file's structure).")
      .def(
          "with_overrides",
          [](const PyConfig& c, const std::vector<std::string>& more) {
            PyConfig n = c;
            n.overrides.insert(n.overrides.end(), more.begin(), more.end());
            return checked(std::move(n));
          },
          nb::arg("overrides"), "A copy with more 'key.path=value' overrides applied after these.")
      .def_prop_ro("path", [](const PyConfig& c) { return c.path; }, "The YAML file ('' if none).")
      .def_prop_ro("overrides", [](const PyConfig& c) { return c.overrides; })
      .def_prop_ro("resolved_yaml", [](const PyConfig& c) { return c.parse().resolved_yaml(); },
                   "Every key with its final value (what config.resolved.yaml gets).")
      .def("__repr__", [](const PyConfig& c) {
        return "Config(" + (c.path.empty() ? c.where : "'" + c.path + "'") +
               (c.overrides.empty() ? "" : ", " + std::to_string(c.overrides.size()) + " overrides") + ")";
      });
}

}  // namespace te::py
