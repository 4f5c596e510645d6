#pragma once
// The interface every layer implements. A layer is created from its arguments, told its input
// shapes once when the graph is built (it declares its parameters then), and afterwards runs
// forward and backward on tensors of those shapes (the batch dimension may differ per call).
#include <memory>
#include <string>
#include <vector>

#include "engine/core/tensor.h"
#include "kernels/layout.h"

namespace te {

class BatchStatsSync;

// How a parameter is initialised (torchvision's choices).
enum class Init {
  Zeros,
  Ones,
  KaimingNormalFanOut,  // N(0, 2/fan_out): torchvision ResNet convs (mode="fan_out", relu)
  UniformFanIn,         // U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default Linear/Conv init
};

// A named tensor of a layer: a trainable parameter (with gradient) or a buffer (running stats).
struct Param {
  std::string name;  // local name, e.g. "weight"; the graph prefixes the layer name
  Shape shape;
  DType dtype = DType::F32;
  Init init = Init::Zeros;
  int64_t fan_in = 1, fan_out = 1;
  Tensor value;  // bound by the graph (a view into its flat parameter buffer) or by a test
  Tensor grad;   // same shape; undefined for buffers
};

// Backward writes a gradient either over what is there or added to it, so branches that share
// an input (residual connections) sum without extra copies.
enum class GradMode { Overwrite, Accumulate };

// What a layer's backward reads besides grad_output and its own saved state. The graph's
// memory plan lets later tensors reuse an activation's memory as soon as nothing will read it
// again, so backward must not read the contents of what it does not declare here (shapes stay
// valid). The default, everything, is always safe.
struct BackwardReads {
  bool inputs = true;
  bool output = true;
  // With `inputs`: only inputs [0, first_inputs) are read (-1: all of them), e.g.
  // batchnorm2d_act reads x but never its residual input.
  int first_inputs = -1;
  bool reads_input(size_t i) const {
    return inputs && (first_inputs < 0 || static_cast<int>(i) < first_inputs);
  }
};

// Per-call settings.
struct RunContext {
  bool training = true;
  uint64_t seed = 0;  // with `step`, the counter for stochastic layers (dropout)
  uint64_t step = 0;
  // The memory order of 4-D activations (kernels/layout.h); the graph sets it from
  // GraphOptions::channels_last, layers pass it to the ops that care.
  Layout layout = Layout::NCHW;
  // Training: batch-norm statistics summed over data-parallel replicas (batch_stats_sync.h);
  // null: each replica's own.
  BatchStatsSync* batch_stats_sync = nullptr;
};

struct BackwardArgs {
  std::vector<const Tensor*> inputs;  // what forward saw
  const Tensor* output = nullptr;     // what forward produced
  const Tensor* grad_output = nullptr;
  // One per input; nullptr where that input needs no gradient (Caffe's propagate_down).
  std::vector<Tensor*> grad_inputs;
  std::vector<GradMode> modes;  // one per input
  RunContext ctx;
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string type() const = 0;

  // The output shape for these input shapes, or a ShapeError naming the layer and the shapes.
  // Pure: it may be called for any batch size.
  virtual Shape output_shape(const std::vector<Shape>& inputs) const = 0;
  // Called once, with the input shapes, before the first forward: declare parameters here.
  virtual void build(const std::vector<Shape>& inputs) { (void)inputs; }

  virtual void forward(const std::vector<const Tensor*>& inputs, Tensor& output,
                       const RunContext& ctx) = 0;
  // Parameter gradients are always accumulated (+=): the caller zeroes them once per step,
  // which makes gradient accumulation over micro-batches free.
  virtual void backward(const BackwardArgs& args) = 0;

  virtual BackwardReads backward_reads() const { return {}; }

  // Mixed precision: the dtype this layer wants its parameters in when activations are
  // `compute` (the graph keeps f32 masters either way). Layers whose parameters need more
  // precision than a 16-bit compute dtype (batch norm) return f32.
  virtual DType param_dtype(DType compute) const { return compute; }

  // Bytes this layer keeps between forward and backward besides its output (e.g. batch-norm
  // statistics, max-pool argmax), for the memory estimate.
  virtual int64_t saved_bytes(const std::vector<Shape>& inputs) const {
    (void)inputs;
    return 0;
  }

  std::vector<Param>& params() { return params_; }
  std::vector<Param>& buffers() { return buffers_; }
  const std::vector<Param>& params() const { return params_; }
  const std::vector<Param>& buffers() const { return buffers_; }

  // Allocates standalone tensors for every parameter/buffer not yet bound (tests, CPU use).
  void allocate_unbound(DType dtype = DType::F32, Device device = Device::cpu());
  // Fills parameters and buffers according to their Init, drawing from (seed, `stream`).
  void init_params(uint64_t seed, uint64_t stream);

  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }

 protected:
  Param& declare_param(const std::string& name, const Shape& shape, Init init,
                       int64_t fan_in = 1, int64_t fan_out = 1);
  Param& declare_buffer(const std::string& name, const Shape& shape, Init init,
                        DType dtype = DType::F32);
  // "layer 'conv1' (conv2d)" for messages.
  std::string describe() const { return "layer '" + name_ + "' (" + type() + ")"; }

  std::vector<Param> params_;
  std::vector<Param> buffers_;
  std::string name_;
};

// Makes `t` hold `shape` (same dtype/device as `like`), reallocating only when it differs.
void ensure_shape(Tensor& t, const Shape& shape, DType dtype, Device device);
// For what a layer keeps per batch: `view` becomes the first shape.numel() elements of
// `buffer`, which only ever grows. A smaller batch (an evaluation's last one) reuses the same
// memory, so addresses that a captured CUDA graph recorded stay valid; a larger batch also
// re-plans the graph's activations, which the capture notices (step_capture.h).
void ensure_view(Tensor& buffer, Tensor& view, const Shape& shape, DType dtype, Device device);

}  // namespace te
