// Data-parallel training step on CPU ranks: run under mpirun, e.g.
//   mpirun --oversubscribe -np 2 build/bench/bench_data_parallel [--model resnet18] [--batch 8]
//          [--size 64] [--steps 3] [--threads 1] [--bucket-mib 25]
// Each rank runs forward, loss and backward of a preset on its own random batch, then SGD,
// with the gradient average over all ranks (MPI_Allreduce over buckets of the flat gradient
// buffer) done two ways, one after the other on the same weights and batch:
// - after backward (DataParallel::average_gradients): step = compute + all-reduce, nothing hidden;
// - overlapped (train.allreduce_overlap, the trainer's default on CPU ranks): buckets reduced on
//   a communication thread while backward runs. Measured per step: compute (forward + backward,
//   until backward returns), the comm thread's time inside all-reduces (busy), and how long the
//   step then waited for the remaining buckets (exposed); hidden = busy - exposed, the
//   communication that ran behind backward.
// Rank 0 prints each step and a summary per mode, with the gradient bytes per step and the
// all-reduce's bus bandwidth (2 (N-1)/N x bytes / time, the ring's traffic per rank).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/core/parallel.h"
#include "engine/core/philox.h"
#include "engine/distributed/data_parallel.h"
#include "engine/distributed/launch_env.h"
#include "engine/distributed/mpi_communicator.h"
#include "engine/graph/graph.h"
#include "engine/layers/softmax_cross_entropy.h"

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  std::string model = "resnet18";
  int64_t batch = 8, size = 64, steps = 3, classes = 1000, bucket_mib = 25;
  int threads = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--model") model = v;
    else if (k == "--batch") batch = std::atoll(v);
    else if (k == "--size") size = std::atoll(v);
    else if (k == "--steps") steps = std::atoll(v);
    else if (k == "--threads") threads = std::atoi(v);
    else if (k == "--bucket-mib") bucket_mib = std::atoll(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  try {
    te::set_num_threads(threads);
    const te::LaunchInfo launch = te::detect_launch_from_environment();
    std::shared_ptr<te::Communicator> comm = te::make_mpi_communicator(launch, 600);
    te::DataParallel dp(comm, bucket_mib << 20);
    const YAML::Node spec = YAML::Load("{preset: " + model + ", num_classes: " + std::to_string(classes) +
                                       ", in_channels: 3}");
    auto graph = te::Graph::build(spec, "bench", {3, size, size}, te::GraphOptions{});
    dp.broadcast_from_root(graph->parameters());
    te::Tensor x = te::Tensor::empty({batch, 3, size, size});
    te::CounterRng rng(1, static_cast<uint64_t>(dp.rank()), 0);  // each rank its own batch
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = rng.uniform(-2.0f, 2.0f);
    te::Tensor labels = te::Tensor::empty({batch}, te::DType::I32);
    for (int64_t i = 0; i < batch; ++i) labels.data<int32_t>()[i] = static_cast<int32_t>(rng.below(classes));
    te::SoftmaxCrossEntropy loss_fn;
    te::Tensor grad = te::Tensor::empty({batch, classes});
    te::RunContext ctx;
    ctx.training = true;
    graph->set_gradients_ready_hook([&](int64_t o, int64_t n) { dp.gradients_ready(o, n); });
    const double bytes = static_cast<double>(graph->gradients().nbytes()), ranks = dp.size();
    for (const bool overlap : {false, true}) {
      double compute = 0, busy = 0, exposed = 0, total = 0;
      for (int64_t s = 0; s <= steps; ++s) {  // step 0 is the warm-up
        comm->barrier();  // steps start together, so the all-reduce time is not waiting for a peer
        const double busy0 = dp.overlap_busy_seconds();
        const auto t0 = std::chrono::steady_clock::now();
        graph->zero_grad();
        if (overlap) dp.arm_overlap(graph->gradients());
        loss_fn.forward(graph->forward(x, ctx), labels);
        loss_fn.backward(grad);
        graph->backward(grad, ctx);
        const double t_compute = seconds_since(t0);
        const auto t1 = std::chrono::steady_clock::now();
        if (overlap)
          dp.finish_overlap();
        else
          dp.average_gradients(graph->gradients());
        const double t_exposed = seconds_since(t1);
        const double t_busy = overlap ? dp.overlap_busy_seconds() - busy0 : t_exposed;
        float* p = graph->parameters().data<float>();
        const float* g = graph->gradients().data<float>();
        for (int64_t i = 0; i < graph->num_parameters(); ++i) p[i] -= 0.01f * g[i];
        const double t = seconds_since(t0);
        if (dp.is_root())
          std::printf("%s step %lld: %.1f ms (compute %.1f, all-reduce %.1f of which the step waited %.1f "
                      "after backward)%s\n",
                      overlap ? "overlapped" : "after-backward", static_cast<long long>(s), t * 1e3,
                      t_compute * 1e3, t_busy * 1e3, t_exposed * 1e3, s == 0 ? " (warm-up)" : "");
        if (s > 0) {
          compute += t_compute;
          busy += t_busy;
          exposed += t_exposed;
          total += t;
        }
      }
      const double n = static_cast<double>(steps);
      const double hidden = std::max(0.0, busy - exposed);
      if (dp.is_root())
        std::printf("%s: %s, %d ranks x batch %lld, %lldx%lld, %d thread(s) per rank, %.1f MiB of "
                    "gradients in %lld MiB buckets: %.1f ms/step = compute %.1f + waiting for the "
                    "all-reduce %.1f ms; all-reduce %.1f ms/step, hidden behind backward %.1f ms "
                    "(%.0f%%); bus bandwidth %.2f GB/s\n",
                    overlap ? "overlapped" : "after backward", model.c_str(), dp.size(),
                    static_cast<long long>(batch), static_cast<long long>(size), static_cast<long long>(size),
                    threads, bytes / 1048576.0, static_cast<long long>(bucket_mib), total / n * 1e3,
                    compute / n * 1e3, exposed / n * 1e3, busy / n * 1e3, hidden / n * 1e3,
                    busy > 0 ? 100.0 * hidden / busy : 0.0, 2.0 * (ranks - 1) / ranks * bytes / (busy / n) / 1e9);
    }
    comm->shutdown();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
