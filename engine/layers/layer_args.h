#pragma once
// The arguments of one layer as written in a model description (YAML), with typed, strict
// access: every read is recorded, and finish() rejects keys the layer did not read, suggesting
// the closest known key. Errors name the source file, line, layer and key.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace te {

class LayerArgs {
 public:
  // `node` is the layer's mapping; `where` is e.g. "configs/x.yaml" (may be empty);
  // `layer_name` is the layer's name for messages.
  LayerArgs(YAML::Node node, std::string where, std::string layer_name);

  bool has(const std::string& key) const;
  int64_t get_int(const std::string& key);
  int64_t get_int(const std::string& key, int64_t fallback);
  double get_float(const std::string& key, double fallback);
  bool get_bool(const std::string& key, bool fallback);
  std::string get_string(const std::string& key, const std::string& fallback);
  // An int or a list of two ints ([h, w]); a single int is used for both.
  std::pair<int64_t, int64_t> get_pair(const std::string& key, std::pair<int64_t, int64_t> fallback);
  std::pair<int64_t, int64_t> get_pair(const std::string& key);

  // Marks keys that the graph itself consumes (name, type, inputs).
  void mark_used(const std::string& key) { used_.insert(key); }
  // Throws ConfigError for any key that was never read.
  void finish(const std::string& layer_type) const;

  // "configs/x.yaml:12: layer 'conv1'" — a prefix for error messages.
  std::string location(const std::string& key = "") const;
  const std::string& layer_name() const { return layer_name_; }

 private:
  YAML::Node value(const std::string& key, const char* expected) const;
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

  YAML::Node node_;
  std::string where_;
  std::string layer_name_;
  mutable std::set<std::string> used_;
};

}  // namespace te
