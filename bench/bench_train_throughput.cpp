// Training throughput: full steps (forward, softmax cross-entropy, backward, SGD with momentum
// 0.9, weight decay 5e-4 except BN parameters and biases, lr 0.1) of a model preset on synthetic
// data that already lives on the device, so only the engine's compute is measured. Prints
// images/s, ms/step and peak device memory (the caching allocator's peak of bytes handed out,
// over the whole run: model, optimizer state, activations, cuDNN workspace); --json prints one
// JSON line (bench/compare_torch.py reads it).
//
//   bench_train_throughput --model resnet18 --batch 256 --size 224 --device cuda [--tf32]
//       [--precision fp32|bf16|fp16] [--channels-last]
//
// --precision bf16|fp16 runs the trainer's mixed precision (GraphOptions::compute_dtype:
// activations and conv/linear weights in 16 bits, f32 masters, the loss on an f32 copy of the
// logits); fp16 uses a fixed loss scale of 1024 here (the trainer's is dynamic).
//
// Exit codes: 0 measured; 1 error; 3 no CUDA backend or no usable GPU for --device cuda (says
// why); 4 a setting the engine does not implement (bf16/fp16 and --channels-last on the
// CPU): the message starts "not supported yet:", and with --json a JSON line
// {"unsupported": [...]} is printed too, so callers can say so instead of inventing a number.
// Parse errors use CLI11's codes (>= 100). The CPU path always works (small batch and size).
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
#include "engine/train/step_capture.h"
#include "kernels/cast.h"
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
  std::string precision = "fp32";
  bool channels_last = false;
  bool tf32 = false, deterministic = false, autotune = false, json = false;
  bool cuda_graphs = true;  // as the trainer: forward/loss/backward replayed from a CUDA graph
};

constexpr int kExitNoGpu = 3;
constexpr int kExitUnsupported = 4;

// The settings asked for that the engine cannot run yet (empty: all supported). Checked before
// anything is built, so callers learn it at once and without a GPU.
std::vector<std::string> unsupported_settings(const Options& o) {
  std::vector<std::string> out;
  if (o.precision != "fp32" && o.device.rfind("cuda", 0) != 0)
    out.push_back("precision " + o.precision + " on the CPU (the CPU backend computes in fp32 only)");
  if (o.channels_last && o.device.rfind("cuda", 0) != 0)
    out.push_back("channels-last on the CPU (the CPU backend is NCHW only)");
  return out;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out;
}

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
  if (const auto missing = unsupported_settings(o); !missing.empty()) {
    std::string list, json_list;
    for (const auto& m : missing) {
      list += (list.empty() ? "" : "; ") + m;
      json_list += std::string(json_list.empty() ? "" : ", ") + "\"" + json_escape(m) + "\"";
    }
    std::cerr << "not supported yet: " << list << "\n";
    if (o.json)
      std::printf("{\"engine\": \"te\", \"model\": \"%s\", \"precision\": \"%s\", "
                  "\"channels_last\": %s, \"unsupported\": [%s]}\n",
                  json_escape(o.model).c_str(), o.precision.c_str(),
                  o.channels_last ? "true" : "false", json_list.c_str());
    return kExitUnsupported;
  }
  if (device.is_cuda()) {
#ifndef TE_WITH_CUDA
    std::cerr << "this build has no CUDA backend; use --device cpu\n";
    return kExitNoGpu;
#else
    std::string why;
    if (!te::cuda::gpu_usable(&why)) {
      std::cerr << "no usable GPU: " << why << "\n";
      return kExitNoGpu;
    }
    te::cuda::initialize(device.index);
    te::cuda::set_allow_tf32(o.tf32);
    te::cuda::set_deterministic(o.deterministic);
    te::cuda::set_conv_autotune(o.autotune);
#endif
  }
  te::GraphOptions go;
  go.init_seed = 1;
  if (o.precision == "bf16") go.compute_dtype = te::DType::BF16;
  if (o.precision == "fp16") go.compute_dtype = te::DType::F16;
  const double loss_scale = o.precision == "fp16" ? 1024.0 : 1.0;
  go.channels_last = o.channels_last;  // the random input means the same in either order
  auto graph = te::Graph::build(YAML::Load("{preset: " + o.model + ", num_classes: " +
                                           std::to_string(o.classes) + "}"),
                                "bench", {3, o.size, o.size}, go);
  graph->to(device);
  te::OptimizerConfig oc;  // SGD, momentum 0.9, weight decay 5e-4
  auto optimizer = te::make_optimizer(oc, graph->num_parameters(), device, graph->no_decay_ranges());

  te::Tensor images = random_tensor({o.batch, 3, o.size, o.size}, 7, -2.0f, 2.0f).to(device);
  if (graph->mixed_precision()) {
    te::Tensor lowp = te::Tensor::empty(images.shape(), graph->compute_dtype(), device);
    te::ops::cast_scale(images, lowp, 1.0);
    images = lowp;
  }
  std::vector<float> label_values(static_cast<size_t>(o.batch));
  for (int64_t i = 0; i < o.batch; ++i) label_values[i] = static_cast<float>((i * 7919) % o.classes);
  const te::Tensor labels = te::Tensor::from_vector({o.batch}, label_values, te::DType::I32).to(device);
  te::Tensor probs = te::Tensor::empty({o.batch, o.classes}, te::DType::F32, device);
  te::Tensor dlogits = te::Tensor::empty({o.batch, o.classes}, te::DType::F32, device);
  te::Tensor logits32 = te::Tensor::empty({o.batch, o.classes}, te::DType::F32, device);
  te::Tensor dlogits_lowp = te::Tensor::empty({o.batch, o.classes}, graph->compute_dtype(), device);
  te::Tensor loss_sum = te::Tensor::zeros({1}, te::DType::F64, device);
  te::RunContext ctx;
  ctx.training = true;

  double last_loss = 0;
  te::StepCapture capture(o.cuda_graphs, *graph);
  auto device_work = [&] {
    const te::Tensor* out = &graph->forward(images, ctx);
    if (graph->mixed_precision()) {  // the loss on an f32 copy, as the trainer does
      te::ops::cast_scale(*out, logits32, 1.0);
      out = &logits32;
    }
    const te::Tensor& logits = *out;
#ifdef TE_WITH_CUDA
    if (device.is_cuda()) {
      // Loss and gradient in one kernel, without waiting for the GPU (like a training loop that
      // reads the loss only when it logs).
      te::ops::cuda::softmax_xent_fused_async(logits, labels, 0.0, loss_scale, probs, dlogits, loss_sum);
    } else
#endif
    {
      last_loss = te::ops::softmax_xent_forward(logits, labels, 0.0, probs);
      te::ops::softmax_xent_backward(probs, labels, 0.0, 1.0, dlogits);
    }
    if (graph->mixed_precision()) {
      te::ops::cast_scale(dlogits, dlogits_lowp, 1.0);
      graph->backward(dlogits_lowp, ctx);
    } else {
      graph->backward(dlogits, ctx);
    }
  };
  auto step = [&](int i) {
    ctx.step = static_cast<uint64_t>(i);
    graph->zero_grad();
    // The device loss then holds the last step's, as the CPU path reports (zeroed before that
    // step only, so the timed steps do no extra work).
    if (i == o.warmup + o.steps - 1) loss_sum.zero();
    te::StepKey key;
    key.rows = o.batch;
    key.arena = graph->arena_address();
    key.input = images.raw();
    capture.run(key, device_work);
    graph->finish_backward(1.0 / loss_scale);
    optimizer->step(graph->parameters(), graph->gradients(), 0.1);
    graph->sync_compute_params();
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
                "\"device\": \"%s\", \"precision\": \"%s\", \"channels_last\": %s, "
                "\"tf32\": %s, \"autotune\": %s, \"cuda_graphs\": %s, \"warmup\": %d, \"steps\": %d, "
                "\"images_per_s\": %.1f, \"ms_per_step\": %.2f, \"peak_mib\": %.1f, "
                "\"peak_reserved_mib\": %.1f, \"loss\": %.9g, \"graph_replays\": %lld}\n",
                o.model.c_str(), (long long)o.batch, (long long)o.size, device.str().c_str(),
                o.precision.c_str(), o.channels_last ? "true" : "false", o.tf32 ? "true" : "false",
                o.autotune ? "true" : "false",
                capture.active() ? "true" : "false", o.warmup, o.steps,
                images_per_s, ms_per_step, peak_mib, peak_reserved_mib, last_loss,
                (long long)capture.replays());
  } else {
    char peak[96] = "peak device memory n/a (not a GPU run)";
    if (peak_mib >= 0)
      std::snprintf(peak, sizeof(peak), "peak device memory %.1f MiB (reserved %.1f MiB)", peak_mib,
                    peak_reserved_mib);
    std::printf("%s batch %lld size %lld on %s, %s%s, TF32 %s%s: %.1f images/s, %.2f ms/step, "
                "%s, last loss %.4f\n",
                o.model.c_str(), (long long)o.batch, (long long)o.size, device.str().c_str(),
                o.precision.c_str(), o.channels_last ? " channels-last" : "",
                o.tf32 ? "on" : "off", o.autotune ? ", autotune" : "", images_per_s, ms_per_step,
                peak, last_loss);
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
  app.add_option("--precision", o.precision,
                 "fp32, or bf16 / fp16 mixed precision (CUDA only)")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  app.add_flag("--channels-last", o.channels_last,
               "NHWC (channels-last) activations (CUDA only)");
  app.add_flag("--tf32", o.tf32, "allow TF32 tensor cores for fp32 convolutions and GEMMs");
  app.add_flag("--deterministic", o.deterministic, "deterministic cuDNN algorithms only");
  app.add_flag("--autotune", o.autotune, "time cuDNN engines per shape instead of heuristics");
  app.add_flag("--json", o.json, "print one JSON line");
  app.add_flag("!--no-cuda-graphs", o.cuda_graphs,
               "run forward/loss/backward eagerly instead of replaying a captured CUDA graph");
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
