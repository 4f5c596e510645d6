#include "engine/export/onnx_layers.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/export/bn_folding.h"
#include "engine/export/export_error.h"
#include "engine/layers/activation.h"
#include "engine/layers/avg_pool2d.h"
#include "engine/layers/batchnorm2d.h"
#include "engine/layers/batchnorm_act.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/linear.h"
#include "engine/layers/max_pool2d.h"

namespace te {
namespace {

std::string who(const Layer& l) { return "layer '" + l.name() + "' (" + l.type() + ")"; }

std::vector<float> values(const Param& p) { return p.value.to_vector(); }

// BatchNormBase keeps weight, bias (affine) as params and running_mean, running_var as buffers.
struct BnParams {
  std::vector<float> gamma, beta, mean, var;
  double eps = 1e-5;
};
BnParams bn_params(const BatchNormBase& bn) {
  BnParams p;
  if (bn.affine()) {
    p.gamma = values(bn.params()[0]);
    p.beta = values(bn.params()[1]);
  }
  p.mean = values(bn.buffers()[0]);
  p.var = values(bn.buffers()[1]);
  p.eps = bn.eps();
  return p;
}

std::string emit_conv(OnnxBuilder& b, const LayerToEmit& l, const Conv2d& conv) {
  const ops::Conv2dParams& c = conv.conv_params();
  const Param& w = conv.params()[0];
  std::vector<std::string> in = {l.inputs[0]};
  if (l.fold_bn) {
    const BnParams bn = bn_params(*l.fold_bn);
    const FoldedConv f = fold_batchnorm(values(w), conv.has_bias() ? values(conv.params()[1]) : std::vector<float>{},
                                        bn.gamma, bn.beta, bn.mean, bn.var, bn.eps);
    // Named after both layers, so a reader of the file sees where the values came from.
    const std::string base = l.layer.name() + "+" + l.fold_bn->name();
    in.push_back(b.initializer(base + ".weight", w.value.shape().dims(), f.weight));
    in.push_back(b.initializer(base + ".bias", {conv.out_channels()}, f.bias));
  } else {
    in.push_back(b.initializer(l.layer.name() + ".weight", w.value));
    if (conv.has_bias()) in.push_back(b.initializer(l.layer.name() + ".bias", conv.params()[1].value));
  }
  onnx::NodeProto& n = b.node("Conv", in, l.output);
  OnnxBuilder::attr(n, "kernel_shape", std::vector<int64_t>{c.kernel_h, c.kernel_w});
  OnnxBuilder::attr(n, "strides", std::vector<int64_t>{c.stride_h, c.stride_w});
  OnnxBuilder::attr(n, "pads", std::vector<int64_t>{c.pad_h, c.pad_w, c.pad_h, c.pad_w});
  OnnxBuilder::attr(n, "dilations", std::vector<int64_t>{c.dilation_h, c.dilation_w});
  OnnxBuilder::attr(n, "group", c.groups);
  return l.output;
}

// BN(x) as a BatchNormalization node (ONNX requires scale and bias: ones/zeros when not affine).
std::string emit_bn(OnnxBuilder& b, const LayerToEmit& l, const BatchNormBase& bn,
                    const std::string& output) {
  const std::string& name = l.layer.name();
  const int64_t c = bn.buffers()[0].value.numel();
  const std::string scale = bn.affine() ? b.initializer(name + ".weight", bn.params()[0].value)
                                        : b.initializer(name + ".ones", {c}, std::vector<float>(c, 1.f));
  const std::string shift = bn.affine() ? b.initializer(name + ".bias", bn.params()[1].value)
                                        : b.initializer(name + ".zeros", {c}, std::vector<float>(c, 0.f));
  onnx::NodeProto& n = b.node("BatchNormalization",
                              {l.inputs[0], scale, shift,
                               b.initializer(name + ".running_mean", bn.buffers()[0].value),
                               b.initializer(name + ".running_var", bn.buffers()[1].value)},
                              output);
  OnnxBuilder::attr(n, "epsilon", static_cast<float>(bn.eps()));
  return output;
}

// y = act(BN(x) [+ r]): BatchNormalization (unless folded away), Add, Relu.
std::string emit_bn_act(OnnxBuilder& b, const LayerToEmit& l, const BatchNormAct& bn) {
  const bool relu = bn.activation() == ops::BatchNormActivation::ReLU;
  std::string v = l.folded_away ? l.inputs[0]
                                : emit_bn(b, l, bn, bn.residual() || relu ? l.output + "/bn" : l.output);
  if (bn.residual()) v = b.node("Add", {v, l.inputs[1]}, relu ? l.output + "/add" : l.output).output(0);
  if (relu) v = b.node("Relu", {v}, l.output).output(0);
  return v;
}

std::string emit_activation(OnnxBuilder& b, const LayerToEmit& l, const ActivationLayer& a) {
  const std::string& x = l.inputs[0];
  const std::string& y = l.output;
  switch (a.kind()) {
    case ops::ActivationKind::ReLU:
      return b.node("Relu", {x}, y).output(0);
    case ops::ActivationKind::SiLU:  // x * sigmoid(x)
      return b.node("Mul", {x, b.node("Sigmoid", {x}, y + "/sigmoid").output(0)}, y).output(0);
    case ops::ActivationKind::GELU: {  // x * 0.5 * (1 + erf(x / sqrt(2))); ONNX's Gelu needs opset 20
      const std::string e = b.node("Erf", {b.node("Mul", {x, b.scalar(static_cast<float>(1 / std::numbers::sqrt2))}, y + "/scaled").output(0)},
                                   y + "/erf").output(0);
      const std::string p = b.node("Add", {e, b.scalar(1.f)}, y + "/plus1").output(0);
      return b.node("Mul", {b.node("Mul", {x, p}, y + "/xp").output(0), b.scalar(0.5f)}, y).output(0);
    }
    case ops::ActivationKind::GELUTanh: {  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      const std::string x3 = b.node("Mul", {b.node("Mul", {x, x}, y + "/x2").output(0), x}, y + "/x3").output(0);
      const std::string u = b.node("Add", {x, b.node("Mul", {x3, b.scalar(0.044715f)}, y + "/cx3").output(0)}, y + "/u").output(0);
      const float k = static_cast<float>(std::sqrt(2.0 / std::numbers::pi));
      const std::string t = b.node("Tanh", {b.node("Mul", {u, b.scalar(k)}, y + "/ku").output(0)}, y + "/tanh").output(0);
      const std::string p = b.node("Add", {t, b.scalar(1.f)}, y + "/plus1").output(0);
      return b.node("Mul", {b.node("Mul", {x, p}, y + "/xp").output(0), b.scalar(0.5f)}, y).output(0);
    }
  }
  throw ExportError(who(l.layer) + ": no ONNX form for this activation");
}

// Pooling without ONNX's ceil_mode (whose last-window rule differs from PyTorch's across
// opsets and runtimes): the output size PyTorch computes is reached with floor rounding by
// extending the end padding, which max pooling never picks and average pooling without
// count_include_pad never counts.
std::string emit_pool(OnnxBuilder& b, const LayerToEmit& l, const ops::Pool2dParams& p, bool max) {
  const Shape& in = l.input_shapes[0];
  const Shape& out = l.output_shape;
  const auto extra = [](int64_t n_in, int64_t n_out, int64_t k, int64_t s, int64_t pad, int64_t d) {
    return std::max<int64_t>(0, (n_out - 1) * s + d * (k - 1) + 1 - (n_in + 2 * pad));
  };
  const int64_t dil_h = max ? p.dilation_h : 1, dil_w = max ? p.dilation_w : 1;
  const int64_t eh = extra(in[2], out[2], p.kernel_h, p.stride_h, p.pad_h, dil_h);
  const int64_t ew = extra(in[3], out[3], p.kernel_w, p.stride_w, p.pad_w, dil_w);
  if (!max && p.count_include_pad && (eh > 0 || ew > 0))
    throw ExportError(who(l.layer) + ": ceil_mode with count_include_pad, where the last window at input " +
                      in.str() + " hangs past the padding, has no exact ONNX AveragePool form; "
                      "use count_include_pad: false or ceil_mode: false");
  onnx::NodeProto& n = b.node(max ? "MaxPool" : "AveragePool", {l.inputs[0]}, l.output);
  OnnxBuilder::attr(n, "kernel_shape", std::vector<int64_t>{p.kernel_h, p.kernel_w});
  OnnxBuilder::attr(n, "strides", std::vector<int64_t>{p.stride_h, p.stride_w});
  OnnxBuilder::attr(n, "pads", std::vector<int64_t>{p.pad_h, p.pad_w, p.pad_h + eh, p.pad_w + ew});
  if (max)
    OnnxBuilder::attr(n, "dilations", std::vector<int64_t>{p.dilation_h, p.dilation_w});
  else
    OnnxBuilder::attr(n, "count_include_pad", static_cast<int64_t>(p.count_include_pad ? 1 : 0));
  return l.output;
}

std::string emit_linear(OnnxBuilder& b, const LayerToEmit& l, const Linear& fc) {
  std::vector<std::string> in = {l.inputs[0], b.initializer(l.layer.name() + ".weight", fc.params()[0].value)};
  if (fc.has_bias()) in.push_back(b.initializer(l.layer.name() + ".bias", fc.params()[1].value));
  onnx::NodeProto& n = b.node("Gemm", in, l.output);  // x W^T + b: PyTorch's [out, in] weight
  OnnxBuilder::attr(n, "transB", static_cast<int64_t>(1));
  return l.output;
}

}  // namespace

std::vector<std::string> onnx_exported_types() {
  return {"add",     "avgpool2d", "batchnorm2d", "batchnorm2d_act", "concat",          "conv2d", "dropout",
          "flatten", "gelu",      "global_avg_pool", "linear",      "maxpool2d",       "relu",   "silu"};
}

std::string emit_layer(OnnxBuilder& b, const LayerToEmit& l) {
  const Layer& layer = l.layer;
  const std::string type = layer.type();
  if (const auto* conv = dynamic_cast<const Conv2d*>(&layer)) return emit_conv(b, l, *conv);
  if (const auto* bn = dynamic_cast<const BatchNormAct*>(&layer)) return emit_bn_act(b, l, *bn);
  if (const auto* bn = dynamic_cast<const BatchNorm2d*>(&layer))
    return l.folded_away ? l.inputs[0] : emit_bn(b, l, *bn, l.output);
  if (const auto* a = dynamic_cast<const ActivationLayer*>(&layer)) return emit_activation(b, l, *a);
  if (const auto* fc = dynamic_cast<const Linear*>(&layer)) return emit_linear(b, l, *fc);
  if (const auto* mp = dynamic_cast<const MaxPool2d*>(&layer)) return emit_pool(b, l, mp->pool_params(), true);
  if (const auto* ap = dynamic_cast<const AvgPool2d*>(&layer)) return emit_pool(b, l, ap->pool_params(), false);
  if (type == "add")  // Sum takes any number of inputs; Add is what tools expect for two
    return b.node(l.inputs.size() == 2 ? "Add" : "Sum", l.inputs, l.output).output(0);
  if (type == "concat") {
    onnx::NodeProto& n = b.node("Concat", l.inputs, l.output);
    OnnxBuilder::attr(n, "axis", l.args["axis"] ? l.args["axis"].as<int64_t>() : int64_t{1});
    return l.output;
  }
  if (type == "dropout") return b.node("Identity", l.inputs, l.output).output(0);  // eval mode
  if (type == "flatten") {
    onnx::NodeProto& n = b.node("Flatten", l.inputs, l.output);
    OnnxBuilder::attr(n, "axis", int64_t{1});
    return l.output;
  }
  if (type == "global_avg_pool") {  // GlobalAveragePool keeps [N, C, 1, 1]; we output [N, C]
    onnx::NodeProto& n = b.node("Flatten", {b.node("GlobalAveragePool", l.inputs, l.output + "/pool").output(0)}, l.output);
    OnnxBuilder::attr(n, "axis", int64_t{1});
    return l.output;
  }
  std::string known;
  for (const auto& t : onnx_exported_types()) known += (known.empty() ? "" : ", ") + t;
  throw ExportError(who(layer) + ": this layer type has no ONNX export (exported types: " + known + ")");
}

}  // namespace te
