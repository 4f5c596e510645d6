// Memory bandwidth of our own CUDA kernels (kernels/cuda/*.cu) at ResNet-like sizes, next to
// the device-to-device cudaMemcpy bandwidth measured in the same run.
//
//   bench_kernels [--batch 256] [--runs 20] [--filter bn] [--dtype f32|bf16|f16|all]
//                 [--json out.json]
//
// What is timed: the raw launchers (kernels/cuda/launchers.h) on one stream, not the
// Tensor-level te::ops::cuda functions, whose host-side checks and scratch allocations would
// mix host overhead into the kernel time of the small cases. A row that is several launches
// (batch norm = statistics + finalize + affine map) times them together.
//
// Storage types (--dtype, default all): the kernels that move activations are templates over
// f32, bf16 and f16 storage (kernels/cuda/storage.cuh), and each of their sections runs once
// per chosen dtype, f32 first. A 16-bit row is named as its f32 row plus " bf16" or " f16"
// (normalize and cast_scale name their types in the text); batch norm's statistics,
// parameters and their gradients stay f32 in every row. The float-only kernels (scale,
// softmax cross-entropy, the optimizer steps and reductions) run with f32 only; the
// cast_scale rows of mixed precision (f32 -> 16-bit parameter refresh, 16-bit -> f32
// gradient unscale) with bf16 and f16 only.
//
// Timing: each sample is one call between two cudaEvents; before every sample L2 is flushed
// by reading a buffer of twice the L2 size (our sum_of_squares kernel, outside the events: a
// read leaves clean lines, where a memset would leave dirty ones to be written back during the
// timed kernel), so tensors smaller than L2 are not read from it and the previous sample's
// outputs are already written back. A few untimed calls come first. The median of --runs
// samples is shown.
//
// Bytes counting rule ("minimal compulsory traffic"): every input element the operation must
// read is counted once and every output element it must produce is counted once, at its
// storage size (f32 4 B, bf16/f16 2 B, i32 4 B, u8 1 B, f64 8 B). Scratch the implementation
// chooses to use (partial sums, per-channel coefficients, per-row losses) and extra passes
// (batch norm reads x twice) are NOT counted, so an implementation that moves more than the
// minimum shows up as a lower effective GB/s. Per-channel vectors are counted too (they are
// negligible). GB/s is 1e9 bytes per second; "% memcpy" compares with cudaMemcpyAsync
// device-to-device of a 1 GiB buffer, counted as read + write (2 bytes moved per byte copied).
//
// Run time (estimated, not yet measured with the 16-bit rows): --dtype all is 121 rows (43
// f32, 39 each 16-bit) of 23 samples; they move 37 GB per round of samples, so 0.6 s of
// kernels at an effective 1.5 TB/s, plus 0.2 s of L2 flushes and event round trips, plus about
// 70 random fills of 6 ms of host work each, plus CUDA start-up and allocations: a few seconds
// on an H100/H200, far under the 120 s scripts/gpu_check.sh allows.
//
// Exit codes: 0 measured; 77 skipped because no usable GPU (or no CUDA device in this process),
// with a "skipped:" message (77 is the automake/ctest convention for a skipped test); 1 error.
#include <cuda_runtime.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/philox.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/launchers_cast.h"

namespace {
namespace launch = te::cuda::launch;

constexpr int kExitSkipped = 77;

struct Options {
  int64_t batch = 256;
  int runs = 20;
  int warmup = 3;
  std::string filter;
  std::string dtype = "all";
  std::string json;
};

// The storage types of launchers.h. The 16-bit ones are only declared there (host code passes
// pointers), so their sizes are spelled out here. `code` is cast_scale's type code.
template <typename T>
struct Storage;
template <>
struct Storage<float> {
  static constexpr const char* name = "f32";
  static constexpr int code = 0;
  static constexpr size_t size = 4;
};
template <>
struct Storage<__nv_bfloat16> {
  static constexpr const char* name = "bf16";
  static constexpr int code = 1;
  static constexpr size_t size = 2;
};
template <>
struct Storage<__half> {
  static constexpr const char* name = "f16";
  static constexpr int code = 2;
  static constexpr size_t size = 2;
};
template <typename T>
struct StorageTag {
  using type = T;
};

// Calls fn(StorageTag<T>{}) for each storage type --dtype chose, f32 first.
template <typename Fn>
void for_each_dtype(const Options& o, Fn&& fn) {
  if (o.dtype == "all" || o.dtype == "f32") fn(StorageTag<float>{});
  if (o.dtype == "all" || o.dtype == "bf16") fn(StorageTag<__nv_bfloat16>{});
  if (o.dtype == "all" || o.dtype == "f16") fn(StorageTag<__half>{});
}

// A row name for storage type T: the f32 name as it always was, a 16-bit one suffixed.
template <typename T>
std::string named(const std::string& base) {
  if constexpr (std::is_same_v<T, float>) return base;
  return base + " " + Storage<T>::name;
}

// A zeroed device buffer, freed when it goes out of scope.
struct DeviceBuffer {
  void* p = nullptr;
  size_t bytes = 0;
  explicit DeviceBuffer(size_t b) : bytes(b) {
    TE_CUDA_CHECK(cudaMalloc(&p, b > 0 ? b : 1));
    TE_CUDA_CHECK(cudaMemset(p, 0, b));  // accumulating outputs (dweight, flags) start at 0
  }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  float* f() const { return static_cast<float*>(p); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(p);
  }
};

// `count` elements of storage type T, zeroed.
template <typename T>
struct Elements : DeviceBuffer {
  explicit Elements(int64_t count) : DeviceBuffer(size_t(count) * Storage<T>::size) {}
  T* t() const { return as<T>(); }
};

// Repeats the first `chunk` bytes of dst over all `bytes` by doubling device-to-device copies.
void replicate_prefix(void* dst, size_t chunk, size_t bytes) {
  auto* d = static_cast<uint8_t*>(dst);
  for (size_t done = chunk; done < bytes;) {
    const size_t n = std::min(done, bytes - done);
    TE_CUDA_CHECK(cudaMemcpy(d + done, d, n, cudaMemcpyDeviceToDevice));
    done += n;
  }
  TE_CUDA_CHECK(cudaDeviceSynchronize());  // device-to-device cudaMemcpy does not wait
}

// Fills `bytes` of device memory with a host-generated random pattern of up to 4 MiB, repeated
// (generating hundreds of MiB on the host would take longer than the benchmark). Values are
// uniform in [lo, hi) for f32, random bytes for u8, labels in [0, k) for i32. Never zeros, so
// ReLU, max pooling and the optimizers see realistic data.
enum class Fill { F32, U8, Label };
void fill_random(void* dst, size_t bytes, uint64_t seed, Fill kind, float lo = -2.0f,
                 float hi = 2.0f, int32_t k = 1) {
  const size_t chunk = std::min<size_t>(bytes, size_t(4) << 20);
  std::vector<uint8_t> host(chunk);
  te::CounterRng rng(seed, 0, 0);
  if (kind == Fill::F32) {
    auto* v = reinterpret_cast<float*>(host.data());
    for (size_t i = 0; i < chunk / 4; ++i) v[i] = rng.uniform(lo, hi);
  } else if (kind == Fill::Label) {
    auto* v = reinterpret_cast<int32_t*>(host.data());
    for (size_t i = 0; i < chunk / 4; ++i)
      v[i] = static_cast<int32_t>(rng.uniform(0.0f, static_cast<float>(k))) % k;
  } else {
    for (size_t i = 0; i < chunk; ++i) host[i] = static_cast<uint8_t>(rng.uniform(0.0f, 256.0f));
  }
  TE_CUDA_CHECK(cudaMemcpy(dst, host.data(), chunk, cudaMemcpyHostToDevice));
  replicate_prefix(dst, chunk, bytes);
}

// Fills a buffer of storage type T with uniform values in [lo, hi): f32 directly; 16-bit by
// casting an f32 pattern of up to 1 Mi elements on the device (cast_scale, round to nearest
// even), then repeating it.
template <typename T>
void fill_values(const Elements<T>& dst, uint64_t seed, float lo = -2.0f, float hi = 2.0f) {
  if constexpr (std::is_same_v<T, float>) {
    fill_random(dst.p, dst.bytes, seed, Fill::F32, lo, hi);
  } else {
    const int64_t count = static_cast<int64_t>(dst.bytes / Storage<T>::size);
    const int64_t head = std::min<int64_t>(count, int64_t(1) << 20);
    DeviceBuffer staging(size_t(head) * 4);
    fill_random(staging.p, staging.bytes, seed, Fill::F32, lo, hi);
    launch::cast_scale(staging.p, 0, dst.p, Storage<T>::code, head, 1.0f, nullptr);
    TE_CUDA_CHECK(cudaDeviceSynchronize());
    replicate_prefix(dst.p, size_t(head) * Storage<T>::size, dst.bytes);
  }
}

struct Result {
  std::string name, shape, dtype;
  double bytes = 0, median_us = 0, min_us = 0, gbps = 0, pct_memcpy = 0;
};

class Bench {
 public:
  Bench(const Options& o, cudaStream_t s, size_t l2_bytes)
      : o_(o),
        s_(s),
        flush_(std::max<size_t>(2 * l2_bytes, size_t(64) << 20)),
        flush_partials_(launch::kReducePartials * sizeof(double) + sizeof(double)) {
    TE_CUDA_CHECK(cudaEventCreate(&start_));
    TE_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~Bench() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }

  // Median and minimum microseconds of `fn` (one call per sample, L2 flushed before each).
  std::pair<double, double> time_us(const std::function<void()>& fn) {
    for (int i = 0; i < o_.warmup; ++i) fn();
    std::vector<double> us;
    for (int i = 0; i < o_.runs; ++i) {
      auto* partials = flush_partials_.as<double>();
      launch::sum_of_squares(flush_.f(), static_cast<int64_t>(flush_.bytes / sizeof(float)),
                             partials, partials + launch::kReducePartials, s_);
      TE_CUDA_CHECK(cudaEventRecord(start_, s_));
      fn();
      TE_CUDA_CHECK(cudaEventRecord(stop_, s_));
      TE_CUDA_CHECK(cudaEventSynchronize(stop_));
      float ms = 0;
      TE_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
      us.push_back(1000.0 * ms);
    }
    std::sort(us.begin(), us.end());
    const size_t m = us.size() / 2;
    const double median = us.size() % 2 ? us[m] : 0.5 * (us[m - 1] + us[m]);
    return {median, us.front()};
  }

  bool wanted(const std::string& name) const {
    return o_.filter.empty() || name.find(o_.filter) != std::string::npos;
  }

  // Times `fn` and records a row of storage type `dtype`; `bytes` by the rule in the header
  // comment.
  void run(const std::string& name, const std::string& shape, const char* dtype, double bytes,
           const std::function<void()>& fn) {
    if (!wanted(name)) return;
    const auto [median, best] = time_us(fn);
    Result r;
    r.name = name;
    r.shape = shape;
    r.dtype = dtype;
    r.bytes = bytes;
    r.median_us = median;
    r.min_us = best;
    r.gbps = bytes / (median * 1e-6) / 1e9;
    r.pct_memcpy = memcpy_gbps > 0 ? 100.0 * r.gbps / memcpy_gbps : 0;
    print_row(r);
    results.push_back(r);
  }
  // The f32 rows (the float-only kernels).
  void run(const std::string& name, const std::string& shape, double bytes,
           const std::function<void()>& fn) {
    run(name, shape, "f32", bytes, fn);
  }

  static void print_header() {
    std::printf("%-40s %-20s %10s %10s %10s %9s %8s\n", "kernel", "shape", "MB moved",
                "median us", "min us", "GB/s", "% memcpy");
  }
  static void print_row(const Result& r) {
    std::printf("%-40s %-20s %10.1f %10.1f %10.1f %9.1f %8.1f\n", r.name.c_str(), r.shape.c_str(),
                r.bytes / 1e6, r.median_us, r.min_us, r.gbps, r.pct_memcpy);
    std::fflush(stdout);
  }

  double memcpy_gbps = 0;
  std::vector<Result> results;

 private:
  const Options& o_;
  cudaStream_t s_;
  DeviceBuffer flush_, flush_partials_;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

std::string dims(std::initializer_list<int64_t> d) {
  std::string s = "[";
  for (int64_t v : d) s += (s.size() > 1 ? "," : "") + std::to_string(v);
  return s + "]";
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out;
}

// ResNet shapes at batch N: the stem output (maxpool input), layer1 and layer4 activations.
struct Shapes {
  int64_t N = 0;
  int sm_count = 0;
  static constexpr int64_t stem_c = 64, stem_hw = 112, l1_c = 64, l1_hw = 56, l4_c = 512,
                           l4_hw = 7;
};

// ---- element-wise and activations on a layer1 activation ----
template <typename T>
void bench_elementwise(Bench& b, const Shapes& sh, cudaStream_t s) {
  constexpr double e = Storage<T>::size;
  const char* dt = Storage<T>::name;
  const int64_t n_l1 = sh.N * sh.l1_c * sh.l1_hw * sh.l1_hw;
  const std::string s_l1 = dims({sh.N, sh.l1_c, sh.l1_hw, sh.l1_hw});
  Elements<T> x(n_l1), y(n_l1), dy(n_l1), dx(n_l1);
  fill_values(x, 1);
  fill_values(dy, 2);
  const double n = double(n_l1);
  b.run(named<T>("relu forward"), s_l1, dt, 2 * e * n,
        [&] { launch::activation_forward<T>(0, x.t(), y.t(), n_l1, s); });
  launch::activation_forward<T>(0, x.t(), y.t(), n_l1, s);  // y for the backward
  b.run(named<T>("relu backward (reads y, dy)"), s_l1, dt, 3 * e * n, [&] {
    launch::activation_backward<T>(0, nullptr, y.t(), dy.t(), dx.t(), n_l1, false, s);
  });
  b.run(named<T>("gelu forward"), s_l1, dt, 2 * e * n,
        [&] { launch::activation_forward<T>(1, x.t(), y.t(), n_l1, s); });
  b.run(named<T>("gelu backward (reads x, dy)"), s_l1, dt, 3 * e * n, [&] {
    launch::activation_backward<T>(1, x.t(), nullptr, dy.t(), dx.t(), n_l1, false, s);
  });
  b.run(named<T>("silu forward"), s_l1, dt, 2 * e * n,
        [&] { launch::activation_forward<T>(3, x.t(), y.t(), n_l1, s); });
  const T* two[2] = {x.t(), dy.t()};
  b.run(named<T>("add_n, 2 inputs (residual add)"), s_l1, dt, 3 * e * n,
        [&] { launch::add_n<T>(two, 2, y.t(), n_l1, s); });
  // copy_or_add with accumulate (its copy is a cudaMemcpyAsync).
  b.run(named<T>("add_inplace (dst += src)"), s_l1, dt, 3 * e * n,
        [&] { launch::add_inplace<T>(dy.t(), dx.t(), n_l1, s); });
  if constexpr (std::is_same_v<T, float>)
    b.run("scale (x *= f)", s_l1, 8 * n, [&] { launch::scale(dx.f(), 0.999f, n_l1, s); });
}

// ---- batch norm (training), plain and fused with residual add + ReLU, on layer1 and layer4
// activations; statistics, parameters and their gradients are f32 whatever T is ----
template <typename T>
void bench_batchnorm(Bench& b, const Shapes& sh, cudaStream_t s) {
  constexpr double e = Storage<T>::size;
  const char* dt = Storage<T>::name;
  const int64_t N = sh.N;
  struct BnShape {
    int64_t c, hw;
  };
  for (const BnShape bs : {BnShape{sh.l1_c, sh.l1_hw}, BnShape{sh.l4_c, sh.l4_hw}}) {
    const int64_t C = bs.c, HW = bs.hw * bs.hw, total = N * C * HW;
    const std::string shape = dims({N, C, bs.hw, bs.hw});
    Elements<T> x(total), y(total), dy(total), dx(total), r(total), dr(total);
    DeviceBuffer w(C * 4), bias(C * 4), rm(C * 4), rv(C * 4), sm(C * 4), si(C * 4), dw(C * 4),
        db(C * 4), coef(3 * C * 4);
    const int splits = launch::channel_splits(N, C, HW, sh.sm_count);
    DeviceBuffer partials(size_t(C) * splits * 2 * 8);
    fill_values(x, 3);
    fill_values(dy, 4);
    fill_random(w.p, w.bytes, 5, Fill::F32, 0.5f, 1.5f);
    fill_random(bias.p, bias.bytes, 6, Fill::F32, -0.5f, 0.5f);
    fill_random(rm.p, rm.bytes, 7, Fill::F32, -0.1f, 0.1f);
    fill_random(rv.p, rv.bytes, 8, Fill::F32, 0.5f, 1.5f);
    auto* pp = partials.as<double>();
    const double n = double(total), c = double(C);
    // Forward: reads x, weight, bias, running stats; writes y, running stats, save_mean/invstd.
    auto stats = [&] {
      launch::channel_sums<T>(x.t(), N, C, HW, splits, pp, s);
    };
    auto finalize = [&] {
      launch::bn_finalize_train(pp, splits, C, N * HW, 1e-5f, 0.1f, w.f(), bias.f(), rm.f(),
                                rv.f(), nullptr, sm.f(), si.f(), coef.f(), s);
    };
    // Plain batch norm runs the fused passes with no residual and no ReLU.
    auto affine = [&] {
      launch::bn_act_apply<T>(x.t(), nullptr, y.t(), coef.f(), N, C, HW, false, s);
    };
    b.run(named<T>("bn forward train (3 launches)"), shape, dt, 2 * e * n + 4 * 8 * c, [&] {
      stats();
      finalize();
      affine();
    });
    b.run(named<T>("  bn forward: channel_sums"), shape, dt, e * n, stats);
    b.run(named<T>("  bn forward: apply"), shape, dt, 2 * e * n, affine);
    // Backward: reads x, dy, weight, save_mean/invstd; writes dx, adds into dweight/dbias.
    auto bstats = [&] {
      launch::bn_act_backward_sums<T>(dy.t(), nullptr, x.t(), sm.f(), si.f(), N, C, HW, splits,
                                      pp, s);
    };
    auto bfinal = [&] {
      launch::bn_backward_finalize(pp, splits, C, N * HW, true, w.f(), sm.f(), si.f(), dw.f(),
                                   db.f(), coef.f(), s);
    };
    auto apply = [&] {
      launch::bn_act_backward_apply<T>(dy.t(), nullptr, x.t(), dx.t(), false, nullptr, false,
                                       coef.f(), N, C, HW, s);
    };
    stats();
    finalize();
    b.run(named<T>("bn backward train (3 launches)"), shape, dt, 3 * e * n + 7 * 4 * c, [&] {
      bstats();
      bfinal();
      apply();
    });
    b.run(named<T>("  bn backward: sums"), shape, dt, 2 * e * n, bstats);
    b.run(named<T>("  bn backward: apply"), shape, dt, 3 * e * n, apply);

    // Fused (batchnorm_act.cu), as a bottleneck's last batch norm runs:
    // y = relu(bn(x) + r). Forward: reads x, r, weight, bias, running stats; writes y, running
    // stats, save_mean/invstd. The statistics pass is the plain one (timed above).
    fill_values(r, 9);
    auto act_apply = [&] {
      launch::bn_act_apply<T>(x.t(), r.t(), y.t(), coef.f(), N, C, HW, true, s);
    };
    b.run(named<T>("bn+add+relu forward (3 launches)"), shape, dt, 3 * e * n + 4 * 8 * c, [&] {
      stats();
      finalize();
      act_apply();
    });
    b.run(named<T>("  bn+add+relu forward: apply"), shape, dt, 3 * e * n, act_apply);
    // Backward: reads dy, y (the ReLU mask), x, weight, save_mean/invstd; writes dx and the
    // residual's gradient dr, adds into dweight/dbias.
    stats();
    finalize();
    act_apply();  // y with its zeros, for the mask
    auto act_bstats = [&] {
      launch::bn_act_backward_sums<T>(dy.t(), y.t(), x.t(), sm.f(), si.f(), N, C, HW, splits,
                                      pp, s);
    };
    auto act_bapply = [&] {
      launch::bn_act_backward_apply<T>(dy.t(), y.t(), x.t(), dx.t(), false, dr.t(), false,
                                       coef.f(), N, C, HW, s);
    };
    b.run(named<T>("bn+add+relu backward (3 launches)"), shape, dt, 5 * e * n + 7 * 4 * c, [&] {
      act_bstats();
      bfinal();
      act_bapply();
    });
    b.run(named<T>("  bn+add+relu backward: sums"), shape, dt, 3 * e * n, act_bstats);
    b.run(named<T>("  bn+add+relu backward: apply"), shape, dt, 5 * e * n, act_bapply);
  }
}

// ---- pooling: the stem's 3x3/2 max pool (and an average pool of the same geometry), the
// head's global average pool ----
template <typename T>
void bench_pooling(Bench& b, const Shapes& sh, cudaStream_t s) {
  constexpr double e = Storage<T>::size;
  const char* dt = Storage<T>::name;
  {
    const int64_t planes = sh.N * sh.stem_c, in_plane = sh.stem_hw * sh.stem_hw,
                  out_plane = sh.l1_hw * sh.l1_hw;
    const std::string shape = dims({sh.N, sh.stem_c, sh.stem_hw, sh.stem_hw});
    Elements<T> x(planes * in_plane), y(planes * out_plane), dy(planes * out_plane),
        dx(planes * in_plane);
    DeviceBuffer arg(planes * out_plane * 4);
    fill_values(x, 9);
    fill_values(dy, 10);
    launch::PoolGeometry g;
    g.planes = planes;
    g.h = g.w = sh.stem_hw;
    g.oh = g.ow = sh.l1_hw;
    g.kh = g.kw = 3;
    g.sh = g.sw = 2;
    g.ph = g.pw = 1;
    const double in = double(planes * in_plane), out = double(planes * out_plane);
    // Forward writes y and the i32 argmax; backward reads dy and argmax, writes dx.
    b.run(named<T>("max_pool 3x3/2 forward"), shape, dt, e * in + (e + 4) * out,
          [&] { launch::max_pool_forward<T>(x.t(), y.t(), arg.as<int32_t>(), g, s); });
    launch::max_pool_forward<T>(x.t(), y.t(), arg.as<int32_t>(), g, s);
    // f32 zeroes dx and scatters with global atomics; 16-bit gathers each plane in float in
    // shared memory (shared-memory atomics) and rounds once on store.
    const char* scatter = std::is_same_v<T, float> ? "max_pool backward (memset+atomics)"
                                                   : "max_pool backward (shared atomics)";
    b.run(named<T>(scatter), shape, dt, (e + 4) * out + e * in, [&] {
      launch::max_pool_backward<T>(dy.t(), arg.as<int32_t>(), dx.t(), planes, in_plane,
                                   out_plane, false, false, s);
    });
    b.run(named<T>("max_pool backward (deterministic)"), shape, dt, (e + 4) * out + e * in, [&] {
      launch::max_pool_backward<T>(dy.t(), arg.as<int32_t>(), dx.t(), planes, in_plane,
                                   out_plane, false, true, s);
    });
    b.run(named<T>("avg_pool 3x3/2 forward"), shape, dt, e * in + e * out,
          [&] { launch::avg_pool_forward<T>(x.t(), y.t(), g, s); });
    b.run(named<T>("avg_pool 3x3/2 backward"), shape, dt, e * out + e * in,
          [&] { launch::avg_pool_backward<T>(dy.t(), dx.t(), g, false, s); });
  }
  {
    const int64_t planes = sh.N * sh.l4_c, hw = sh.l4_hw * sh.l4_hw;
    const std::string shape = dims({sh.N, sh.l4_c, sh.l4_hw, sh.l4_hw});
    Elements<T> x(planes * hw), y(planes), dx(planes * hw);
    fill_values(x, 11);
    fill_values(y, 12);
    const double in = double(planes * hw), out = double(planes);
    b.run(named<T>("global_avg_pool forward"), shape, dt, e * in + e * out,
          [&] { launch::global_avg_pool_forward<T>(x.t(), y.t(), planes, hw, s); });
    b.run(named<T>("global_avg_pool backward"), shape, dt, e * out + e * in,
          [&] { launch::global_avg_pool_backward<T>(y.t(), dx.t(), planes, hw, false, s); });
  }
}

// ---- softmax cross-entropy, fused forward + backward, as the training step calls it ----
void bench_softmax_xent(Bench& b, const Shapes& sh, cudaStream_t s) {
  const int64_t rows = sh.N, k = 1000;
  DeviceBuffer logits(rows * k * 4), labels(rows * 4), probs(rows * k * 4), grad(rows * k * 4),
      row_loss(rows * 8), sum(8);
  fill_random(logits.p, logits.bytes, 13, Fill::F32, -5.0f, 5.0f);
  fill_random(labels.p, labels.bytes, 14, Fill::Label, 0, 0, static_cast<int32_t>(k));
  const double e = double(rows * k);
  // Reads logits and labels; writes probs, grad and the loss sum.
  b.run("softmax_xent fused + loss sum", dims({rows, k}), 12 * e + 4 * double(rows) + 8, [&] {
    launch::softmax_xent(logits.f(), labels.as<int32_t>(), rows, k, 0.0f, probs.f(),
                         row_loss.as<double>(), grad.f(), 1.0f / float(rows), nullptr, s);
    launch::sum_f64(row_loss.as<double>(), rows, sum.as<double>(), s);
  });
}

// ---- optimizer steps and gradient reductions over ResNet-50's 25.6 M parameters ----
void bench_optim(Bench& b, cudaStream_t s) {
  const int64_t n = 25557032;
  const std::string shape = dims({n});
  DeviceBuffer p(n * 4), g(n * 4), m(n * 4), v(n * 4), mask(n),
      partials(launch::kReducePartials * 8), out(8), flag(4);
  fill_random(p.p, p.bytes, 15, Fill::F32, -0.1f, 0.1f);
  fill_random(g.p, g.bytes, 16, Fill::F32, -0.01f, 0.01f);
  fill_random(m.p, m.bytes, 17, Fill::F32, -0.01f, 0.01f);
  fill_random(v.p, v.bytes, 18, Fill::F32, 0.0f, 1e-4f);
  fill_random(mask.p, mask.bytes, 19, Fill::U8);
  const double e = double(n);
  // SGD with momentum: reads p, g, buf, mask; writes p, buf.
  b.run("sgd_step momentum + wd mask", shape, 21 * e, [&] {
    launch::sgd_step(p.f(), g.f(), m.f(), mask.as<uint8_t>(), n, 0.1f, 0.9f, 5e-4f, false,
                     false, s);
  });
  // AdamW: reads p, g, m, v, mask; writes p, m, v.
  b.run("adamw_step + wd mask", shape, 29 * e, [&] {
    launch::adamw_step(p.f(), g.f(), m.f(), v.f(), mask.as<uint8_t>(), n, 0.9999f, 0.1f,
                       0.999f, 0.001f, 1e-8f, 1e-3f, 0.03f, s);
  });
  b.run("sum_of_squares (grad norm)", shape, 4 * e + 8, [&] {
    launch::sum_of_squares(g.f(), n, partials.as<double>(), out.as<double>(), s);
  });
  b.run("flag_nonfinite", shape, 4 * e,
        [&] { launch::flag_nonfinite(g.f(), n, flag.as<int>(), s); });
}

// ---- input normalisation: uint8 NHWC batch -> T NCHW ----
template <typename T>
void bench_normalize(Bench& b, const Shapes& sh, cudaStream_t s) {
  constexpr double e = Storage<T>::size;
  const int64_t hw = 224 * 224, c = 3, total = sh.N * hw * c;
  DeviceBuffer in(total);
  Elements<T> out(total);
  fill_random(in.p, in.bytes, 20, Fill::U8);
  launch::ChannelAffine a{};
  for (int i = 0; i < c; ++i) {
    a.scale[i] = 1.0f / (255.0f * 0.25f);
    a.shift[i] = -0.45f / 0.25f;
  }
  b.run(std::string("normalize u8 NHWC -> ") + Storage<T>::name + " NCHW",
        dims({sh.N, 224, 224, c}), Storage<T>::name, (1 + e) * double(total),
        [&] { launch::normalize_u8_nhwc<T>(in.as<uint8_t>(), out.t(), sh.N, hw, c, a, s); });
}

// ---- mixed precision over ResNet-18's 11.7 M parameters: the f32 master weights cast to the
// 16-bit compute copy once per step (Graph::sync_compute_params), and the 16-bit gradients
// cast back to f32 with the loss scale's inverse (Graph::finish_backward) ----
template <typename T>
void bench_cast(Bench& b, cudaStream_t s) {
  constexpr double e = Storage<T>::size;
  const std::string t = Storage<T>::name;
  const int64_t n = 11689512;
  const std::string shape = dims({n});
  Elements<float> master(n), grad32(n);
  Elements<T> compute(n), grad16(n);
  fill_values(master, 21, -0.1f, 0.1f);
  fill_values(grad16, 22, -1.0f, 1.0f);  // loss-scaled gradients
  b.run("cast_scale f32 -> " + t + " (param refresh)", shape, t.c_str(), (4 + e) * double(n), [&] {
    launch::cast_scale(master.p, 0, compute.p, Storage<T>::code, n, 1.0f, s);
  });
  b.run("cast_scale " + t + " -> f32 (grad unscale)", shape, t.c_str(), (e + 4) * double(n), [&] {
    launch::cast_scale(grad16.p, Storage<T>::code, grad32.p, 0, n, 1.0f / 1024.0f, s);
  });
}

int run(const Options& o) {
  std::string why;
  if (!te::cuda::gpu_usable(&why)) {
    std::printf("bench_kernels: skipped: no usable GPU (%s)\n", why.c_str());
    return kExitSkipped;
  }
  TE_CUDA_CHECK(cudaSetDevice(0));
  cudaDeviceProp prop{};
  TE_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  cudaStream_t s = nullptr;
  TE_CUDA_CHECK(cudaStreamCreate(&s));  // blocking: ordered after the fills' default-stream work
  Bench b(o, s, static_cast<size_t>(prop.l2CacheSize));
  std::printf("bench_kernels on %s (sm_%d%d, %d SMs, L2 %.0f MiB, %.1f GiB), batch %lld, "
              "median of %d samples after %d warm-up calls, L2 flushed before each sample, "
              "storage %s (16-bit rows suffixed bf16/f16)\n",
              prop.name, prop.major, prop.minor, prop.multiProcessorCount,
              prop.l2CacheSize / 1048576.0, prop.totalGlobalMem / 1073741824.0,
              (long long)o.batch, o.runs, o.warmup,
              o.dtype == "all" ? "f32, bf16, f16" : o.dtype.c_str());

  // ---- the reference: device-to-device copy of 1 GiB ----
  {
    const size_t bytes = size_t(1) << 30;
    DeviceBuffer src(bytes), dst(bytes);
    TE_CUDA_CHECK(cudaMemsetAsync(src.p, 1, bytes, s));
    const auto [median, best] = b.time_us([&] {
      TE_CUDA_CHECK(cudaMemcpyAsync(dst.p, src.p, bytes, cudaMemcpyDeviceToDevice, s));
    });
    (void)best;
    b.memcpy_gbps = 2.0 * double(bytes) / (median * 1e-6) / 1e9;
    std::printf("reference: cudaMemcpyAsync device-to-device, 1024 MiB: %.1f us, %.1f GB/s "
                "(read + write)\n\n",
                median, b.memcpy_gbps);
  }
  Bench::print_header();

  Shapes sh;
  sh.N = o.batch;
  sh.sm_count = prop.multiProcessorCount;
  const bool f32 = o.dtype == "all" || o.dtype == "f32";
  for_each_dtype(o, [&](auto tag) { bench_elementwise<typename decltype(tag)::type>(b, sh, s); });
  for_each_dtype(o, [&](auto tag) { bench_batchnorm<typename decltype(tag)::type>(b, sh, s); });
  for_each_dtype(o, [&](auto tag) { bench_pooling<typename decltype(tag)::type>(b, sh, s); });
  if (f32) {
    bench_softmax_xent(b, sh, s);
    bench_optim(b, s);
  }
  for_each_dtype(o, [&](auto tag) { bench_normalize<typename decltype(tag)::type>(b, sh, s); });
  for_each_dtype(o, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, float>) bench_cast<T>(b, s);
  });
  TE_CUDA_CHECK(cudaStreamSynchronize(s));

  if (!o.json.empty()) {
    std::ofstream f(o.json);
    f << "{\"gpu\": \"" << json_escape(prop.name) << "\", \"batch\": " << o.batch
      << ", \"runs\": " << o.runs << ", \"dtype\": \"" << o.dtype
      << "\", \"memcpy_gbps\": " << b.memcpy_gbps << ", \"kernels\": [";
    for (size_t i = 0; i < b.results.size(); ++i) {
      const Result& r = b.results[i];
      f << (i ? ",\n  " : "\n  ") << "{\"name\": \"" << json_escape(r.name) << "\", \"shape\": \""
        << r.shape << "\", \"dtype\": \"" << r.dtype << "\", \"bytes\": " << r.bytes
        << ", \"median_us\": " << r.median_us << ", \"min_us\": " << r.min_us
        << ", \"gbps\": " << r.gbps << ", \"pct_memcpy\": " << r.pct_memcpy << "}";
    }
    f << "\n]}\n";
    if (!f) throw te::Error("cannot write " + o.json);
  }
  TE_CUDA_CHECK(cudaStreamDestroy(s));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Bandwidth of the engine's own CUDA kernels at ResNet-like sizes"};
  app.add_option("--batch", o.batch, "batch size of the ResNet shapes")->check(CLI::PositiveNumber);
  app.add_option("--runs", o.runs, "timed samples per kernel (median shown)")
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "untimed calls before the samples")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--filter", o.filter, "only kernels whose name contains this");
  app.add_option("--dtype", o.dtype,
                 "storage type of the activation kernels: f32, bf16, f16 or all (the float-only "
                 "kernels run with f32, the cast_scale rows with bf16 and f16)")
      ->check(CLI::IsMember({"f32", "bf16", "f16", "all"}));
  app.add_option("--json", o.json, "also write the results to this file");
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
