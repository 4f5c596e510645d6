// The model section is checked by the config loader like every other key (issue 14): presets
// and layer lists, file, line, key, what was expected, suggestions; --set model.* too.
#include <gtest/gtest.h>

#include "engine/config/run_config.h"
#include "engine/core/error.h"

namespace te {
namespace {

const char* kData = "data:\n  train: /nonexistent/train\n";

std::string model_error(const std::string& model_yaml,
                        const std::vector<std::string>& overrides = {}) {
  try {
    parse_run_config(std::string(kData) + model_yaml, "run.yaml", overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError for:\n" << model_yaml;
  return "";
}

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST(ModelSection, PresetWordForNumClassesNamesLineKeyAndExpectation) {
  // The known defect: this reached yaml-cpp's "bad conversion" after the data was opened.
  const std::string e = model_error("model: {preset: resnet18, num_classes: two}\n");
  EXPECT_HAS(e, "run.yaml:3: key 'model.num_classes'");
  EXPECT_HAS(e, "expected a positive integer, got 'two'");
}

TEST(ModelSection, PresetKeysAreCheckedOneByOne) {
  EXPECT_HAS(model_error("model: {preset: resnet81, num_classes: 2}\n"), "did you mean 'resnet18'");
  EXPECT_HAS(model_error("model: {preset: resnet18, num_clases: 2}\n"),
             "key 'model.num_clases': unknown key; did you mean 'num_classes'");
  EXPECT_HAS(model_error("model: {preset: resnet18, in_channels: 0}\n"), "key 'model.in_channels'");
  EXPECT_HAS(model_error("model: {preset: resnet9, width: wide}\n"), "key 'model.width'");
  EXPECT_HAS(model_error("model: {preset: resnet18, width: 2}\n"), "has a fixed width");
  EXPECT_HAS(model_error("model: {preset: [resnet18]}\n"), "key 'model.preset'");
  EXPECT_HAS(model_error("model: {[preset]: resnet18}\n"), "expected key names");
}

TEST(ModelSection, PresetWithoutNumClassesIsValidBeforeTheDataIsKnown) {
  const RunConfig c = parse_run_config(std::string(kData) + "model: {preset: resnet9}\n", "run.yaml");
  EXPECT_FALSE(c.model["num_classes"]);  // the trainer fills it from the data
}

TEST(ModelSection, LayerListArgumentsAreChecked) {
  const std::string layers =
      "model:\n"
      "  layers:\n"
      "    - {name: conv1, type: conv2d, out_channels: 8, kernel: three}\n"
      "    - {name: fc, type: linear, out_features: 2}\n";
  const std::string e = model_error(layers);
  EXPECT_HAS(e, "run.yaml:5");
  EXPECT_HAS(e, "layer 'conv1', key 'kernel'");

  EXPECT_HAS(model_error("model:\n  layers:\n    - {name: c, type: conv2dd, out_channels: 8, kernel: 3}\n"),
             "did you mean 'conv2d'");
  EXPECT_HAS(model_error("model:\n  layers:\n    - {name: c, type: relu, slope: 3}\n"),
             "'slope'");
  EXPECT_HAS(model_error("model:\n  layers:\n    - {name: a, type: relu}\n    - {name: b, type: relu, inputs: [x]}\n"),
             "takes input 'x', which is not a layer");
  EXPECT_HAS(model_error("model:\n  layers:\n    - {name: a, type: relu}\n    - {name: a, type: relu}\n"),
             "duplicate layer name 'a'");
  EXPECT_HAS(model_error("model:\n  layers: 3\n"), "key 'model.layers'");
  EXPECT_HAS(model_error("model:\n  layers:\n    - relu\n"), "must be a mapping");
}

TEST(ModelSection, OverridesOfModelKeysGoThroughTheSameChecks) {
  const std::string ok = "model: {preset: resnet18, num_classes: 2}\n";
  EXPECT_HAS(model_error(ok, {"model.num_classes=two"}), "key 'model.num_classes'");
  EXPECT_HAS(model_error(ok, {"model.preset=resnet1"}), "model.preset");
  EXPECT_HAS(model_error(ok, {"model.depth=3"}), "key 'model.depth': unknown key");
  EXPECT_NO_THROW(parse_run_config(std::string(kData) + ok, "run.yaml", {"model.num_classes=5"}));
}

}  // namespace
}  // namespace te
