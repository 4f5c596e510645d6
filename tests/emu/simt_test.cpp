// The SIMT emulation itself (kernels/cuda/emu): built-in variables, block barriers, warp
// primitives with CUDA's lane rules, atomics, dynamic shared memory, the launch checks a GPU
// makes, the errors for what a GPU leaves undefined (divergent barriers, missing lanes), the
// race check, and the toolkit's bf16/f16 rounding. The kernels below are written here and
// compiled like our .cu files in the emulation build.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "engine/core/half.h"
#include "kernels/cuda/emu/emulation.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/storage.cuh"
#include "tests/cuda/cuda_test_util.h"

namespace te::cuda_test {
namespace {

class Simt : public CudaTest {
 protected:
  void TearDown() override { te::emu::set_options(saved_); }
  te::emu::EmulationOptions saved_ = te::emu::options();
};

template <typename T>
std::vector<T> host_copy(const Tensor& t) {
  const Tensor h = t.to(Device::cpu());
  std::vector<T> out(static_cast<size_t>(h.nbytes() / sizeof(T)));
  std::memcpy(out.data(), h.raw(), h.nbytes());
  return out;
}

Tensor device_i32(int64_t n) { return Tensor::zeros({n}, DType::I32, gpu()); }

Tensor device_ints(const std::vector<int>& v) {
  Tensor h = Tensor::empty({static_cast<int64_t>(v.size())}, DType::I32);
  std::memcpy(h.raw(), v.data(), v.size() * sizeof(int));
  return h.to(gpu());
}

void expect_contains(const std::string& msg, const std::string& part) { expect_mentions(msg, {part}); }

// Kernels whose results a test reads run on the compute stream, which orders them after
// Tensor::zeros and before the copy back (the legacy default stream does not wait for it: with
// deferred streams the zeros would land after the kernel). Launches that must fail use the
// legacy stream, which runs them when issued, so the error surfaces at the launch.
cudaStream_t compute_stream() { return te::cuda::context().compute; }

// ---- kernels ----

__global__ void coordinates_kernel(int* out) {
  const int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const int thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const int per_block = blockDim.x * blockDim.y * blockDim.z;
  out[block * per_block + thread] = block * 1000 + thread;
}

// Reverses each block's slice through shared memory: right only with the barrier.
template <bool Barrier>
__global__ void reverse_kernel(const int* in, int* out) {
  __shared__ int tile[256];
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  tile[threadIdx.x] = in[i];
  if (Barrier) __syncthreads();
  out[i] = tile[blockDim.x - 1 - threadIdx.x];
}

__global__ void divergent_barrier_kernel(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

__global__ void early_exit_kernel(int* out) {
  if (threadIdx.x == 5) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

// kind: 0 down, 1 up, 2 xor, 3 idx; each lane shuffles its lane id.
__global__ void shuffle_kernel(int kind, int arg, int width, int* out) {
  const int lane = threadIdx.x;
  int v = 0;
  switch (kind) {
    case 0: v = __shfl_down_sync(0xffffffffu, lane, arg, width); break;
    case 1: v = __shfl_up_sync(0xffffffffu, lane, arg, width); break;
    case 2: v = __shfl_xor_sync(0xffffffffu, lane, arg, width); break;
    default: v = __shfl_sync(0xffffffffu, lane, arg, width); break;
  }
  out[lane] = v;
}

__global__ void shuffle_double_kernel(double* out) {
  const double v = 0.5 + threadIdx.x;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, v, 1);
}

__global__ void vote_kernel(unsigned* out) {
  const int pred = threadIdx.x % 3 == 0;
  out[threadIdx.x * 3] = __ballot_sync(0xffffffffu, pred);
  out[threadIdx.x * 3 + 1] = __any_sync(0xffffffffu, threadIdx.x == 7);
  out[threadIdx.x * 3 + 2] = __all_sync(0xffffffffu, threadIdx.x < 32);
}

// Lanes 16-31 leave before the shuffle their mask names.
__global__ void missing_lane_kernel(int* out) {
  if (threadIdx.x >= 16) return;
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, int(threadIdx.x), 1);
}

// The lower half shuffles among itself but reads lane 16, outside its mask.
__global__ void source_outside_mask_kernel(int* out) {
  if (threadIdx.x < 16) out[threadIdx.x] = __shfl_sync(0x0000ffffu, int(threadIdx.x), 16, 32);
}

// Warp 0 waits in a shuffle for lanes that wait at the block barrier first: a GPU hangs.
__global__ void deadlock_kernel(int* out) {
  if (threadIdx.x < 8) {
    out[threadIdx.x] = __shfl_down_sync(0xffffffffu, int(threadIdx.x), 1);
  } else {
    __syncthreads();
  }
}

__global__ void atomics_kernel(int* counter, unsigned long long* big, float* f, int* cas_winner) {
  atomicAdd(counter, 1);
  atomicAdd(big, 1ull << 33);
  atomicAdd(f, 0.5f);
  if (atomicCAS(cas_winner, -1, int(blockIdx.x * blockDim.x + threadIdx.x)) == -1) atomicAdd(counter, 1000);
}

__global__ void dynamic_shared_kernel(float* out, int floats) {
  TE_DYNAMIC_SHARED(float, buf);
  // Every element starts as the NaN pattern; each block writes its own values.
  if (threadIdx.x == 0) out[blockIdx.x * 2] = buf[floats - 1];
  __syncthreads();
  for (int i = threadIdx.x; i < floats; i += blockDim.x) buf[i] = float(blockIdx.x + 1);
  __syncthreads();
  if (threadIdx.x == 0) out[blockIdx.x * 2 + 1] = buf[floats - 1];
}

__global__ void noop_kernel(int* out) {
  if (out) out[0] = 1;
}

template <typename T>
__global__ void store_kernel(const float* in, T* out, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    te::cuda::dev::store(out, i, in[i]);
}

// ---- tests ----

TEST_F(Simt, BuiltInVariablesCoverAThreeDimensionalGrid) {
  const dim3 grid(3, 2, 2), block(4, 3, 2);
  const int64_t total = 3 * 2 * 2 * 4 * 3 * 2;
  Tensor out = device_i32(total);
  TE_LAUNCH(grid, block, 0, compute_stream(), coordinates_kernel)(static_cast<int*>(out.raw()));
  const std::vector<int> v = host_copy<int>(out);
  for (int b = 0; b < 12; ++b)
    for (int t = 0; t < 24; ++t) ASSERT_EQ(v[size_t(b * 24 + t)], b * 1000 + t) << b << " " << t;
}

TEST_F(Simt, BarrierOrdersSharedMemoryWithinEachBlock) {
  std::vector<int> init(512);
  for (size_t i = 0; i < init.size(); ++i) init[i] = int(i);
  const Tensor in = device_ints(init);
  Tensor out = device_i32(512);
  TE_LAUNCH(2, 256, 0, compute_stream(), reverse_kernel<true>)(static_cast<const int*>(in.raw()),
                                                       static_cast<int*>(out.raw()));
  const std::vector<int> v = host_copy<int>(out);
  for (int i = 0; i < 512; ++i) ASSERT_EQ(v[size_t(i)], (i / 256) * 256 + 255 - i % 256) << i;
}

TEST_F(Simt, RaceCheckCatchesAMissingBarrierAndPassesTheCorrectKernel) {
  std::vector<int> values(256);
  for (int i = 0; i < 256; ++i) values[size_t(i)] = i * 7 % 31 + 1;
  const Tensor seq = device_ints(values);
  Tensor out = device_i32(256);
  te::emu::set_options({/*race_check=*/true, te::emu::ThreadOrder::Forward});
  EXPECT_EQ(error_of([&] {
              TE_LAUNCH(1, 256, 0, nullptr, reverse_kernel<true>)(static_cast<const int*>(seq.raw()),
                                                                  static_cast<int*>(out.raw()));
            }),
            "");
  const std::string msg = error_of([&] {
    TE_LAUNCH(1, 256, 0, nullptr, reverse_kernel<false>)(static_cast<const int*>(seq.raw()),
                                                         static_cast<int*>(out.raw()));
  });
  expect_contains(msg, "reverse_kernel<false>");
  expect_contains(msg, "race between barriers");
}

TEST_F(Simt, DivergentBarriersAreAnErrorNotAHang) {
  Tensor out = device_i32(32);
  const std::string msg = error_of([&] {
    TE_LAUNCH(1, 32, 0, nullptr, divergent_barrier_kernel)(static_cast<int*>(out.raw()));
  });
  expect_contains(msg, "threads reach different barriers");
  expect_contains(msg, "simt_test.cpp:");
}

TEST_F(Simt, AThreadExitingWhileOthersWaitAtABarrierIsAnError) {
  Tensor out = device_i32(64);
  const std::string msg =
      error_of([&] { TE_LAUNCH(1, 64, 0, nullptr, early_exit_kernel)(static_cast<int*>(out.raw())); });
  expect_contains(msg, "thread (5, 0, 0) exited while");
  expect_contains(msg, "__syncthreads");
}

TEST_F(Simt, ShufflesFollowCudasLaneRules) {
  Tensor out = device_i32(32);
  auto run = [&](int kind, int arg, int width) {
    TE_LAUNCH(1, 32, 0, compute_stream(), shuffle_kernel)(kind, arg, width, static_cast<int*>(out.raw()));
    return host_copy<int>(out);
  };
  // down 1 within segments of 8: lane 7 is the top of its segment and keeps its own value.
  std::vector<int> v = run(0, 1, 8);
  EXPECT_EQ(v[6], 7);
  EXPECT_EQ(v[7], 7);
  EXPECT_EQ(v[8], 9);
  EXPECT_EQ(v[31], 31);
  // down 16 over the whole warp.
  v = run(0, 16, 32);
  EXPECT_EQ(v[0], 16);
  EXPECT_EQ(v[15], 31);
  EXPECT_EQ(v[16], 16);
  // up 3 within segments of 8: lanes below 3 of a segment keep their value.
  v = run(1, 3, 8);
  EXPECT_EQ(v[2], 2);
  EXPECT_EQ(v[3], 0);
  EXPECT_EQ(v[10], 10);
  EXPECT_EQ(v[11], 8);
  // xor 4 inside segments of 16. With xor 16 and width 16, lanes of the first segment would
  // read a later segment (their own value instead); lanes of the second read an earlier one,
  // which CUDA allows.
  v = run(2, 4, 16);
  EXPECT_EQ(v[0], 4);
  EXPECT_EQ(v[21], 17);
  v = run(2, 16, 16);
  EXPECT_EQ(v[3], 3);
  EXPECT_EQ(v[20], 4);
  // idx 5 within segments of 8 reads lane 5 of its own segment; 13 wraps to 5 (13 % 8).
  v = run(3, 5, 8);
  EXPECT_EQ(v[0], 5);
  EXPECT_EQ(v[9], 13);
  EXPECT_EQ(v[31], 29);
  v = run(3, 13, 8);
  EXPECT_EQ(v[17], 21);
  // A 64-bit value crosses whole.
  Tensor d = Tensor::zeros({32}, DType::F64, gpu());
  TE_LAUNCH(1, 32, 0, compute_stream(), shuffle_double_kernel)(static_cast<double*>(d.raw()));
  const std::vector<double> dv = host_copy<double>(d);
  EXPECT_EQ(dv[0], 1.5);
  EXPECT_EQ(dv[1], 0.5);
  EXPECT_EQ(dv[30], 31.5);
}

TEST_F(Simt, InvalidShuffleWidthIsAnError) {
  Tensor out = device_i32(32);
  const std::string msg = error_of([&] {
    TE_LAUNCH(1, 32, 0, nullptr, shuffle_kernel)(0, 1, 12, static_cast<int*>(out.raw()));
  });
  expect_contains(msg, "width 12 is not a power of 2");
}

TEST_F(Simt, VotesSeeEveryLane) {
  Tensor out = Tensor::zeros({96}, DType::I32, gpu());
  TE_LAUNCH(1, 32, 0, compute_stream(), vote_kernel)(static_cast<unsigned*>(out.raw()));
  const std::vector<unsigned> v = host_copy<unsigned>(out);
  unsigned want = 0;
  for (int l = 0; l < 32; l += 3) want |= 1u << l;
  for (int l = 0; l < 32; ++l) {
    EXPECT_EQ(v[size_t(l * 3)], want);
    EXPECT_EQ(v[size_t(l * 3 + 1)], 1u);
    EXPECT_EQ(v[size_t(l * 3 + 2)], 1u);
  }
}

TEST_F(Simt, LanesNamedInAMaskThatExitAreAnError) {
  Tensor out = device_i32(32);
  const std::string msg =
      error_of([&] { TE_LAUNCH(1, 32, 0, nullptr, missing_lane_kernel)(static_cast<int*>(out.raw())); });
  expect_contains(msg, "is named in the mask of __shfl_down_sync");
  expect_contains(msg, "has exited");
}

TEST_F(Simt, ReadingALaneOutsideTheMaskIsAnError) {
  Tensor out = device_i32(32);
  const std::string msg = error_of(
      [&] { TE_LAUNCH(1, 32, 0, nullptr, source_outside_mask_kernel)(static_cast<int*>(out.raw())); });
  expect_contains(msg, "reads lane 16");
  expect_contains(msg, "not in the mask");
}

TEST_F(Simt, AFullMaskInAPartialWarpIsAnError) {
  Tensor out = device_i32(48);
  const std::string msg =
      error_of([&] { TE_LAUNCH(1, 40, 0, nullptr, shuffle_kernel)(0, 1, 32, static_cast<int*>(out.raw())); });
  expect_contains(msg, "lanes 8-31 that this block does not have");
}

TEST_F(Simt, AWarpWaitingForLanesAtABarrierIsReportedAsAHang) {
  Tensor out = device_i32(32);
  const std::string msg =
      error_of([&] { TE_LAUNCH(1, 32, 0, nullptr, deadlock_kernel)(static_cast<int*>(out.raw())); });
  expect_contains(msg, "no thread can go on");
  expect_contains(msg, "threads 0-7: __shfl_down_sync");
  expect_contains(msg, "threads 8-31: __syncthreads");
}

// atomics_kernel's four targets on the device.
struct AtomicTargets {
  Tensor counter = device_i32(1), winner = device_ints({-1});
  Tensor big = Tensor::zeros({1}, DType::I64, gpu()), f = Tensor::zeros({1}, DType::F32, gpu());
  void launch(unsigned blocks, unsigned threads) {
    TE_LAUNCH(blocks, threads, 0, compute_stream(), atomics_kernel)(
        static_cast<int*>(counter.raw()), static_cast<unsigned long long*>(big.raw()),
        static_cast<float*>(f.raw()), static_cast<int*>(winner.raw()));
  }
};

TEST_F(Simt, AtomicsAddUpAndCompareAndSwapHasOneWinner) {
  AtomicTargets t;
  t.launch(4, 96);
  EXPECT_EQ(host_copy<int>(t.counter)[0], 384 + 1000);
  EXPECT_EQ(host_copy<int64_t>(t.big)[0], int64_t(384) << 33);
  EXPECT_EQ(host_copy<float>(t.f)[0], 192.0f);
  const int w = host_copy<int>(t.winner)[0];  // which thread wins depends on the order
  EXPECT_GE(w, 0);
  EXPECT_LT(w, 384);
}

TEST_F(Simt, RaceCheckSkipsLaunchesWithFloatAtomics) {
  AtomicTargets t;
  te::emu::set_options({/*race_check=*/true, te::emu::ThreadOrder::Forward});
  const uint64_t skipped = te::emu::race_checks_skipped();
  t.launch(2, 64);
  EXPECT_EQ(te::emu::race_checks_skipped(), skipped + 1);
  EXPECT_EQ(host_copy<int>(t.counter)[0], 128 + 1000);  // one run's effect, not two
}

TEST_F(Simt, DynamicSharedMemoryIsFreshPerBlockAndSizedByTheLaunch) {
  Tensor out = Tensor::zeros({6}, DType::F32, gpu());
  TE_LAUNCH(3, 64, 100 * sizeof(float), compute_stream(), dynamic_shared_kernel)(static_cast<float*>(out.raw()), 100);
  const std::vector<float> v = host_copy<float>(out);
  for (int b = 0; b < 3; ++b) {
    EXPECT_TRUE(std::isnan(v[size_t(b * 2)])) << "block " << b << " saw another block's data";
    EXPECT_EQ(v[size_t(b * 2 + 1)], float(b + 1));
  }
}

TEST_F(Simt, LaunchesAGpuWouldRefuseFail) {
  Tensor out = device_i32(1);
  int* p = static_cast<int*>(out.raw());
  expect_contains(error_of([&] { TE_LAUNCH(1, 1025, 0, nullptr, noop_kernel)(p); }),
                  "1025 threads per block");
  expect_contains(error_of([&] { TE_LAUNCH(dim3(1, 65536), 32, 0, nullptr, noop_kernel)(p); }),
                  "grid dimension");
  expect_contains(error_of([&] { TE_LAUNCH(dim3(1, 1, 1), dim3(1, 1, 65), 0, nullptr, noop_kernel)(p); }),
                  "block dimension");
  expect_contains(error_of([&] { TE_LAUNCH(0, 32, 0, nullptr, noop_kernel)(p); }), "empty grid");
  // Above 48 KiB of dynamic shared memory only after opting in, and never above the device's limit.
  const size_t big = 64 * 1024;
  expect_contains(error_of([&] { TE_LAUNCH(1, 32, big, nullptr, dynamic_shared_kernel)(nullptr, 1); }),
                  "without cudaFuncSetAttribute");
  ASSERT_EQ(cudaFuncSetAttribute(reinterpret_cast<const void*>(&dynamic_shared_kernel),
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, int(big)),
            cudaSuccess);
  Tensor shared_out = Tensor::zeros({2}, DType::F32, gpu());
  EXPECT_EQ(error_of([&] {
              TE_LAUNCH(1, 32, big, nullptr, dynamic_shared_kernel)(static_cast<float*>(shared_out.raw()),
                                                                   int(big / sizeof(float)));
            }),
            "");
  EXPECT_NE(cudaFuncSetAttribute(reinterpret_cast<const void*>(&dynamic_shared_kernel),
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, 300 * 1024),
            cudaSuccess);
  cudaGetLastError();
}

TEST_F(Simt, AHostPointerArgumentFailsAsOnAGpu) {
  int host_value = 0;
  const std::string msg = error_of([&] { TE_LAUNCH(1, 1, 0, nullptr, noop_kernel)(&host_value); });
  expect_contains(msg, "argument 0 of noop_kernel");
  expect_contains(msg, "neither device memory nor page-locked");
  EXPECT_EQ(host_value, 0);
}

TEST_F(Simt, SixteenBitStoresRoundLikeTheEngineOnEveryPattern) {
  // Every bf16/f16 pattern as a float, plus the values halfway between neighbours (ties go
  // to even) and just off them.
  std::vector<float> in;
  for (uint32_t h = 0; h < 65536; ++h) {
    in.push_back(bf16_to_float(static_cast<uint16_t>(h)));
    in.push_back(f16_to_float(static_cast<uint16_t>(h)));
    const float mid = bits_float((h << 16) | 0x8000u);
    in.push_back(mid);
    in.push_back(std::nextafter(mid, 0.0f));
  }
  const int n = static_cast<int>(in.size());
  const Tensor src = Tensor::from_vector({n}, in).to(gpu());
  Tensor bf = Tensor::zeros({n}, DType::BF16, gpu()), hf = Tensor::zeros({n}, DType::F16, gpu());
  TE_LAUNCH(64, 256, 0, compute_stream(), store_kernel<__nv_bfloat16>)(static_cast<const float*>(src.raw()),
                                                              static_cast<__nv_bfloat16*>(bf.raw()), n);
  TE_LAUNCH(64, 256, 0, compute_stream(), store_kernel<__half>)(static_cast<const float*>(src.raw()),
                                                       static_cast<__half*>(hf.raw()), n);
  const std::vector<uint16_t> b = host_copy<uint16_t>(bf), h = host_copy<uint16_t>(hf);
  int64_t bad = 0;
  for (int i = 0; i < n; ++i) {
    if (std::isnan(in[size_t(i)])) continue;  // NaN payloads may differ
    bad += b[size_t(i)] != float_to_bf16(in[size_t(i)]);
    bad += h[size_t(i)] != float_to_f16(in[size_t(i)]);
  }
  EXPECT_EQ(bad, 0);
}

}  // namespace
}  // namespace te::cuda_test
