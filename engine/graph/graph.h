#pragma once
// The static layer graph. Built once from a model description (model_spec.h): layers are
// created by type name, their output shapes inferred and checked (errors name the layer and the
// shapes), their parameters bound as views into ONE flat parameter buffer and ONE flat gradient
// buffer (one fused optimizer step, one copy for a checkpoint). Activations and their gradients
// are views into ONE arena laid out by a static memory plan (memory_plan.h, graph_memory.cpp):
// tensors whose lifetimes in the step's fixed schedule do not overlap share memory. The arena
// is allocated once and replaced only when the batch size grows.
//
// Backward runs the nodes in reverse. The first consumer of a node's output met in reverse order
// writes the node's gradient (GradMode::Overwrite) and later ones add to it (Accumulate), so
// residual branches sum without copies. Gradients are asked for only where some parameter
// lies upstream (never for the graph input), so e.g. the stem conv skips its input gradient.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/named_tensor.h"
#include "engine/core/tensor.h"
#include "engine/graph/memory_plan.h"
#include "engine/layers/layer.h"
#include "engine/layers/layer_args.h"

namespace te {

// Creates a layer of `type` from its arguments (must call args.finish(type)). The default is
// the registry's create_layer; tests pass their own to add test-only layer types.
using GraphLayerFactory = std::function<std::unique_ptr<Layer>(const std::string& type, LayerArgs&)>;

struct GraphOptions {
  // The parameters' (master) dtype: F64 for finite-difference gradient checks on the CPU.
  DType dtype = DType::F32;
  // Mixed precision: activations, their gradients and the parameters layers compute with in
  // this dtype (bf16 or f16 on a GPU), while the optimizer updates the master parameters
  // (`dtype`) and each layer may keep some parameters in another (Layer::param_dtype: batch
  // norm keeps f32). Empty: `dtype`, no mixed precision.
  std::optional<DType> compute_dtype;
  Device device = Device::cpu();
  GraphLayerFactory factory;  // empty: create_layer
  // build() initialises the parameters (initialize(init_seed)) so a fresh graph is usable;
  // turn off when a state dict is loaded right after.
  bool initialize = true;
  uint64_t init_seed = 0;
  // Forward only (eval, predict): activations are freed as soon as their consumers have run,
  // and backward() throws.
  bool inference_only = false;
  // Fuse batchnorm2d -> relu and batchnorm2d -> add -> relu chains into one layer each
  // (fusion.h); names, checkpoints and initial values are the same either way.
  bool fuse = true;
  // Channels-last activations (kernels/layout.h; CUDA only): the caller's input must be NHWC
  // in memory, and so are all 4-D activations and their gradients.
  bool channels_last = false;
  // false: every activation and gradient gets its own memory (the reference the plan is
  // tested against).
  bool reuse_memory = true;
  // Testing aid: fill each activation/gradient with NaN right after its last planned use, so
  // a layer that reads memory it did not declare (Layer::backward_reads) poisons the results.
  bool poison_dead_memory = false;
};

// The static memory plan at one batch size, for `trainer info` and the log.
struct GraphMemory {
  int64_t batch = 0;
  int64_t arena_bytes = 0;     // activations and their gradients, as planned (one allocation)
  int64_t unplanned_bytes = 0;  // the same tensors, each in its own allocation
  int64_t lower_bound_bytes = 0;  // the most bytes alive at once: no layout needs less
  int64_t saved_bytes = 0;     // kept by layers for backward (BN statistics, max-pool argmax)
  int64_t buffers = 0;         // tensors in the plan
};

class Graph {
 public:
  // `model` is the YAML `model:` mapping (a preset or a `layers:` list, see model_spec.h);
  // `where` is the config file path for messages; input_chw is one sample's shape [C, H, W].
  static std::unique_ptr<Graph> build(const YAML::Node& model, const std::string& where,
                                      const Shape& input_chw, const GraphOptions& options = {});

  // input is [N, C, H, W] on the graph's device; returns the last layer's output.
  const Tensor& forward(const Tensor& input, const RunContext& ctx);
  // Gradient of the loss w.r.t. the last output; parameter gradients accumulate (+=).
  // Must follow the forward of the same batch.
  void backward(const Tensor& grad_output, const RunContext& ctx);
  // Called during backward right after a layer's backward, with the flat range
  // [offset, offset + count) of gradients() that layer owns: nothing later in this backward
  // writes it again (each layer's parameters are its own), so an observer may start using it,
  // e.g. data parallelism reducing gradients while backward goes on. With mixed precision the
  // values are in the compute copy until finish_backward. Empty (the default): no calls.
  using GradientsReadyHook = std::function<void(int64_t offset, int64_t count)>;
  void set_gradients_ready_hook(GradientsReadyHook hook) { gradients_ready_ = std::move(hook); }

  // The flat master parameters and gradients: what the optimizer updates and checkpoints
  // hold. Without mixed precision every Param.value/grad is a view into them.
  Tensor& parameters() { return params_; }
  Tensor& gradients() { return grads_; }    // same layout
  void zero_grad();

  // Mixed precision (GraphOptions::compute_dtype). After the master parameters change
  // (optimizer step, loading), refresh the compute copies layers read; after backward, move
  // the compute-dtype gradients into the master gradients, times `scale` (1 / loss scale),
  // scaling those already there by the same factor. Both do nothing without mixed precision
  // (finish_backward still scales when scale != 1).
  void sync_compute_params();
  void finish_backward(double scale = 1.0);
  // For observers of the gradients-ready hook that need the master gradients during backward
  // (the overlapped all-reduce with mixed precision): the next backward does finish_backward's
  // work for each layer right after that layer's backward, before the hook reports it, and the
  // finish_backward after it (with the same scale) then has nothing left to do. The same
  // arithmetic element by element, in a few launches per layer instead of two in all.
  void finish_backward_per_layer(double scale);
  bool mixed_precision() const { return compute_dtype_ != dtype_; }

  // Views with torchvision names ("layer1.0.conv1.weight"), in state-dict order.
  std::vector<NamedTensor> named_parameters() const;
  std::vector<NamedTensor> named_buffers() const;  // running_mean/var, num_batches_tracked
  // Parameters and buffers, per layer in graph order (torchvision's state_dict order).
  std::vector<NamedTensor> state_dict() const;
  // Strict: missing or unexpected names and shape mismatches throw te::Error listing all of
  // them, and nothing is changed. F32/F64 values are converted to the graph's dtype.
  void load_state_dict(const std::vector<NamedTensor>& tensors);

  // torchvision-style initialisation via Layer::init_params (stream = node index).
  void initialize(uint64_t seed);
  void to(Device device);
  Device device() const { return device_; }
  DType dtype() const { return dtype_; }                  // the master parameters'
  DType compute_dtype() const { return compute_dtype_; }  // activations' and the input's
  Layout layout() const { return layout_; }               // of 4-D activations and the input

  int64_t num_parameters() const { return params_.numel(); }
  // Flat (offset, count) ranges that get no weight decay: every parameter of rank <= 1
  // (biases and normalisation weights), merged where adjacent.
  std::vector<std::pair<int64_t, int64_t>> no_decay_ranges() const;

  const Shape& input_shape() const { return input_chw_; }  // one sample, [C, H, W]
  Shape output_shape(int64_t batch) const;
  // Every layer's output shape at this batch size, in layer(i) order (the Python bindings' info()).
  std::vector<Shape> layer_output_shapes(int64_t batch) const { return shapes_at(batch); }
  // The memory plan this graph uses (training, or inference_only) at this batch size.
  GraphMemory memory_at(int64_t batch) const;
  // Where the activation arena currently is (null before the first forward): it moves when
  // a larger batch re-plans it, which invalidates anything that recorded the addresses
  // (a captured CUDA graph).
  const void* arena_address() const { return arena_.raw(); }
  // Bytes of activations, their gradients and what layers save for backward at this batch
  // size (parameters and the caller's input excluded): arena + saved bytes of memory_at.
  int64_t activation_bytes(int64_t batch) const;
  // The layer table (name, type, output shape, parameters) with totals, for `trainer info`.
  std::string summary(int64_t batch) const;

  size_t num_layers() const { return nodes_.size(); }
  Layer& layer(size_t i) { return *nodes_[i].layer; }
  const Layer& layer(size_t i) const { return *nodes_[i].layer; }
  const std::string& layer_name(size_t i) const { return nodes_[i].name; }

 private:
  struct Node {
    std::string name;
    std::unique_ptr<Layer> layer;
    std::vector<int> inputs;            // node indices; -1 is the graph input
    std::vector<GradMode> grad_modes;   // per input, for backward
    bool needs_grad = false;            // some parameter lies at or upstream of this node
    int64_t param_offset = 0, param_count = 0;  // this node's slice of the flat buffers
    int listing_index = 0;  // position in the layer list as written (layer_entry.h)
    // Views into the arena at the planned offsets (elements). A smaller batch than the
    // planned one (an epoch's last, partial batch) uses the same offsets: every tensor shrinks
    // inside its own range.
    Tensor output, grad;
    int64_t output_offset = 0, grad_offset = 0;
  };

  Graph() = default;
  void bind_parameters();
  // Points every Param.value/grad at its slice of params_/grads_, or of the compute copies
  // for the parameters a layer uses in the compute dtype (unless master_only).
  void bind_views(bool master_only = false);
  void plan_backward();
  void check_input(const Tensor& input) const;
  std::vector<Shape> input_shapes(const std::vector<Shape>& outputs, const Shape& input,
                                  const Node& node) const;
  // [batch, C, H, W]
  Shape batched_input(int64_t batch) const;
  // Every node's output shape at this batch size.
  std::vector<Shape> shapes_at(int64_t batch) const;
  // The buffers of the plan, two per node (output 2i, gradient 2i+1; 0 bytes when absent),
  // with their lifetimes in the step's schedule: forward of node i is step i, backward of
  // node k is step 2n-1-k.
  std::vector<BufferLifetime> lifetimes(int64_t batch) const;
  // Plans (when the batch exceeds the planned one), allocates the arena and points every
  // output and gradient view at it for this batch size.
  void prepare(int64_t batch);
  // With poison_dead_memory: NaN-fills the buffers whose last use is `step`.
  void poison_after(int step);

  std::vector<Node> nodes_;
  // Node indices in listing order (layer_entry.h): the order of the flat parameter layout,
  // state dicts and initialisation streams, which fusion must not change.
  std::vector<size_t> listing_order_;
  Shape input_chw_;
  DType dtype_ = DType::F32;
  Device device_ = Device::cpu();
  Tensor params_, grads_;
  // Mixed precision: compute-dtype copies in the same flat layout, and the ranges of the flat
  // layout whose parameters layers use in the compute dtype (the rest use the masters).
  DType compute_dtype_ = DType::F32;
  Layout layout_ = Layout::NCHW;
  Tensor compute_params_, compute_grads_;
  std::vector<std::pair<int64_t, int64_t>> compute_ranges_, master_ranges_;
  Tensor compute_table_, master_table_;  // the same for ops::cast_scale_ranges, on device_
  Tensor input_;  // the last forward's input (shares the caller's storage)
  bool inference_only_ = false, reuse_memory_ = true, poison_dead_memory_ = false;
  Tensor arena_;
  int64_t planned_batch_ = -1, views_batch_ = -1;
  std::vector<std::vector<int>> last_used_at_;  // step -> buffers (for poisoning)
  GradientsReadyHook gradients_ready_;
  // finish_backward_per_layer: the scale for the next backward, then the one it applied.
  std::optional<double> per_layer_scale_, finished_per_layer_;
  void finish_layer_gradients(const Node& n, double scale);
};

}  // namespace te
