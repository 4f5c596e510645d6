#pragma once
// Small test-only layers (types "t_*"), so the graph's wiring, backward plan and state handling
// are tested independently of the real layers. Each works in f32 and f64 and honours
// grad_inputs[i] == nullptr and GradMode, like the real ones must.
#include <cmath>
#include <memory>
#include <string>

#include "engine/core/error.h"
#include "engine/graph/graph.h"
#include "engine/layers/registry.h"
#include "tests/support/gradcheck.h"

namespace te::testing {

template <typename T>
void write_grad(Tensor* g, GradMode mode, int64_t i, T v) {
  T* p = g->data<T>();
  p[i] = mode == GradMode::Accumulate ? p[i] + v : v;
}

// y = weight[c] * x + bias[c] over channel dim 1; also keeps a step counter buffer (i64).
class TScale : public Layer {
 public:
  explicit TScale(LayerArgs& args) : with_bias_(args.get_bool("bias", true)) {}
  std::string type() const override { return "t_scale"; }
  Shape output_shape(const std::vector<Shape>& in) const override {
    if (in.size() != 1 || in[0].rank() < 2) throw ShapeError(describe() + ": needs one input of rank >= 2, got " + (in.empty() ? "none" : in[0].str()));
    return in[0];
  }
  void build(const std::vector<Shape>& in) override {
    declare_param("weight", {in[0][1]}, Init::Ones);
    if (with_bias_) declare_param("bias", {in[0][1]}, Init::Zeros);
    declare_buffer("calls", {}, Init::Zeros, DType::I64);
  }
  void forward(const std::vector<const Tensor*>& in, Tensor& out, const RunContext&) override {
    if (out.dtype() == DType::F64) run<double>(*in[0], out); else run<float>(*in[0], out);
    buffers_[0].value.data<int64_t>()[0] += 1;
  }
  void backward(const BackwardArgs& a) override {
    if (a.output->dtype() == DType::F64) back<double>(a); else back<float>(a);
  }

 private:
  template <typename T> void run(const Tensor& x, Tensor& y) {
    const int64_t C = x.dim(1), inner = x.numel() / x.dim(0) / C;
    const T* w = params_[0].value.data<T>();
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t c = (i / inner) % C;
      yp[i] = w[c] * xp[i] + (with_bias_ ? params_[1].value.data<T>()[c] : T(0));
    }
  }
  template <typename T> void back(const BackwardArgs& a) {
    const Tensor& x = *a.inputs[0];
    const int64_t C = x.dim(1), inner = x.numel() / x.dim(0) / C;
    const T* w = params_[0].value.data<T>();
    const T* g = a.grad_output->data<T>();
    const T* xp = x.data<T>();
    T* gw = params_[0].grad.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t c = (i / inner) % C;
      gw[c] += g[i] * xp[i];
      if (with_bias_) params_[1].grad.data<T>()[c] += g[i];
      if (a.grad_inputs[0]) write_grad<T>(a.grad_inputs[0], a.modes[0], i, g[i] * w[c]);
    }
  }
  bool with_bias_;
};

// y = tanh(x)
class TTanh : public Layer {
 public:
  explicit TTanh(LayerArgs&) {}
  std::string type() const override { return "t_tanh"; }
  Shape output_shape(const std::vector<Shape>& in) const override { return in.at(0); }
  void forward(const std::vector<const Tensor*>& in, Tensor& out, const RunContext&) override {
    if (out.dtype() == DType::F64) run<double>(*in[0], out); else run<float>(*in[0], out);
  }
  void backward(const BackwardArgs& a) override {
    if (!a.grad_inputs[0]) return;
    if (a.output->dtype() == DType::F64) back<double>(a); else back<float>(a);
  }

 private:
  template <typename T> void run(const Tensor& x, Tensor& y) {
    for (int64_t i = 0; i < x.numel(); ++i) y.data<T>()[i] = std::tanh(x.data<T>()[i]);
  }
  template <typename T> void back(const BackwardArgs& a) {
    for (int64_t i = 0; i < a.output->numel(); ++i) {
      const T y = a.output->data<T>()[i];
      write_grad<T>(a.grad_inputs[0], a.modes[0], i, a.grad_output->data<T>()[i] * (1 - y * y));
    }
  }
};

// y = a + b (same shapes)
class TAdd : public Layer {
 public:
  explicit TAdd(LayerArgs&) {}
  std::string type() const override { return "t_add"; }
  Shape output_shape(const std::vector<Shape>& in) const override {
    if (in.size() != 2 || in[0] != in[1])
      throw ShapeError(describe() + ": inputs must have equal shapes, got " + in.at(0).str() +
                       " and " + (in.size() > 1 ? in[1].str() : "nothing"));
    return in[0];
  }
  void forward(const std::vector<const Tensor*>& in, Tensor& out, const RunContext&) override {
    if (out.dtype() == DType::F64) run<double>(in, out); else run<float>(in, out);
  }
  void backward(const BackwardArgs& a) override {
    if (a.output->dtype() == DType::F64) back<double>(a); else back<float>(a);
  }

 private:
  template <typename T> void run(const std::vector<const Tensor*>& in, Tensor& y) {
    for (int64_t i = 0; i < y.numel(); ++i) y.data<T>()[i] = in[0]->data<T>()[i] + in[1]->data<T>()[i];
  }
  template <typename T> void back(const BackwardArgs& a) {
    for (size_t k = 0; k < 2; ++k)
      if (a.grad_inputs[k])
        for (int64_t i = 0; i < a.output->numel(); ++i)
          write_grad<T>(a.grad_inputs[k], a.modes[k], i, a.grad_output->data<T>()[i]);
  }
};

// y = flatten(x) W^T + b: [N, ...] -> [N, out_features]
class TDense : public Layer {
 public:
  explicit TDense(LayerArgs& args) : out_(args.get_int("out_features")) {}
  std::string type() const override { return "t_dense"; }
  Shape output_shape(const std::vector<Shape>& in) const override { return {in.at(0)[0], out_}; }
  void build(const std::vector<Shape>& in) override {
    const int64_t f = in[0].numel() / in[0][0];
    declare_param("weight", {out_, f}, Init::UniformFanIn, f, out_);
    declare_param("bias", {out_}, Init::UniformFanIn, f, out_);
  }
  void forward(const std::vector<const Tensor*>& in, Tensor& out, const RunContext&) override {
    if (out.dtype() == DType::F64) run<double>(*in[0], out); else run<float>(*in[0], out);
  }
  void backward(const BackwardArgs& a) override {
    if (a.output->dtype() == DType::F64) back<double>(a); else back<float>(a);
  }

 private:
  template <typename T> void run(const Tensor& x, Tensor& y) {
    const int64_t N = x.dim(0), F = x.numel() / N;
    const T* w = params_[0].value.data<T>();
    const T* b = params_[1].value.data<T>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < out_; ++o) {
        T s = b[o];
        for (int64_t f = 0; f < F; ++f) s += w[o * F + f] * x.data<T>()[n * F + f];
        y.data<T>()[n * out_ + o] = s;
      }
  }
  template <typename T> void back(const BackwardArgs& a) {
    const Tensor& x = *a.inputs[0];
    const int64_t N = x.dim(0), F = x.numel() / N;
    const T* w = params_[0].value.data<T>();
    const T* g = a.grad_output->data<T>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < out_; ++o) {
        params_[1].grad.data<T>()[o] += g[n * out_ + o];
        for (int64_t f = 0; f < F; ++f) params_[0].grad.data<T>()[o * F + f] += g[n * out_ + o] * x.data<T>()[n * F + f];
      }
    if (!a.grad_inputs[0]) return;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t f = 0; f < F; ++f) {
        T s = 0;
        for (int64_t o = 0; o < out_; ++o) s += g[n * out_ + o] * w[o * F + f];
        write_grad<T>(a.grad_inputs[0], a.modes[0], n * F + f, s);
      }
  }
  int64_t out_;
};

// The registry plus the test-only types above.
inline std::unique_ptr<Layer> test_factory(const std::string& type, LayerArgs& args) {
  std::unique_ptr<Layer> l;
  if (type == "t_scale") l = std::make_unique<TScale>(args);
  else if (type == "t_tanh") l = std::make_unique<TTanh>(args);
  else if (type == "t_add") l = std::make_unique<TAdd>(args);
  else if (type == "t_dense") l = std::make_unique<TDense>(args);
  else return create_layer(type, args);
  args.mark_used("type");
  args.finish(type);
  return l;
}

inline GraphOptions test_options(DType dtype = DType::F32) {
  GraphOptions o;
  o.dtype = dtype;
  o.factory = test_factory;
  o.init_seed = 5;
  return o;
}

// Parses a `model:` mapping written inline in a test.
inline YAML::Node yaml(const std::string& text) { return YAML::Load(text); }

// sum(out * r) over two f64 tensors: the scalar whose finite differences the gradient checks
// compare with a backward run from grad_output = r.
inline double weighted_sum(const Tensor& out, const Tensor& r) {
  double s = 0;
  for (int64_t i = 0; i < out.numel(); ++i) s += out.data<double>()[i] * r.data<double>()[i];
  return s;
}

}  // namespace te::testing
