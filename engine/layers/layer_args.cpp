#include "engine/layers/layer_args.h"

#include "engine/core/error.h"
#include "engine/core/suggest.h"

namespace te {

LayerArgs::LayerArgs(YAML::Node node, std::string where, std::string layer_name)
    : node_(std::move(node)), where_(std::move(where)), layer_name_(std::move(layer_name)) {}

std::string LayerArgs::location(const std::string& key) const {
  std::string loc = where_;
  YAML::Node at = node_;
  if (!key.empty() && node_.IsMap() && node_[key]) at = node_[key];
  const YAML::Mark mark = at.Mark();
  if (mark.line >= 0) loc += (loc.empty() ? "line " : ":") + std::to_string(mark.line + 1);
  if (!loc.empty()) loc += ": ";
  loc += "layer '" + layer_name_ + "'";
  if (!key.empty()) loc += ", key '" + key + "'";
  return loc;
}

void LayerArgs::fail(const std::string& key, const std::string& message) const {
  throw ConfigError(location(key) + ": " + message);
}

bool LayerArgs::has(const std::string& key) const {
  used_.insert(key);
  return node_.IsMap() && static_cast<bool>(node_[key]);
}

YAML::Node LayerArgs::value(const std::string& key, const char* expected) const {
  used_.insert(key);
  if (!node_.IsMap() || !node_[key]) fail(key, std::string("missing required key (expected ") + expected + ")");
  return node_[key];
}

int64_t LayerArgs::get_int(const std::string& key) {
  const YAML::Node v = value(key, "an integer");
  try {
    return v.as<int64_t>();
  } catch (const YAML::Exception&) {
    fail(key, "expected an integer, got '" + YAML::Dump(v) + "'");
  }
}

int64_t LayerArgs::get_int(const std::string& key, int64_t fallback) {
  return has(key) ? get_int(key) : fallback;
}

double LayerArgs::get_float(const std::string& key, double fallback) {
  if (!has(key)) return fallback;
  const YAML::Node v = node_[key];
  try {
    return v.as<double>();
  } catch (const YAML::Exception&) {
    fail(key, "expected a number, got '" + YAML::Dump(v) + "'");
  }
}

bool LayerArgs::get_bool(const std::string& key, bool fallback) {
  if (!has(key)) return fallback;
  const YAML::Node v = node_[key];
  try {
    return v.as<bool>();
  } catch (const YAML::Exception&) {
    fail(key, "expected true or false, got '" + YAML::Dump(v) + "'");
  }
}

std::string LayerArgs::get_string(const std::string& key, const std::string& fallback) {
  if (!has(key)) return fallback;
  const YAML::Node v = node_[key];
  if (!v.IsScalar()) fail(key, "expected a string");
  return v.as<std::string>();
}

std::pair<int64_t, int64_t> LayerArgs::get_pair(const std::string& key) {
  const YAML::Node v = value(key, "an integer or a list [h, w]");
  try {
    if (v.IsScalar()) {
      const int64_t x = v.as<int64_t>();
      return {x, x};
    }
    if (v.IsSequence() && v.size() == 2) return {v[0].as<int64_t>(), v[1].as<int64_t>()};
  } catch (const YAML::Exception&) {
  }
  fail(key, "expected an integer or a list of two integers [h, w], got '" + YAML::Dump(v) + "'");
}

std::pair<int64_t, int64_t> LayerArgs::get_pair(const std::string& key,
                                                 std::pair<int64_t, int64_t> fallback) {
  return has(key) ? get_pair(key) : fallback;
}

void LayerArgs::finish(const std::string& layer_type) const {
  if (!node_.IsMap()) return;
  std::vector<std::string> known(used_.begin(), used_.end());
  for (const auto& kv : node_) {
    const std::string key = kv.first.as<std::string>();
    if (used_.count(key)) continue;
    const std::string guess = closest_match(key, known);
    fail(key, "unknown key for a " + layer_type + " layer" +
                  (guess.empty() ? "" : "; did you mean '" + guess + "'?") +
                  " (known keys: " + join(known) + ")");
  }
}

}  // namespace te
