#include "bindings/src/convert.h"

#include "bindings/src/bindings.h"

#include <string>

namespace te::py {

YAML::Node to_yaml(nb::handle value, const std::string& key) {
  const std::string where = key.empty() ? "the config" : "config key '" + key + "'";
  if (value.is_none()) return YAML::Node(YAML::NodeType::Null);
  if (PyBool_Check(value.ptr())) return YAML::Node(value.ptr() == Py_True);  // before int: bool is an int
  if (PyLong_Check(value.ptr())) return YAML::Node(nb::cast<int64_t>(value));
  if (PyFloat_Check(value.ptr())) return YAML::Node(nb::cast<double>(value));
  if (PyUnicode_Check(value.ptr())) return YAML::Node(nb::cast<std::string>(value));
  if (nb::hasattr(value, "__fspath__")) return YAML::Node(nb::cast<std::string>(value.attr("__fspath__")()));
  if (PyDict_Check(value.ptr())) {
    YAML::Node map(YAML::NodeType::Map);
    for (auto [k, v] : nb::borrow<nb::dict>(value)) {
      if (!PyUnicode_Check(k.ptr()))
        throw nb::type_error((where + ": keys must be strings, got " +
                              text_of(nb::repr(k))).c_str());
      const std::string name = nb::cast<std::string>(k);
      map[name] = to_yaml(v, key.empty() ? name : key + "." + name);
    }
    return map;
  }
  if (PyList_Check(value.ptr()) || PyTuple_Check(value.ptr())) {
    YAML::Node seq(YAML::NodeType::Sequence);
    size_t i = 0;
    for (nb::handle v : value) seq.push_back(to_yaml(v, key + "[" + std::to_string(i++) + "]"));
    return seq;
  }
  throw nb::type_error((where + ": expected a dict, list, str, number, bool or None, got " +
                        text_of(value.type().attr("__name__")))
                           .c_str());
}

nb::object to_python(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null: return nb::none();
    case nlohmann::json::value_t::boolean: return nb::bool_(v.get<bool>());
    case nlohmann::json::value_t::number_integer: return nb::int_(v.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: return nb::int_(v.get<uint64_t>());
    case nlohmann::json::value_t::number_float: return nb::float_(v.get<double>());
    case nlohmann::json::value_t::string: return nb::str(v.get<std::string>().c_str());
    case nlohmann::json::value_t::array: {
      nb::list out;
      for (const auto& x : v) out.append(to_python(x));
      return out;
    }
    case nlohmann::json::value_t::object: {
      nb::dict out;
      for (auto it = v.begin(); it != v.end(); ++it) out[it.key().c_str()] = to_python(it.value());
      return out;
    }
    default: return nb::none();
  }
}

}  // namespace te::py
