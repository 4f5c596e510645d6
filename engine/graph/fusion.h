#pragma once
// Layer fusion on the layer list, before layers are created.
//
//   batchnorm2d -> relu                    becomes  batchnorm2d_act {activation: relu}
//   batchnorm2d -> add(·, other) -> relu   becomes  batchnorm2d_act {activation: relu, residual: true}
//                                                   with inputs [bn's input, other]
//
// Each fused layer does in one pass over memory what took two or three, forward and backward
// (the normalised tensor and the sum are never written). Peak memory is unchanged: the memory
// plan already frees those tensors as soon as the ReLU has read them. A chain is fused only where the intermediate
// tensors have no other consumer. The fused layer takes the batch norm's name and arguments,
// so parameter names, checkpoints and initial values do not change; consumers of the relu
// read the fused layer. The fused layer sits where the relu was, after every input it needs.
#include <vector>

#include "engine/graph/layer_entry.h"

namespace te {

std::vector<LayerEntry> fuse_batchnorm_activation(const std::vector<LayerEntry>& entries);

}  // namespace te
