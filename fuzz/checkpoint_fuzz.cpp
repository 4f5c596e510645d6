// What `trainer eval` and `trainer --resume` read: a weights file (first part) and a training
// state file (second part), both safetensors. Eval's path (load_model: metadata, model
// description, graph, state dict) and resume's (load_checkpoint: both files, optimizer
// buffers, training state) run on them as written to disk. Models whose description asks for
// large layers are only decoded, not built (their parameters would need gigabytes; that is a
// resource limit, not a parser fault). Three inputs in four get their checksums recomputed
// after mutation, so the fuzzer also reaches what lies behind the checksum check.
#include <yaml-cpp/yaml.h>

#include <cstring>
#include <map>

#include "engine/core/error.h"
#include "engine/graph/model_check.h"
#include "engine/io/safetensors.h"
#include "engine/io/safetensors_checksum.h"
#include "engine/optim/optimizer.h"
#include "engine/train/checkpoint.h"
#include "engine/train/model_info.h"
#include "fuzz_util.h"

namespace {

// True when every number in the description and the input shape is small.
bool small(const YAML::Node& n) {
  if (n.IsScalar()) {
    try {
      const double v = n.as<double>();
      return v <= 64 && v >= -64;
    } catch (const YAML::Exception&) {
      return true;  // not a number
    }
  }
  if (n.IsSequence() || n.IsMap())
    for (auto it = n.begin(); it != n.end(); ++it)
      if (!small(n.IsMap() ? it->second : *it)) return false;
  return true;
}

// Recomputes the checksum of a (mutated) safetensors file when it still has a checksum entry.
void reseal(std::string& bytes) {
  if (bytes.size() < 8) return;
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  if (header_len > bytes.size() - 8) return;
  try {
    te::seal_checksum(bytes, header_len);
  } catch (const te::Error&) {  // no checksum entry: left as it is
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  te::fuzz::quiet_logs();
  std::vector<std::string> parts = te::fuzz::split_input(data, size, 2);
  if (size % 4 != 0)
    for (auto& part : parts) reseal(part);
  const std::string dir = te::fuzz::fresh_scratch_dir();
  te::CheckpointFiles files;
  files.weights = dir + "/epoch-0001-step-0000001.safetensors";
  files.state = dir + "/epoch-0001-step-0000001.state.safetensors";
  te::fuzz::write_bytes(files.weights, parts[0]);
  te::fuzz::write_bytes(files.state, parts[1]);
  try {
    std::map<std::string, std::string> meta;
    te::decode_safetensors(parts[0], files.weights, &meta);
    const te::ModelInfo info = te::ModelInfo::from_metadata(meta, files.weights);
    te::check_model_description(info.model, files.weights);
    if (!small(info.model)) return 0;
    for (int64_t d : info.input_chw.dims())
      if (d > 64) return 0;
    te::LoadedModel model = te::load_model(files.weights, te::Device::cpu());
    for (const char* type : {"sgd", "adamw"}) {
      te::OptimizerConfig oc;
      oc.type = type;
      auto optimizer = te::make_optimizer(oc, model.graph->num_parameters(), te::Device::cpu());
      try {
        te::load_checkpoint(files, *model.graph, *optimizer);
      } catch (const te::Error&) {
      }
    }
  } catch (const te::Error&) {
  }
  return 0;
}
