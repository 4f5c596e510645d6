#include "engine/export/onnx_metadata.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace te {
namespace {
// Each float as its shortest decimal form (0.286f -> 0.286, not 0.28600001335144043), which is
// what the config said and what a reader of the metadata expects to see.
nlohmann::json shortest(const std::vector<float>& v) {
  nlohmann::json out = nlohmann::json::array();
  for (float x : v) out.push_back(std::stod(fmt::format("{}", x)));
  return out;
}
}  // namespace

std::map<std::string, std::string> onnx_metadata(const ModelInfo& info) {
  std::map<std::string, std::string> m;
  m["input_mean"] = shortest(info.mean).dump();
  m["input_std"] = shortest(info.std).dump();
  m["image_size"] = nlohmann::json(std::vector<int64_t>{info.input_chw[1], info.input_chw[2]}).dump();
  m["channels"] = std::to_string(info.input_chw[0]);
  m["resize_ratio"] = nlohmann::json(info.resize_ratio).dump();
  m["class_names"] = nlohmann::json(info.class_names).dump();
  m["input_layout"] = "NCHW";
  m["preprocessing"] =
      "decode to RGB (or gray for 1 channel); resize the shorter side to image_size / resize_ratio; "
      "centre-crop image_size; x = (pixel / 255 - input_mean[c]) / input_std[c]; NCHW float32";
  return m;
}

}  // namespace te
