#pragma once
// Shared pieces of the export tests: models with realistic weights saved as checkpoints, the
// real images they are compared on, our eval-mode logits, and running `trainer` and the
// ONNX Runtime check script (check_onnx.py).
#include <cstdint>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "engine/core/tensor.h"
#include "engine/train/model_info.h"

namespace te::testing {

constexpr const char* kFashionMnist = "/usr/share/datasets/fashion-mnist";

// A fresh directory under the test temp dir, removed when the program ends
// (TE_KEEP_TEST_DIRS=1 keeps it).
std::string fresh_dir(const std::string& name);

// `count` Fashion-MNIST test images from `first` on as uint8 NHWC [count, 28, 28, channels]:
// channel c of image i is test image first + i * channels + c, so 3-channel inputs are real
// images whose channels differ. Fails the test (DataError) when the data set is missing.
Tensor fashion_images(int64_t first, int64_t count, int64_t channels);

// The model described by `model` (num_classes and in_channels set) at 28x28, initialised from
// `seed`, its batch-norm scales and shifts drawn away from 1 and 0, then its running
// statistics calibrated by training-mode forwards over real images (so eval-mode activations
// stay in a realistic range), saved as a weights file like the trainer's. Returns its path.
std::string make_checkpoint(const std::string& dir, const YAML::Node& model, uint64_t seed);

// Normalised float input [N, C, 28, 28] for the images (the checkpoint's mean/std).
Tensor normalized_input(const ModelInfo& info, const Tensor& images_u8);
// Our eval-mode logits for `input`: the checkpoint loaded as `trainer eval` loads it (fused).
Tensor our_logits(const std::string& weights, const Tensor& input);

void write_floats(const std::string& path, const Tensor& t);
void write_text(const std::string& path, const std::string& text);

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs a shell command line, capturing its output.
CommandResult run_shell(const std::string& command);
std::string trainer_binary();
std::string quote(const std::string& s);

}  // namespace te::testing
