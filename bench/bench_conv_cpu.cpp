// Times the CPU convolution (forward, input gradient, weight gradient) on ResNet-18's conv
// shapes at batch 8 (or argv[1]), 224x224 inputs, and prints GFLOP/s per pass plus the total
// conv time of one ResNet-18 training step (each shape weighted by how often ResNet-18 uses
// it; the stem conv skips the input gradient). Threads: TE_NUM_THREADS (default: all cores).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <vector>

#include "engine/core/parallel.h"
#include "engine/core/philox.h"
#include "kernels/conv2d.h"

namespace {

struct ConvShape {
  const char* name;
  int64_t c, hw, o, k, stride, pad;
  int uses;         // occurrences in ResNet-18
  bool input_grad;  // false for the stem conv (its input is the image)
};

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Best wall time of `reps` runs, and the CPU time (all threads) of that run: on a shared
// machine the CPU time shows the kernels' efficiency even when other jobs steal the cores.
struct Timing {
  double wall = 1e30, cpu = 0;
};

Timing time_of(const std::function<void()>& fn, int reps) {
  fn();  // warm-up: allocates the workspace
  Timing best;
  for (int r = 0; r < reps; ++r) {
    const double c0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (wall < best.wall) best = {wall, cpu_seconds() - c0};
  }
  return best;
}

te::Tensor filled(const te::Shape& shape, uint64_t seed) {
  te::Tensor t = te::Tensor::empty(shape);
  te::CounterRng rng(seed, 1, 0);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = rng.uniform(-1.0f, 1.0f);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 8;
  const int reps = 3;
  const std::vector<ConvShape> shapes = {
      {"conv1 7x7/2 3->64 @224", 3, 224, 64, 7, 2, 3, 1, false},
      {"layer1 3x3 64->64 @56", 64, 56, 64, 3, 1, 1, 4, true},
      {"layer2.0 3x3/2 64->128 @56", 64, 56, 128, 3, 2, 1, 1, true},
      {"layer2 3x3 128->128 @28", 128, 28, 128, 3, 1, 1, 3, true},
      {"layer2 down 1x1/2 64->128", 64, 56, 128, 1, 2, 0, 1, true},
      {"layer3.0 3x3/2 128->256 @28", 128, 28, 256, 3, 2, 1, 1, true},
      {"layer3 3x3 256->256 @14", 256, 14, 256, 3, 1, 1, 3, true},
      {"layer3 down 1x1/2 128->256", 128, 28, 256, 1, 2, 0, 1, true},
      {"layer4.0 3x3/2 256->512 @14", 256, 14, 512, 3, 2, 1, 1, true},
      {"layer4 3x3 512->512 @7", 512, 7, 512, 3, 1, 1, 3, true},
      {"layer4 down 1x1/2 256->512", 256, 14, 512, 1, 2, 0, 1, true},
  };
  std::printf("batch %lld, %d threads, best of %d\n", static_cast<long long>(n), te::num_threads(),
              reps);
  std::printf("GF/s per wall second (and per CPU second, all threads)\n");
  std::printf("%-28s %8s %13s %8s %13s %8s %13s %9s\n", "shape", "fwd ms", "GF/s", "dx ms", "GF/s",
              "dw ms", "GF/s", "scratch");
  double step_seconds = 0, step_cpu = 0, step_flops = 0, scratch_bytes = 0;
  for (const ConvShape& s : shapes) {
    te::ops::Conv2dParams p;
    p.kernel_h = p.kernel_w = s.k;
    p.stride_h = p.stride_w = s.stride;
    p.pad_h = p.pad_w = s.pad;
    const int64_t out = te::ops::conv_output_size(s.hw, s.k, s.stride, s.pad, 1);
    const te::Tensor x = filled(te::Shape{n, s.c, s.hw, s.hw}, 1);
    const te::Tensor w = filled(te::Shape{s.o, s.c, s.k, s.k}, 2);
    const te::Tensor dy = filled(te::Shape{n, s.o, out, out}, 3);
    te::Tensor y = te::Tensor::empty(dy.shape()), dx = te::Tensor::empty(x.shape());
    te::Tensor dw = te::Tensor::zeros(w.shape());
    te::ops::Conv2dWorkspace ws;
    const double flops = 2.0 * n * s.o * s.c * s.k * s.k * out * out;
    const Timing tf = time_of([&] { te::ops::conv2d_forward(x, w, nullptr, y, p, ws); }, reps);
    const Timing tx =
        time_of([&] { te::ops::conv2d_backward_input(dy, w, dx, false, p, ws); }, reps);
    const Timing tw =
        time_of([&] { te::ops::conv2d_backward_params(x, dy, dw, nullptr, p, ws); }, reps);
    std::printf("%-28s", s.name);
    for (const Timing& t : {tf, tx, tw})
      std::printf(" %8.2f %6.1f (%4.0f)", t.wall * 1e3, flops / t.wall * 1e-9,
                  flops / t.cpu * 1e-9);
    std::printf("  %6.1f MB\n", static_cast<double>(ws.cpu_bytes()) / (1 << 20));
    scratch_bytes += s.uses * static_cast<double>(ws.cpu_bytes());
    const double passes = s.input_grad ? 3 : 2;
    step_seconds += s.uses * (tf.wall + tw.wall + (s.input_grad ? tx.wall : 0));
    step_cpu += s.uses * (tf.cpu + tw.cpu + (s.input_grad ? tx.cpu : 0));
    step_flops += s.uses * passes * flops;
  }
  std::printf(
      "ResNet-18 convs, one training step: %.1f ms wall (%.1f GFLOP/s, %.1f images/s), "
      "%.1f ms CPU (%.1f GFLOP/s per CPU second)\n",
      step_seconds * 1e3, step_flops / step_seconds * 1e-9, n / step_seconds, step_cpu * 1e3,
      step_flops / step_cpu * 1e-9);
  std::printf("Conv scratch kept by ResNet-18's conv layers: %.0f MB\n", scratch_bytes / (1 << 20));
  return 0;
}
