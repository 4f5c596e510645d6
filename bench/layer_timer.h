#pragma once
// Per-layer timing for the benchmarks: a GraphLayerFactory whose layers wrap the registry's
// and add up the wall time of each forward and backward. The wrapper hands the graph's bound
// parameter/buffer views to the wrapped layer before every call (Param handles are cheap).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph/graph.h"
#include "engine/layers/registry.h"

namespace te::bench {

struct LayerTime {
  std::string name, type;
  double forward = 0, backward = 0;  // seconds, summed over calls
};

class TimedLayer : public Layer {
 public:
  TimedLayer(std::unique_ptr<Layer> inner, std::shared_ptr<LayerTime> t)
      : inner_(std::move(inner)), t_(std::move(t)) {}
  std::string type() const override { return inner_->type(); }
  Shape output_shape(const std::vector<Shape>& in) const override { return inner_->output_shape(in); }
  void build(const std::vector<Shape>& in) override {
    inner_->build(in);
    if (params_.empty() && buffers_.empty()) {  // first build: expose the declarations
      params_ = inner_->params();
      buffers_ = inner_->buffers();
    }
  }
  void forward(const std::vector<const Tensor*>& in, Tensor& out, const RunContext& ctx) override {
    sync();
    const auto t0 = std::chrono::steady_clock::now();
    inner_->forward(in, out, ctx);
    t_->forward += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  void backward(const BackwardArgs& a) override {
    sync();
    const auto t0 = std::chrono::steady_clock::now();
    inner_->backward(a);
    t_->backward += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  int64_t saved_bytes(const std::vector<Shape>& in) const override { return inner_->saved_bytes(in); }

 private:
  void sync() {
    if (t_->name.empty()) {
      t_->name = name();
      t_->type = type();
    }
    for (size_t i = 0; i < params_.size(); ++i) {
      inner_->params()[i].value = params_[i].value;
      inner_->params()[i].grad = params_[i].grad;
    }
    for (size_t i = 0; i < buffers_.size(); ++i) inner_->buffers()[i].value = buffers_[i].value;
  }
  std::unique_ptr<Layer> inner_;
  std::shared_ptr<LayerTime> t_;
};

class LayerTimer {
 public:
  GraphLayerFactory factory() {
    return [this](const std::string& type, LayerArgs& args) -> std::unique_ptr<Layer> {
      times_.push_back(std::make_shared<LayerTime>());
      return std::make_unique<TimedLayer>(create_layer(type, args), times_.back());
    };
  }
  void reset() {
    for (auto& t : times_) t->forward = t->backward = 0;
  }
  // The layers by total time, and the sums per layer type; times divided by `steps`.
  void print(int64_t steps) const {
    std::vector<std::shared_ptr<LayerTime>> sorted = times_;
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
      return a->forward + a->backward > b->forward + b->backward;
    });
    std::printf("%-28s %-16s %9s %9s  (ms/step)\n", "layer", "type", "forward", "backward");
    for (const auto& t : sorted)
      std::printf("%-28s %-16s %9.2f %9.2f\n", t->name.c_str(), t->type.c_str(),
                  t->forward * 1e3 / steps, t->backward * 1e3 / steps);
    std::vector<LayerTime> by_type;
    for (const auto& t : times_) {
      auto it = std::find_if(by_type.begin(), by_type.end(),
                             [&](const LayerTime& b) { return b.type == t->type; });
      if (it == by_type.end()) it = by_type.insert(by_type.end(), LayerTime{"", t->type});
      it->forward += t->forward;
      it->backward += t->backward;
    }
    for (const auto& b : by_type)
      std::printf("%-28s %-16s %9.2f %9.2f\n", "(all)", b.type.c_str(), b.forward * 1e3 / steps,
                  b.backward * 1e3 / steps);
  }

 private:
  std::vector<std::shared_ptr<LayerTime>> times_;
};

}  // namespace te::bench
