// Shapes and memory at a given batch size, and the layer table `trainer info` prints.
#include <algorithm>

#include "engine/graph/graph.h"

namespace te {
namespace {

// 11689512 -> "11,689,512"
std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

// 4265148416 -> "4,067.6 MiB"
std::string mib(int64_t bytes) {
  const int64_t tenths = (bytes * 10 + (1 << 19)) >> 20;
  return with_commas(tenths / 10) + "." + std::to_string(tenths % 10) + " MiB";
}

std::string pad(const std::string& s, size_t width, bool right = false) {
  if (s.size() >= width) return s;
  return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

}  // namespace

Shape Graph::output_shape(int64_t batch) const { return shapes_at(batch).back(); }

int64_t Graph::activation_bytes(int64_t batch) const {
  const GraphMemory m = memory_at(batch);
  return m.arena_bytes + m.saved_bytes;
}

std::string Graph::summary(int64_t batch) const {
  const std::vector<Shape> shapes = shapes_at(batch);
  std::vector<std::vector<std::string>> rows = {{"layer", "type", "inputs", "output", "parameters"}};
  rows.push_back({"input", "", "", batched_input(batch).str(), ""});
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    // Show inputs only where they are not simply the previous layer (residual wiring).
    std::string inputs;
    const bool sequential = n.inputs.size() == 1 && n.inputs[0] == static_cast<int>(i) - 1;
    if (!sequential)
      for (size_t j = 0; j < n.inputs.size(); ++j)
        inputs += (j ? ", " : "") + (n.inputs[j] < 0 ? std::string("input") : nodes_[n.inputs[j]].name);
    rows.push_back({n.name, n.layer->type(), inputs, shapes[i].str(),
                    n.param_count ? with_commas(n.param_count) : "-"});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  std::string out;
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string line;
    for (size_t c = 0; c < rows[r].size(); ++c)
      line += pad(rows[r][c], width[c], c + 1 == rows[r].size()) + (c + 1 < rows[r].size() ? "  " : "");
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
    if (r == 0) out += std::string(line.size(), '-') + "\n";
  }
  int64_t buffer_elems = 0;
  for (const Node& n : nodes_)
    for (const Param& b : n.layer->buffers()) buffer_elems += b.shape.numel();
  const int64_t param_bytes = num_parameters() * static_cast<int64_t>(dtype_size(dtype_));
  out += "\nlayers: " + std::to_string(nodes_.size()) + "\n";
  out += "parameters: " + with_commas(num_parameters()) + " (" + mib(param_bytes) + " " +
         dtype_name(dtype_) + "; gradients the same)\n";
  out += "buffers: " + with_commas(buffer_elems) + " elements (running statistics, counters)\n";
  const GraphMemory m = memory_at(batch);
  const int64_t act = m.arena_bytes + m.saved_bytes;
  out += "activation memory at batch " + std::to_string(batch) + ": " + mib(act) + " (planned arena " +
         mib(m.arena_bytes) + " for " + std::to_string(m.buffers) + " outputs and gradients, " +
         mib(m.unplanned_bytes) + " without reuse; " + mib(m.saved_bytes) + " saved by layers)\n";
  out += "training memory at batch " + std::to_string(batch) + ": " + mib(2 * param_bytes + act) +
         " (parameters, gradients, activations; optimizer state adds 1x (SGD momentum) or 2x "
         "(AdamW) the parameters)\n";
  return out;
}

}  // namespace te
