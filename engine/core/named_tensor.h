#pragma once
// A tensor with its state-dict name ("layer1.0.conv1.weight"): the unit of checkpoints.
#include <string>

#include "engine/core/tensor.h"

namespace te {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

}  // namespace te
