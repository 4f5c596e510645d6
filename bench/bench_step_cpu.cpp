// One training step of a preset on the CPU: forward, softmax cross-entropy, backward and a
// plain SGD update over the flat buffers. Prints ms/step (with the forward/backward split) and
// images/s, averaged over several steps after one warm-up step. It also prints the process CPU
// time per step (all threads): on a machine shared with other jobs, CPU time / threads is a
// better estimate of the idle-machine step time than the wall clock.
//
//   bench_step_cpu [--model resnet18] [--batch 8] [--size 224] [--steps 3] [--threads N]
//                  [--classes 1000] [--channels 3] [--width 1.0] [--profile 1] [--fuse 0|1]
//
// The quickstart's network: --model simple_cnn --width 0.5 --channels 1 --size 28 --batch 128
//   --classes 10. bench/compare_torch_cpu.py runs the same step in PyTorch next to this.
// --profile 1 adds each layer's forward/backward ms per step and sums per layer type
// (bench/layer_timer.h wraps every layer). --fuse 0 runs the layers as listed, without the
// batch-norm + ReLU (+ add) fusion (engine/graph/fusion.h), to measure what fusion gains.
//
// The reference: PyTorch 1.13, 2 threads, resnet18 at batch 8, 3x224x224: ~13.5 img/s.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/core/parallel.h"
#include "engine/core/philox.h"
#include "engine/graph/graph.h"
#include "engine/layers/softmax_cross_entropy.h"
#include "bench/layer_timer.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// User + system CPU seconds of this process (all threads).
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = "resnet18";
  int64_t batch = 8, size = 224, steps = 3, classes = 1000, channels = 3;
  std::string width;  // empty: the preset's default (only the small presets accept one)
  bool profile = false;  // --profile 1: per-layer forward/backward times after the run
  bool fuse = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--model") model = v;
    else if (k == "--batch") batch = std::atoll(v);
    else if (k == "--size") size = std::atoll(v);
    else if (k == "--steps") steps = std::atoll(v);
    else if (k == "--classes") classes = std::atoll(v);
    else if (k == "--channels") channels = std::atoll(v);
    else if (k == "--width") width = v;
    else if (k == "--profile") profile = std::atoi(v) != 0;
    else if (k == "--fuse") fuse = std::atoi(v) != 0;
    else if (k == "--threads") te::set_num_threads(std::atoi(v));
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  try {
    const YAML::Node spec = YAML::Load("{preset: " + model + ", num_classes: " +
                                       std::to_string(classes) + ", in_channels: " +
                                       std::to_string(channels) +
                                       (width.empty() ? "" : ", width: " + width) + "}");
    te::bench::LayerTimer timer;
    te::GraphOptions options;
    options.fuse = fuse;
    if (profile) options.factory = timer.factory();
    auto graph = te::Graph::build(spec, "bench", {channels, size, size}, options);
    // Random inputs in [-2, 2) (roughly normalised pixels) and random labels.
    te::Tensor x = te::Tensor::empty({batch, channels, size, size});
    te::CounterRng rng(1, 0, 0);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = rng.uniform(-2.0f, 2.0f);
    te::Tensor labels = te::Tensor::empty({batch}, te::DType::I32);
    for (int64_t i = 0; i < batch; ++i) labels.data<int32_t>()[i] = static_cast<int32_t>(rng.below(classes));
    te::SoftmaxCrossEntropy loss_fn;
    te::Tensor grad = te::Tensor::empty({batch, classes});
    te::RunContext ctx;

    double total = 0, fwd = 0, bwd = 0, cpu = 0, loss = 0;
    for (int64_t s = 0; s <= steps; ++s) {  // step 0 is the warm-up
      ctx.step = static_cast<uint64_t>(s);
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_seconds();
      graph->zero_grad();
      loss = loss_fn.forward(graph->forward(x, ctx), labels);
      const double t_fwd = seconds_since(t0);
      loss_fn.backward(grad);
      graph->backward(grad, ctx);
      const double t_bwd = seconds_since(t0) - t_fwd;
      float* p = graph->parameters().data<float>();
      const float* g = graph->gradients().data<float>();
      for (int64_t i = 0; i < graph->num_parameters(); ++i) p[i] -= 0.01f * g[i];
      const double t = seconds_since(t0);
      const double c = cpu_seconds() - c0;
      std::printf("step %lld: %.1f ms (forward %.1f, backward %.1f), cpu %.1f ms, loss %.4f%s\n",
                  static_cast<long long>(s), t * 1e3, t_fwd * 1e3, t_bwd * 1e3, c * 1e3, loss,
                  s == 0 ? " (warm-up)" : "");
      if (s == 0) timer.reset();
      if (s > 0) {
        total += t;
        fwd += t_fwd;
        bwd += t_bwd;
        cpu += c;
      }
    }
    const double per_step = total / static_cast<double>(steps);
    std::printf(
        "%s%s, batch %lld, %lldx%lldx%lld, %d threads: %.1f ms/step (forward %.1f, backward %.1f), "
        "%.2f images/s; cpu %.1f ms/step (all threads)\n",
        model.c_str(), fuse ? "" : " (unfused)", static_cast<long long>(batch), static_cast<long long>(channels),
        static_cast<long long>(size),
        static_cast<long long>(size), te::num_threads(), per_step * 1e3, fwd / steps * 1e3,
        bwd / steps * 1e3, static_cast<double>(batch) / per_step, cpu / steps * 1e3);
    if (profile) timer.print(steps);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
