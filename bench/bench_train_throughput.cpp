// Training throughput: full steps (forward, softmax cross-entropy, backward, SGD with momentum)
// of a model preset on synthetic data that already lives on the device, so only the engine's
// compute is measured. Prints images/s, ms/step and peak device memory; --json prints one JSON
// line (bench/compare_torch.py reads it).
//
//   bench_train_throughput --model resnet18 --batch 256 --size 224 --device cuda [--tf32]
//
// Without a CUDA backend or a usable GPU, --device cuda says why and exits 3. The CPU path
// always works (use a small batch and size there).
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/philox.h"
#include "engine/graph/graph.h"
#include "engine/optim/optimizer.h"
#include "kernels/softmax_xent.h"
#ifdef TE_WITH_CUDA
#include "kernels/cuda/context.h"
#include "kernels/cuda/cudnn_conv.h"
#include "kernels/cuda/ops_cuda.h"
#endif

namespace {

struct Options {
  std::string model = "resnet18";
  int64_t batch = 256, size = 224, classes = 1000;
  int warmup = 5, steps = 20;
  std::string device = "cuda";
  bool tf32 = false, deterministic = false, autotune = false, json = false;
};

te::Tensor random_tensor(const te::Shape& s, uint64_t seed, float lo, float hi) {
  te::CounterRng rng(seed, 0, 0);
  std::vector<float> v(static_cast<size_t>(s.numel()));
  for (auto& x : v) x = rng.uniform(lo, hi);
  return te::Tensor::from_vector(s, v);
}

void synchronize(te::Device device) {
#ifdef TE_WITH_CUDA
  if (device.is_cuda()) te::cuda::synchronize();
#else
  (void)device;
#endif
}

int run(const Options& o) {
  const te::Device device = te::Device::parse(o.device);
  if (device.is_cuda()) {
#ifndef TE_WITH_CUDA
    std::cerr << "this build has no CUDA backend; use --device cpu\n";
    return 3;
#else
    std::string why;
    if (!te::cuda::gpu_usable(&why)) {
      std::cerr << "no usable GPU: " << why << "\n";
      return 3;
    }
    te::cuda::initialize(device.index);
    te::cuda::set_allow_tf32(o.tf32);
    te::cuda::set_deterministic(o.deterministic);
    te::cuda::set_conv_autotune(o.autotune);
#endif
  }
  te::GraphOptions go;
  go.init_seed = 1;
  auto graph = te::Graph::build(YAML::Load("{preset: " + o.model + ", num_classes: " +
                                           std::to_string(o.classes) + "}"),
                                "bench", {3, o.size, o.size}, go);
  graph->to(device);
  te::OptimizerConfig oc;  // SGD, momentum 0.9, weight decay 5e-4
  auto optimizer = te::make_optimizer(oc, graph->num_parameters(), device, graph->no_decay_ranges());

  const te::Tensor images = random_tensor({o.batch, 3, o.size, o.size}, 7, -2.0f, 2.0f).to(device);
  std::vector<float> label_values(static_cast<size_t>(o.batch));
  for (int64_t i = 0; i < o.batch; ++i) label_values[i] = static_cast<float>((i * 7919) % o.classes);
  const te::Tensor labels = te::Tensor::from_vector({o.batch}, label_values, te::DType::I32).to(device);
  te::Tensor probs = te::Tensor::empty({o.batch, o.classes}, te::DType::F32, device);
  te::Tensor dlogits = te::Tensor::empty({o.batch, o.classes}, te::DType::F32, device);
  te::Tensor loss_sum = te::Tensor::zeros({1}, te::DType::F64, device);
  te::RunContext ctx;
  ctx.training = true;

  double last_loss = 0;
  auto step = [&](int i) {
    ctx.step = static_cast<uint64_t>(i);
    const te::Tensor& logits = graph->forward(images, ctx);
#ifdef TE_WITH_CUDA
    if (device.is_cuda()) {
      // Loss and gradient in one kernel, without waiting for the GPU (like a training loop that
      // reads the loss only when it logs).
      te::ops::cuda::softmax_xent_fused_async(logits, labels, 0.0, 1.0, probs, dlogits, loss_sum);
    } else
#endif
    {
      last_loss = te::ops::softmax_xent_forward(logits, labels, 0.0, probs);
      te::ops::softmax_xent_backward(probs, labels, 0.0, 1.0, dlogits);
    }
    graph->zero_grad();
    graph->backward(dlogits, ctx);
    optimizer->step(graph->parameters(), graph->gradients(), 0.1);
  };

  for (int i = 0; i < o.warmup; ++i) step(i);
  synchronize(device);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < o.steps; ++i) step(o.warmup + i);
  synchronize(device);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (device.is_cuda()) last_loss = loss_sum.to_f64_vector()[0] / static_cast<double>(o.batch);

  const double ms_per_step = 1000.0 * seconds / o.steps;
  const double images_per_s = static_cast<double>(o.batch) * o.steps / seconds;
  double peak_mib = -1, peak_reserved_mib = -1;
#ifdef TE_WITH_CUDA
  if (device.is_cuda()) {
    const auto stats = te::cuda::device_memory_stats();
    peak_mib = static_cast<double>(stats.peak_in_use_bytes) / (1024.0 * 1024.0);
    peak_reserved_mib = static_cast<double>(stats.peak_reserved_bytes) / (1024.0 * 1024.0);
  }
#endif
  if (o.json) {
    std::printf("{\"engine\": \"te\", \"model\": \"%s\", \"batch\": %lld, \"size\": %lld, "
                "\"device\": \"%s\", \"tf32\": %s, \"autotune\": %s, \"steps\": %d, "
                "\"images_per_s\": %.1f, \"ms_per_step\": %.2f, \"peak_mib\": %.1f, "
                "\"peak_reserved_mib\": %.1f, \"loss\": %.5f}\n",
                o.model.c_str(), (long long)o.batch, (long long)o.size, device.str().c_str(),
                o.tf32 ? "true" : "false", o.autotune ? "true" : "false", o.steps, images_per_s,
                ms_per_step, peak_mib, peak_reserved_mib, last_loss);
  } else {
    std::printf("%s batch %lld size %lld on %s, fp32, TF32 %s%s: %.1f images/s, %.2f ms/step, "
                "peak device memory %.1f MiB (reserved %.1f MiB), last loss %.4f\n",
                o.model.c_str(), (long long)o.batch, (long long)o.size, device.str().c_str(),
                o.tf32 ? "on" : "off", o.autotune ? ", autotune" : "", images_per_s, ms_per_step,
                peak_mib, peak_reserved_mib, last_loss);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Training-step throughput of a model preset on synthetic data"};
  app.add_option("--model", o.model, "model preset (resnet18, resnet50, resnet9, ...)");
  app.add_option("--batch", o.batch, "images per step")->check(CLI::PositiveNumber);
  app.add_option("--size", o.size, "image height and width")->check(CLI::PositiveNumber);
  app.add_option("--classes", o.classes, "number of classes")->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "untimed steps first (algorithm choice, allocation)");
  app.add_option("--steps", o.steps, "timed steps")->check(CLI::PositiveNumber);
  app.add_option("--device", o.device, "cuda, cuda:N or cpu");
  app.add_flag("--tf32", o.tf32, "allow TF32 tensor cores for fp32 convolutions and GEMMs");
  app.add_flag("--deterministic", o.deterministic, "deterministic cuDNN algorithms only");
  app.add_flag("--autotune", o.autotune, "time cuDNN engines per shape instead of heuristics");
  app.add_flag("--json", o.json, "print one JSON line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return run(o);
  } catch (const te::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
