#include "engine/train/model_info.h"

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/io/json_numbers.h"
#include "engine/io/safetensors.h"

namespace te {
namespace {
std::string floats_json(const std::vector<float>& v) { return nlohmann::json(v).dump(); }
}  // namespace

std::vector<float> default_mean(int64_t channels) {
  if (channels == 3) return {0.485f, 0.456f, 0.406f};
  return std::vector<float>(static_cast<size_t>(channels), 0.5f);
}
std::vector<float> default_std(int64_t channels) {
  if (channels == 3) return {0.229f, 0.224f, 0.225f};
  return std::vector<float>(static_cast<size_t>(channels), 0.5f);
}

std::map<std::string, std::string> ModelInfo::to_metadata() const {
  YAML::Emitter e;
  e << YAML::Flow << model;
  std::map<std::string, std::string> m;
  m["te.model"] = e.c_str();
  m["te.input_chw"] = nlohmann::json(input_chw.dims()).dump();
  m["te.class_names"] = nlohmann::json(class_names).dump();
  m["te.mean"] = floats_json(mean);
  m["te.std"] = floats_json(std);
  m["te.resize_ratio"] = nlohmann::json(resize_ratio).dump();
  m["format"] = "pt";  // what safetensors' PyTorch loader expects to see
  return m;
}

ModelInfo ModelInfo::from_metadata(const std::map<std::string, std::string>& m,
                                   const std::string& source) {
  auto get = [&](const char* key) -> const std::string& {
    auto it = m.find(key);
    if (it == m.end())
      throw IoError(source + ": no '" + key + "' in the metadata; this weights file was not "
                    "written by `trainer` (eval and predict need the model description)");
    return it->second;
  };
  ModelInfo info;
  try {
    info.model = YAML::Load(get("te.model"));
    info.input_chw = Shape(json_int64_list(nlohmann::json::parse(get("te.input_chw"))));
    info.class_names = nlohmann::json::parse(get("te.class_names")).get<std::vector<std::string>>();
    info.mean = json_float_list(nlohmann::json::parse(get("te.mean")));
    info.std = json_float_list(nlohmann::json::parse(get("te.std")));
    info.resize_ratio = nlohmann::json::parse(get("te.resize_ratio")).get<double>();
  } catch (const IoError&) {
    throw;
  } catch (const std::exception& e) {
    throw IoError(source + ": malformed model metadata (" + e.what() + ")");
  }
  if (info.input_chw.rank() != 3)
    throw IoError(source + ": te.input_chw must have 3 dimensions, got " + info.input_chw.str());
  return info;
}

LoadedModel load_model(const std::string& weights_path, Device device) {
  std::map<std::string, std::string> metadata;
  const std::vector<NamedTensor> tensors = load_safetensors(weights_path, &metadata);
  LoadedModel out;
  out.info = ModelInfo::from_metadata(metadata, weights_path);
  GraphOptions options;
  options.initialize = false;
  options.inference_only = true;  // eval and predict: activations freed as soon as they are read
  out.graph = Graph::build(out.info.model, weights_path, out.info.input_chw, options);
  out.graph->load_state_dict(tensors);
  out.graph->to(device);
  return out;
}

}  // namespace te
