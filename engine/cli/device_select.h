#pragma once
// `--device cpu|cuda[:N]|auto`: which device a command runs on. cuda fails with the reason when
// no GPU (or no CUDA backend) is usable, or when the model's operations have no CUDA kernels in
// this build; auto takes the GPU when all of that works and otherwise falls back to the CPU,
// logging why.
#include <yaml-cpp/yaml.h>

#include <string>

#include "engine/core/device.h"

namespace te::cli {

// `model` (may be undefined) is the model description whose operations are tried on the GPU
// with a tiny batch, so a missing kernel shows up now rather than at the first training step.
Device select_device(const std::string& request, const YAML::Node& model = YAML::Node());

// Applies train.deterministic and train.allow_tf32 to the CUDA backend (logged); no-op on the CPU,
// whose kernels are deterministic and always full fp32.
void configure_gpu_numerics(Device device, bool deterministic, bool allow_tf32);

}  // namespace te::cli
