#include "engine/export/export_source.h"

#include <map>

#include "engine/export/model_topology.h"
#include "engine/io/safetensors.h"

namespace te {

ExportSource load_export_source(const std::string& weights_path) {
  std::map<std::string, std::string> metadata;
  const std::vector<NamedTensor> tensors = load_safetensors(weights_path, &metadata);
  ExportSource s;
  s.info = ModelInfo::from_metadata(metadata, weights_path);
  GraphOptions options;
  options.initialize = false;
  options.inference_only = true;
  options.fuse = false;  // export the layers as written; names and state dict are the same
  s.graph = Graph::build(s.info.model, weights_path, s.info.input_chw, options);
  s.graph->load_state_dict(tensors);
  s.inputs = layer_inputs(s.info.model, weights_path, *s.graph);
  return s;
}

}  // namespace te
