// Parameters and buffers: the flat buffers, names, state dicts, initialisation, devices.
#include <algorithm>
#include <map>

#include "engine/core/error.h"
#include "engine/graph/graph.h"
#include "kernels/cast.h"

namespace te {

void Graph::bind_parameters() {
  int64_t total = 0;
  for (size_t i : listing_order_) {
    Node& n = nodes_[i];
    n.param_offset = total;
    for (const Param& p : n.layer->params()) total += p.shape.numel();
    n.param_count = total - n.param_offset;
  }
  params_ = Tensor::zeros({total}, dtype_, device_);
  grads_ = Tensor::zeros({total}, dtype_, device_);
  // Which ranges of the flat layout layers use in the compute dtype, merged where adjacent.
  compute_ranges_.clear();
  master_ranges_.clear();
  for (size_t i : listing_order_) {
    const Node& n = nodes_[i];
    int64_t offset = n.param_offset;
    for (const Param& p : n.layer->params()) {
      const DType want = mixed_precision() ? n.layer->param_dtype(compute_dtype_) : dtype_;
      if (want != dtype_ && want != compute_dtype_)
        throw Error("layer '" + n.name + "' wants its parameters in " + dtype_name(want) +
                    ", but the graph keeps them in " + dtype_name(dtype_) + " and computes in " +
                    dtype_name(compute_dtype_));
      auto& ranges = want == dtype_ ? master_ranges_ : compute_ranges_;
      const int64_t count = p.shape.numel();
      if (!ranges.empty() && ranges.back().first + ranges.back().second == offset)
        ranges.back().second += count;
      else if (count > 0)
        ranges.emplace_back(offset, count);
      offset += count;
    }
  }
  if (mixed_precision()) {
    compute_params_ = Tensor::zeros({total}, compute_dtype_, device_);
    compute_grads_ = Tensor::zeros({total}, compute_dtype_, device_);
  }
  compute_table_ = ops::make_range_table(compute_ranges_, total).to(device_);
  master_table_ = ops::make_range_table(master_ranges_, total).to(device_);
  bind_views();
  // Buffers are few and small, and num_batches_tracked is i64: separate tensors. Float
  // buffers (running statistics) take the dtype of their layer's parameters.
  for (Node& n : nodes_)
    for (Param& b : n.layer->buffers()) {
      const DType t = b.dtype != DType::F32 ? b.dtype
                      : mixed_precision()   ? n.layer->param_dtype(compute_dtype_)
                                            : dtype_;
      b.value = Tensor::zeros(b.shape, t, device_);
    }
}

void Graph::bind_views(bool master_only) {
  for (Node& n : nodes_) {
    int64_t offset = n.param_offset;
    for (Param& p : n.layer->params()) {
      const bool compute = !master_only && mixed_precision() &&
                           n.layer->param_dtype(compute_dtype_) == compute_dtype_;
      p.dtype = compute ? compute_dtype_ : dtype_;
      p.value = (compute ? compute_params_ : params_).slice_flat(offset, p.shape);
      p.grad = (compute ? compute_grads_ : grads_).slice_flat(offset, p.shape);
      offset += p.shape.numel();
    }
  }
}

void Graph::zero_grad() {
  grads_.zero();
  if (mixed_precision()) compute_grads_.zero();
}

void Graph::sync_compute_params() {
  if (!mixed_precision()) return;
  // One pass over the whole buffer (one launch on a GPU) rather than one per range: the
  // compute copies of master-dtype parameters (batch norm's) are written too, and never read.
  ops::cast_scale(params_, compute_params_, 1.0);
}

void Graph::finish_backward(double scale) {
  if (finished_per_layer_) {
    const double done = *finished_per_layer_;
    finished_per_layer_.reset();
    if (done != scale)
      throw Error("Graph::finish_backward(" + std::to_string(scale) + ") after a backward that " +
                  "finished its layers with scale " + std::to_string(done));
    return;
  }
  if (!mixed_precision()) {
    if (scale != 1.0) ops::cast_scale(grads_, grads_, scale);
    return;
  }
  // One pass each, however many ranges (one launch each on a GPU).
  if (!compute_ranges_.empty()) ops::cast_scale_ranges(compute_grads_, grads_, compute_table_, scale);
  if (scale != 1.0 && !master_ranges_.empty())
    ops::cast_scale_ranges(grads_, grads_, master_table_, scale);
}

void Graph::finish_backward_per_layer(double scale) {
  if (inference_only_) throw Error("Graph::finish_backward_per_layer: an inference-only graph has no backward");
  per_layer_scale_ = scale;
  finished_per_layer_.reset();
}

void Graph::finish_layer_gradients(const Node& n, double scale) {
  const int64_t begin = n.param_offset, end = n.param_offset + n.param_count;
  // `ranges`' parts inside this layer's slice of the flat layout.
  auto each_part = [&](const std::vector<std::pair<int64_t, int64_t>>& ranges, auto&& fn) {
    for (const auto& [offset, count] : ranges) {
      const int64_t a = std::max(begin, offset), b = std::min(end, offset + count);
      if (a < b) fn(a, b - a);
    }
  };
  if (!mixed_precision()) {
    if (scale != 1.0) {
      Tensor g = grads_.slice_flat(begin, Shape{n.param_count});
      ops::cast_scale(g, g, scale);
    }
    return;
  }
  each_part(compute_ranges_, [&](int64_t a, int64_t count) {
    Tensor g = grads_.slice_flat(a, Shape{count});
    ops::cast_scale(compute_grads_.slice_flat(a, Shape{count}), g, scale);
  });
  if (scale != 1.0)
    each_part(master_ranges_, [&](int64_t a, int64_t count) {
      Tensor g = grads_.slice_flat(a, Shape{count});
      ops::cast_scale(g, g, scale);
    });
}

std::vector<NamedTensor> Graph::named_parameters() const {
  std::vector<NamedTensor> out;
  for (size_t i : listing_order_) {
    int64_t offset = nodes_[i].param_offset;
    for (const Param& p : nodes_[i].layer->params()) {
      out.push_back({nodes_[i].name + "." + p.name, params_.slice_flat(offset, p.shape)});
      offset += p.shape.numel();
    }
  }
  return out;
}

std::vector<NamedTensor> Graph::named_buffers() const {
  std::vector<NamedTensor> out;
  for (size_t i : listing_order_)
    for (const Param& b : nodes_[i].layer->buffers()) out.push_back({nodes_[i].name + "." + b.name, b.value});
  return out;
}

std::vector<NamedTensor> Graph::state_dict() const {
  // torchvision's order: module by module, each module's parameters then its buffers.
  std::vector<NamedTensor> out;
  for (size_t i : listing_order_) {
    const Node& n = nodes_[i];
    int64_t offset = n.param_offset;
    for (const Param& p : n.layer->params()) {
      out.push_back({n.name + "." + p.name, params_.slice_flat(offset, p.shape)});  // the master
      offset += p.shape.numel();
    }
    for (const Param& b : n.layer->buffers()) out.push_back({n.name + "." + b.name, b.value});
  }
  return out;
}

namespace {

bool is_float(DType t) { return t == DType::F32 || t == DType::F64; }

// "a, b, c and 4 more"
std::string first_few(const std::vector<std::string>& items) {
  std::string s;
  const size_t shown = std::min<size_t>(items.size(), 8);
  for (size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + items[i];
  if (items.size() > shown) s += " and " + std::to_string(items.size() - shown) + " more";
  return s;
}

}  // namespace

void Graph::load_state_dict(const std::vector<NamedTensor>& tensors) {
  std::map<std::string, const Tensor*> given;
  for (const auto& t : tensors) given[t.name] = &t.tensor;
  std::vector<std::string> missing, unexpected, wrong;
  const std::vector<NamedTensor> expected = state_dict();
  std::map<std::string, bool> known;
  for (const auto& e : expected) {
    known[e.name] = true;
    const auto it = given.find(e.name);
    if (it == given.end()) {
      missing.push_back(e.name);
      continue;
    }
    const Tensor& src = *it->second;
    const bool dtype_ok = src.dtype() == e.tensor.dtype() ||
                          (is_float(src.dtype()) && is_float(e.tensor.dtype()));
    if (src.shape() != e.tensor.shape() || !dtype_ok)
      wrong.push_back(e.name + ": expected " + e.tensor.shape().str() + " " +
                      dtype_name(e.tensor.dtype()) + ", got " + src.shape().str() + " " +
                      dtype_name(src.dtype()));
  }
  for (const auto& t : tensors)
    if (!known.count(t.name)) unexpected.push_back(t.name);
  if (!missing.empty() || !unexpected.empty() || !wrong.empty()) {
    std::string msg = "load_state_dict: the tensors do not match the model";
    if (!missing.empty())
      msg += "; " + std::to_string(missing.size()) + " missing (" + first_few(missing) + ")";
    if (!unexpected.empty())
      msg += "; " + std::to_string(unexpected.size()) + " unexpected (" + first_few(unexpected) + ")";
    if (!wrong.empty())
      msg += "; " + std::to_string(wrong.size()) + " with the wrong shape or type (" +
             first_few(wrong) + ")";
    throw Error(msg);
  }
  for (const auto& e : expected) {
    const Tensor& src = *given[e.name];
    Tensor dst = e.tensor;
    if (src.dtype() == dst.dtype())
      dst.copy_from(src);
    else
      dst.copy_from(src.to(Device::cpu()).to_dtype(dst.dtype()));
  }
  sync_compute_params();
}

void Graph::initialize(uint64_t seed) {
  bind_views(/*master_only=*/true);  // layers initialise the masters
  for (const Node& n : nodes_) n.layer->init_params(seed, static_cast<uint64_t>(n.listing_index));
  bind_views();
  sync_compute_params();
}

void Graph::to(Device device) {
  if (device == device_) return;
  params_ = params_.to(device);
  grads_ = grads_.to(device);
  compute_table_ = compute_table_.to(device);
  master_table_ = master_table_.to(device);
  if (mixed_precision()) {
    compute_params_ = Tensor::zeros({params_.numel()}, compute_dtype_, device);
    compute_grads_ = Tensor::zeros({params_.numel()}, compute_dtype_, device);
  }
  device_ = device;
  bind_views();
  sync_compute_params();
  for (Node& n : nodes_) {
    for (Param& b : n.layer->buffers()) b.value = b.value.to(device);
    n.output = n.grad = Tensor();
  }
  input_ = arena_ = Tensor();
  planned_batch_ = views_batch_ = -1;
}

std::vector<std::pair<int64_t, int64_t>> Graph::no_decay_ranges() const {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (size_t i : listing_order_) {
    const Node& n = nodes_[i];
    int64_t offset = n.param_offset;
    for (const Param& p : n.layer->params()) {
      const int64_t count = p.shape.numel();
      if (p.shape.rank() <= 1 && count > 0) {
        if (!out.empty() && out.back().first + out.back().second == offset)
          out.back().second += count;
        else
          out.emplace_back(offset, count);
      }
      offset += count;
    }
  }
  return out;
}

}  // namespace te
