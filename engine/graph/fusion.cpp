#include "engine/graph/fusion.h"

#include <algorithm>

namespace te {
namespace {

// A layer whose only keys are name, type and inputs (a relu or an add with no options).
bool has_no_arguments(const LayerEntry& e) {
  for (const auto& kv : e.node) {
    const std::string key = kv.first.as<std::string>();
    if (key != "name" && key != "type" && key != "inputs") return false;
  }
  return true;
}

}  // namespace

std::vector<LayerEntry> fuse_batchnorm_activation(const std::vector<LayerEntry>& entries) {
  const int n = static_cast<int>(entries.size());
  std::vector<int> uses(n, 0);
  for (const LayerEntry& e : entries)
    for (int s : e.input_index)
      if (s >= 0) uses[s]++;
  auto single_use_bn = [&](int i) {
    return i >= 0 && i + 1 < n && entries[i].type == "batchnorm2d" && uses[i] == 1 &&
           entries[i].input_index.size() == 1;
  };

  // For each relu that ends a fusable chain: the batch norm and the residual input (or -2).
  std::vector<int> fused_bn(n, -1), fused_residual(n, -2);
  std::vector<bool> removed(n, false);
  for (int r = 0; r < n; ++r) {
    const LayerEntry& relu = entries[r];
    if (relu.type != "relu" || relu.input_index.size() != 1 || !has_no_arguments(relu)) continue;
    const int p = relu.input_index[0];
    if (single_use_bn(p)) {
      fused_bn[r] = p;
      removed[p] = true;
      continue;
    }
    if (p < 0 || entries[p].type != "add" || uses[p] != 1 || entries[p].input_index.size() != 2 ||
        !has_no_arguments(entries[p]))
      continue;
    for (int j = 0; j < 2; ++j) {
      const int bn = entries[p].input_index[j];
      const int other = entries[p].input_index[1 - j];
      if (!single_use_bn(bn) || other == bn) continue;
      fused_bn[r] = bn;
      fused_residual[r] = other;
      removed[bn] = removed[p] = true;
      break;
    }
  }

  // The fused layer goes right after the later of its inputs' producers (the batch norm's
  // place, or the shortcut's), as early as the schedule allows: that keeps the order of the
  // layers as written and their tensors' lifetimes short.
  std::vector<std::vector<int>> emit_after(n);
  for (int r = 0; r < n; ++r)
    if (fused_bn[r] >= 0) emit_after[std::max(fused_bn[r], fused_residual[r])].push_back(r);

  // The new list; `provider[i]` is the new index that now produces old entry i's value (for a
  // fused chain's members only the relu's value is read afterwards).
  std::vector<LayerEntry> out;
  std::vector<int> provider(n, -1);
  for (int i = 0; i < n; ++i) {
    if (!removed[i] && fused_bn[i] < 0) {
      out.push_back(entries[i]);
      provider[i] = static_cast<int>(out.size()) - 1;
    }
    for (int r : emit_after[i]) {
      const LayerEntry& bn = entries[fused_bn[r]];
      LayerEntry f;
      f.name = bn.name;
      f.type = "batchnorm2d_act";
      f.listing_index = bn.listing_index;
      f.node = YAML::Clone(bn.node);
      f.node["type"] = f.type;
      f.node["activation"] = "relu";
      f.node.remove("inputs");
      f.input_index = {bn.input_index[0]};
      if (fused_residual[r] != -2) {
        f.node["residual"] = true;
        f.input_index.push_back(fused_residual[r]);
      }
      out.push_back(std::move(f));
      provider[r] = static_cast<int>(out.size()) - 1;
    }
  }
  // Re-point inputs at the new indices and names.
  for (LayerEntry& e : out) {
    e.inputs.clear();
    for (int& s : e.input_index) {
      if (s >= 0) s = provider[s];
      e.inputs.push_back(s < 0 ? std::string("input") : out[s].name);
    }
  }
  return out;
}

}  // namespace te
