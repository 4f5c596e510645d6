// Numbers in checkpoint metadata that do not fit their type (found by fuzz_checkpoint and
// fuzz_shards): a float where an integer belongs was cast with undefined behaviour (1.7e83) or
// truncated silently (2.5 -> 2); a double beyond float range became inf. All are refused,
// naming the file.
#include <gtest/gtest.h>

#include <map>

#include "engine/core/error.h"
#include "engine/train/model_info.h"
#include "engine/train/training_state.h"

namespace te {
namespace {

std::string io_error(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

TEST(HostileMetadata, TrainingStateIntegersMustBeIntegers) {
  TrainingState s;
  s.epoch = 2;
  std::string text = s.to_json();
  EXPECT_NO_THROW(TrainingState::from_json(text, "s.safetensors"));
  for (const std::string bad : {"2.5", "1.7e83", "\"2\""}) {
    std::string t = text;
    t.replace(t.find("\"epoch\":2"), 9, "\"epoch\":" + bad);
    const std::string e = io_error([&] { TrainingState::from_json(t, "s.safetensors"); });
    EXPECT_NE(e.find("s.safetensors: malformed training state"), std::string::npos) << bad << ": " << e;
  }
}

std::map<std::string, std::string> model_metadata() {
  ModelInfo info;
  info.model = YAML::Load("{preset: simple_cnn, num_classes: 2, in_channels: 1}");
  info.input_chw = Shape{1, 28, 28};
  info.class_names = {"a", "b"};
  info.mean = {0.5f};
  info.std = {0.25f};
  return info.to_metadata();
}

TEST(HostileMetadata, ModelInfoNumbersMustFitTheirTypes) {
  EXPECT_NO_THROW(ModelInfo::from_metadata(model_metadata(), "w.safetensors"));
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"te.input_chw", "[1, 28.5, 28]"}, {"te.input_chw", "[1, 1.7e83, 28]"},
           {"te.mean", "[1e300]"}, {"te.std", "[0.25, 1e39]"}}) {
    auto meta = model_metadata();
    meta[key] = value;
    const std::string e = io_error([&] { ModelInfo::from_metadata(meta, "w.safetensors"); });
    EXPECT_NE(e.find("w.safetensors: malformed model metadata"), std::string::npos)
        << key << " = " << value << ": " << e;
  }
}

}  // namespace
}  // namespace te
