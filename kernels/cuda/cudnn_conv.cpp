// cuDNN 9 graph-API convolutions (see cudnn_conv.h). The steps for a new shape:
//   tensor descriptors (x, w, y with their real pointer alignment) -> convolution descriptor ->
//   one operation -> operation graph -> heuristics (mode A, then FALLBACK) -> the first engine
//   configuration whose numerical notes fit our switches and whose plan finalizes -> cache.
// The plan is then executed with a variant pack (pointers + workspace) on every call.
//
// Numerics filter (like PyTorch's): engines that down-convert inputs or use reduced-precision
// reductions are skipped for fp32; tensor-core (TF32) engines only when allow_tf32(); engines
// marked non-deterministic only when !deterministic().
//
// bf16/f16 storage: x, w and y (dx, dw, dy) all carry the 16-bit type, the compute type stays
// CUDNN_DATA_FLOAT. Tensor-core engines are what we want there (the TF32 switch is about f32
// inputs only); engines noted for reduced-precision reductions (f16 partial sums) are refused
// outright, so accumulation stays f32 (no relaxed second pass as for f32).
//
// Channels-last (ConvShape::layout NHWC): x and y (dx, dy) get NHWC strides, dims stay NCHW.
// The filter is first described as it lies in memory, KCRS (PyTorch's order, what parameters
// and checkpoints keep). cuDNN does not document engines for NHWC activations with a KCRS
// filter (its channels-last kernels, like the legacy API's NHWC filter format, read KRSC), so
// the heuristics may offer none: then the call runs on a KRSC copy of the filter in scratch,
// made by a small transpose kernel (filter_layout.cu) on every call; for backward-filter the
// KRSC gradient is transposed back into the KCRS dw. Both outcomes are cached per shape (the
// KCRS attempt as "no plan", so the graph is not rebuilt on every call).
//
// Device binding: cuDNN >= 9.8 binds heuristics and plans to a device-properties descriptor;
// the older binding through the handle (CUDNN_ATTR_OPERATIONGRAPH_HANDLE/EXECUTION_PLAN_HANDLE)
// is deprecated, so it is used per shape only where the device-properties path gives no plan
// (conv_plan_cache.h has the rules, tested without a GPU).
#include "kernels/cuda/cudnn_conv.h"

#include <cuda_runtime.h>
#include <cudnn.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/conv_plan_cache.h"
#include "kernels/cuda/filter_layout.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/lowp_epilogue.h"

namespace te::cuda {
namespace {

// Owns one backend descriptor.
class Desc {
 public:
  explicit Desc(cudnnBackendDescriptorType_t type) {
    TE_CUDNN_CHECK(cudnnBackendCreateDescriptor(type, &d_));
  }
  ~Desc() {
    if (d_) cudnnBackendDestroyDescriptor(d_);
  }
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  cudnnBackendDescriptor_t get() const { return d_; }
  cudnnBackendDescriptor_t* addr() { return &d_; }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

void set_attr(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name,
              cudnnBackendAttributeType_t type, int64_t count, const void* value) {
  TE_CUDNN_CHECK(cudnnBackendSetAttribute(d, name, type, count, value));
}

void set_desc(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name,
              cudnnBackendDescriptor_t value) {
  set_attr(d, name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &value);
}

// The largest power of two <= 16 that divides the address: what cuDNN may assume.
int64_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  int64_t align = 16;
  while (align > 1 && (a % static_cast<uintptr_t>(align)) != 0) align /= 2;
  return align;
}

cudnnDataType_t cudnn_type(DType t) {
  switch (t) {
    case DType::F32: return CUDNN_DATA_FLOAT;
    case DType::BF16: return CUDNN_DATA_BFLOAT16;
    case DType::F16: return CUDNN_DATA_HALF;
    default:
      throw Error(std::string("cuDNN convolution: dtype ") + dtype_name(t) +
                  " is not supported (f32, bf16 or f16)");
  }
}

// dims are [N, C, H, W] (or [K, C, R, S]); `layout` says how they lie in memory.
std::unique_ptr<Desc> make_tensor(int64_t uid, const int64_t dims[4], int64_t align,
                                  cudnnDataType_t dtype, Layout layout) {
  auto t = std::make_unique<Desc>(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  int64_t strides[4] = {dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1};
  if (layout == Layout::NHWC) {
    strides[1] = 1;
    strides[3] = dims[1];
    strides[2] = dims[3] * dims[1];
    strides[0] = dims[2] * dims[3] * dims[1];
  }
  set_attr(t->get(), CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dtype);
  set_attr(t->get(), CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
  set_attr(t->get(), CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides);
  set_attr(t->get(), CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
  set_attr(t->get(), CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
  TE_CUDNN_CHECK(cudnnBackendFinalize(t->get()));
  return t;
}

constexpr int64_t kUidX = 1, kUidW = 2, kUidY = 3;

// A finalized plan plus what executing it needs.
struct Plan {
  std::unique_ptr<Desc> plan;
  int64_t workspace = 0;
  std::string engine;  // for messages
  ConvBinding binding = ConvBinding::DeviceProp;
};
using Binding = ConvBinding;

#if CUDNN_VERSION >= 90800
// One device-properties descriptor for the process (made from the handle of the initialised
// device).
cudnnBackendDescriptor_t device_prop() {
  static Desc* prop = nullptr;  // never destroyed: see g_plans
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  if (!prop) {
    auto p = std::make_unique<Desc>(CUDNN_BACKEND_DEVICEPROP_DESCRIPTOR);
    cudnnHandle_t h = context().cudnn;
    set_attr(p->get(), CUDNN_ATTR_DEVICEPROP_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
    TE_CUDNN_CHECK(cudnnBackendFinalize(p->get()));
    prop = p.release();
  }
  return prop->get();
}
#endif

// The deprecated handle attributes, for cuDNN builds that refuse the device-properties path.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void bind_graph_to_handle(cudnnBackendDescriptor_t graph) {
  cudnnHandle_t h = context().cudnn;
  set_attr(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
}
cudnnStatus_t bind_plan_to_handle(cudnnBackendDescriptor_t plan) {
  cudnnHandle_t h = context().cudnn;
  return cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1,
                                  &h);
}
#pragma GCC diagnostic pop

// Numerical notes of the engine behind an engine configuration; false if they can't be read.
bool engine_notes(cudnnBackendDescriptor_t cfg, std::vector<cudnnBackendNumericalNote_t>& notes,
                  int64_t& global_index) {
  Desc engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  int64_t n = 0;
  cudnnBackendDescriptor_t e = engine.get();
  if (cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                               &n, &e) != CUDNN_STATUS_SUCCESS || n != 1)
    return false;
  cudnnBackendNumericalNote_t buf[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  int64_t count = 0;
  if (cudnnBackendGetAttribute(e, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                               CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &count, buf) != CUDNN_STATUS_SUCCESS)
    return false;
  const int64_t most = static_cast<int64_t>(CUDNN_NUMERICAL_NOTE_TYPE_COUNT);
  notes.assign(buf, buf + (count < most ? count : most));
  global_index = -1;
  cudnnBackendGetAttribute(e, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n,
                           &global_index);
  return true;
}

// `low_precision`: the tensors are bf16/f16 (tensor cores are their normal path, not TF32).
bool notes_allowed(const std::vector<cudnnBackendNumericalNote_t>& notes, bool strict,
                   bool low_precision) {
  for (auto note : notes) {
    if (note == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS) return false;
    if (note == CUDNN_NUMERICAL_NOTE_TENSOR_CORE && !allow_tf32() && !low_precision) return false;
    if (note == CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC && deterministic()) return false;
    if (strict && note == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION) return false;
  }
  return true;
}

const char* direction_name(ConvDirection dir) {
  switch (dir) {
    case ConvDirection::Forward: return "forward";
    case ConvDirection::BackwardData: return "backward-data";
    case ConvDirection::BackwardFilter: return "backward-filter";
  }
  return "?";
}

std::string describe(ConvDirection dir, const ConvShape& s, DType dtype, float beta) {
  char buf[360];
  std::snprintf(buf, sizeof(buf),
                "%s %s convolution %s: input [%lld, %lld, %lld, %lld], filter [%lld, %lld, %lld, %lld], "
                "output [%lld, %lld, %lld, %lld], stride %lldx%lld, padding %lldx%lld, dilation "
                "%lldx%lld, groups %lld, beta %g",
                layout_name(s.layout), dtype_name(dtype), direction_name(dir), (long long)s.n, (long long)s.c, (long long)s.h,
                (long long)s.w, (long long)s.k, (long long)(s.c / s.groups), (long long)s.r,
                (long long)s.s, (long long)s.n, (long long)s.k, (long long)s.oh, (long long)s.ow,
                (long long)s.stride_h, (long long)s.stride_w, (long long)s.pad_h, (long long)s.pad_w,
                (long long)s.dil_h, (long long)s.dil_w, (long long)s.groups, beta);
  return buf;
}

// cuDNN's verdict on executing the plan. Everything before (the workspace allocation, the
// variant pack) throws DeviceError as usual: those errors say nothing about the plan's binding.
cudnnStatus_t execute(const Plan& plan, const void* x, const void* w, const void* y) {
  Context& ctx = context();
  void* ws = plan.workspace > 0 ? workspace(static_cast<size_t>(plan.workspace)) : nullptr;
  Desc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  const int64_t uids[3] = {kUidX, kUidW, kUidY};
  void* ptrs[3] = {const_cast<void*>(x), const_cast<void*>(w), const_cast<void*>(y)};
  set_attr(pack.get(), CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids);
  set_attr(pack.get(), CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs);
  set_attr(pack.get(), CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws);
  TE_CUDNN_CHECK(cudnnBackendFinalize(pack.get()));
  return cudnnBackendExecute(ctx.cudnn, plan.plan->get(), pack.get());
}

// What a timed search runs the candidate plans on: the call's operands, with the output
// (operand `out`, `out_bytes` long) redirected to scratch so the real output is untouched.
struct Operands {
  const void* ptr[3];
  int out;
  size_t out_bytes;
};

constexpr size_t kMaxCandidates = 8;
std::atomic<bool> g_autotune{false};

// Times every candidate (one warm-up run, then 3 timed runs) and returns the fastest.
std::unique_ptr<Plan> fastest(std::vector<std::unique_ptr<Plan>>& candidates, const Operands& ops) {
  if (candidates.size() == 1) return std::move(candidates[0]);
  Context& ctx = context();
  Allocator& alloc = *ctx.device_allocator;
  const size_t bytes = ops.out_bytes;
  void* scratch = alloc.allocate(bytes);
  cudaEvent_t start = nullptr, stop = nullptr;
  size_t best = 0;
  float best_ms = 0;
  bool found = false;
  try {
    TE_CUDA_CHECK(cudaEventCreate(&start));
    TE_CUDA_CHECK(cudaEventCreate(&stop));
    const void* p[3] = {ops.ptr[0], ops.ptr[1], ops.ptr[2]};
    p[ops.out] = scratch;
    for (size_t i = 0; i < candidates.size(); ++i) {
      try {
        if (execute(*candidates[i], p[0], p[1], p[2]) != CUDNN_STATUS_SUCCESS) continue;
        TE_CUDA_CHECK(cudaEventRecord(start, ctx.compute));
        for (int r = 0; r < 3; ++r) TE_CUDNN_CHECK(execute(*candidates[i], p[0], p[1], p[2]));
        TE_CUDA_CHECK(cudaEventRecord(stop, ctx.compute));
        TE_CUDA_CHECK(cudaEventSynchronize(stop));
        float ms = 0;
        TE_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
        if (!found || ms < best_ms) {
          best = i;
          best_ms = ms;
          found = true;
        }
      } catch (const DeviceError&) {
        // a candidate that cannot run is simply not chosen
      }
    }
  } catch (...) {
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
    alloc.deallocate(scratch, bytes);
    throw;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  alloc.deallocate(scratch, bytes);  // stream-ordered: later work on the stream may reuse it
  if (!found) return nullptr;
  return std::move(candidates[best]);
}

// Builds the operation graph for (dir, shape) and returns a finalized plan, or nullptr when
// no engine configuration fits: the first allowed one in heuristic order, or with `timing` the
// fastest of the first kMaxCandidates. Throws on errors that are not "unsupported".
// `filter` is the memory order of w: NCHW = KCRS, NHWC = KRSC (the channels-last copy).
std::unique_ptr<Plan> build_plan(ConvDirection dir, const ConvShape& s, DType dtype,
                                 Layout filter, const int64_t align[3], float beta,
                                 Binding binding, const Operands* timing, std::string& why) {
  const cudnnDataType_t io_type = cudnn_type(dtype);
  const bool low_precision = dtype != DType::F32;
  const int64_t xdims[4] = {s.n, s.c, s.h, s.w};
  const int64_t wdims[4] = {s.k, s.c / s.groups, s.r, s.s};
  const int64_t ydims[4] = {s.n, s.k, s.oh, s.ow};
  auto tx = make_tensor(kUidX, xdims, align[0], io_type, s.layout);
  auto tw = make_tensor(kUidW, wdims, align[1], io_type, filter);
  auto ty = make_tensor(kUidY, ydims, align[2], io_type, s.layout);

  Desc conv(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  const int64_t spatial = 2;
  const cudnnDataType_t comp = CUDNN_DATA_FLOAT;  // f32 accumulation for every storage type
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  const int64_t dil[2] = {s.dil_h, s.dil_w}, str[2] = {s.stride_h, s.stride_w};
  const int64_t pad[2] = {s.pad_h, s.pad_w};
  set_attr(conv.get(), CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial);
  set_attr(conv.get(), CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp);
  set_attr(conv.get(), CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
  set_attr(conv.get(), CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dil);
  set_attr(conv.get(), CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, str);
  set_attr(conv.get(), CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pad);
  set_attr(conv.get(), CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pad);
  TE_CUDNN_CHECK(cudnnBackendFinalize(conv.get()));

  const float alpha = 1.0f;
  std::unique_ptr<Desc> op;
  switch (dir) {
    case ConvDirection::Forward:
      op = std::make_unique<Desc>(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
      set_desc(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, tx->get());
      set_desc(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, tw->get());
      set_desc(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, ty->get());
      set_desc(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, conv.get());
      set_attr(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha);
      set_attr(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
      break;
    case ConvDirection::BackwardData:
      op = std::make_unique<Desc>(CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR);
      set_desc(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX, tx->get());
      set_desc(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W, tw->get());
      set_desc(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY, ty->get());
      set_desc(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC, conv.get());
      set_attr(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha);
      set_attr(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
      break;
    case ConvDirection::BackwardFilter:
      op = std::make_unique<Desc>(CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR);
      set_desc(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X, tx->get());
      set_desc(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW, tw->get());
      set_desc(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY, ty->get());
      set_desc(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC, conv.get());
      set_attr(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha);
      set_attr(op->get(), CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
      break;
  }
  TE_CUDNN_CHECK(cudnnBackendFinalize(op->get()));

  Desc graph(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  cudnnBackendDescriptor_t ops[1] = {op->get()};
  set_attr(graph.get(), CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, ops);
  if (binding == Binding::Handle) bind_graph_to_handle(graph.get());
  cudnnStatus_t st = cudnnBackendFinalize(graph.get());
  if (st != CUDNN_STATUS_SUCCESS) {
    why = std::string("operation graph refused: ") + cudnnGetErrorString(st);
    return nullptr;
  }

  const cudnnBackendHeurMode_t modes[2] = {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK};
  // f32: strict numerics first, then relaxed; bf16/f16: strict only (f32 accumulation).
  const bool passes[2] = {true, false};
  for (int pass = 0; pass < (low_precision ? 1 : 2); ++pass) {
    const bool strict = passes[pass];
    for (cudnnBackendHeurMode_t heur_mode : modes) {
      Desc heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
      set_desc(heur.get(), CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph.get());
      set_attr(heur.get(), CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &heur_mode);
#if CUDNN_VERSION >= 90800
      if (binding == Binding::DeviceProp) set_desc(heur.get(), CUDNN_ATTR_ENGINEHEUR_DEVICEPROP, device_prop());
#endif
      st = cudnnBackendFinalize(heur.get());
      if (st != CUDNN_STATUS_SUCCESS) {
        why = std::string("heuristics refused: ") + cudnnGetErrorString(st);
        continue;
      }
      int64_t count = 0;
      st = cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                    CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nullptr);
      if (st != CUDNN_STATUS_SUCCESS || count <= 0) {
        why = "heuristics returned no engine configuration";
        continue;
      }
      std::vector<std::unique_ptr<Desc>> cfgs;
      std::vector<cudnnBackendDescriptor_t> raw;
      for (int64_t i = 0; i < count; ++i) {
        cfgs.push_back(std::make_unique<Desc>(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
        raw.push_back(cfgs.back()->get());
      }
      int64_t got = 0;
      TE_CUDNN_CHECK(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                              CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &got,
                                              raw.data()));
      int rejected_notes = 0, rejected_finalize = 0;
      std::vector<std::unique_ptr<Plan>> candidates;
      for (int64_t i = 0; i < got && candidates.size() < kMaxCandidates; ++i) {
        std::vector<cudnnBackendNumericalNote_t> notes;
        int64_t engine_index = -1;
        if (!engine_notes(raw[i], notes, engine_index) ||
            !notes_allowed(notes, strict, low_precision)) {
          ++rejected_notes;
          continue;
        }
        auto plan = std::make_unique<Desc>(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
        set_desc(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, raw[i]);
#if CUDNN_VERSION >= 90800
        if (binding == Binding::DeviceProp)
          set_desc(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_DEVICEPROP, device_prop());
#endif
        if (binding == Binding::Handle && bind_plan_to_handle(plan->get()) != CUDNN_STATUS_SUCCESS) {
          ++rejected_finalize;
          continue;
        }
        if (cudnnBackendFinalize(plan->get()) != CUDNN_STATUS_SUCCESS) {
          ++rejected_finalize;
          continue;
        }
        int64_t ws = 0, ws_count = 0;
        TE_CUDNN_CHECK(cudnnBackendGetAttribute(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                                CUDNN_TYPE_INT64, 1, &ws_count, &ws));
        if (ws > (int64_t(4) << 30)) {  // more than 4 GiB of scratch: not worth it
          ++rejected_finalize;
          continue;
        }
        auto out = std::make_unique<Plan>();
        out->plan = std::move(plan);
        out->workspace = ws;
        out->engine = "engine " + std::to_string(engine_index);
        out->binding = binding;
        if (!timing) return out;
        candidates.push_back(std::move(out));
      }
      if (!candidates.empty()) {
        std::unique_ptr<Plan> best = fastest(candidates, *timing);
        if (best) return best;
      }
      why = std::to_string(got) + " engine configurations: " + std::to_string(rejected_notes) +
            " excluded by numerics (" +
            (low_precision ? std::string(dtype_name(dtype)) +
                                 ": reduced-precision reductions refused"
                           : std::string("tf32 ") + (allow_tf32() ? "on" : "off")) +
            ", deterministic " + (deterministic() ? "on" : "off") + "), " +
            std::to_string(rejected_finalize) + " failed to build";
    }
  }
  return nullptr;
}

// Plans live until the process ends and are deliberately never destroyed: destroying cuDNN
// descriptors from a static destructor can run after the CUDA driver has shut down.
auto& g_plans = *new ConvPlanCache<Plan>(CUDNN_VERSION >= 90800);

std::string cache_key(ConvDirection dir, const ConvShape& s, DType dtype, Layout filter,
                      const int64_t align[3], float beta) {
  char buf[440];
  std::snprintf(buf, sizeof(buf),
                "%d|%s|%s|%s|%lld,%lld,%lld,%lld|%lld,%lld,%lld|%lld,%lld|%lld|%lld,%lld,%lld,%lld,%lld,%lld|"
                "%lld,%lld,%lld|%g|%llu",
                static_cast<int>(dir), dtype_name(dtype), layout_name(s.layout),
                filter == Layout::NHWC ? "KRSC" : "KCRS", (long long)s.n, (long long)s.c, (long long)s.h,
                (long long)s.w, (long long)s.k, (long long)s.r, (long long)s.s, (long long)s.oh,
                (long long)s.ow, (long long)s.groups, (long long)s.stride_h, (long long)s.stride_w,
                (long long)s.pad_h, (long long)s.pad_w, (long long)s.dil_h, (long long)s.dil_w,
                (long long)align[0], (long long)align[1], (long long)align[2], beta,
                (unsigned long long)numerics_epoch());
  return buf;
}

// The cached plan for this call, building it on first use. nullptr when cuDNN has no engine.
// `remember_none`: cache "no engine" too (nullptr), for calls with a fallback, so they are not
// planned again on every call.
std::shared_ptr<Plan> plan_for(ConvDirection dir, const ConvShape& s, DType dtype, Layout filter,
                               const int64_t align[3], float beta, const Operands& operands,
                               bool remember_none, std::string& why) {
  const bool autotune = g_autotune.load();
  const std::string key =
      cache_key(dir, s, dtype, filter, align, beta) + (autotune ? "|timed" : "");
  const Operands* timing = autotune ? &operands : nullptr;
  return g_plans.get(
      key, remember_none,
      [&](Binding binding, std::string& reason) {
        return build_plan(dir, s, dtype, filter, align, beta, binding, timing, reason);
      },
      why);
}

}  // namespace

namespace {

void convolve_with_krsc_filter(ConvDirection dir, const ConvShape& s, DType dtype, const void* x,
                               const void* w, const void* y, float beta);

// run_convolution with the filter's memory order given: KCRS (NCHW) is the caller's tensor,
// KRSC (NHWC) a channels-last copy in scratch.
void convolve(ConvDirection dir, const ConvShape& s, DType dtype, Layout filter, const void* x,
              const void* w, const void* y, float beta) {
  if (s.n == 0 || s.k == 0 || s.c == 0) return;
  const size_t elem = dtype_size(dtype);
  cudnn_type(dtype);  // throws for a dtype cuDNN is not driven with here
  const int64_t align[3] = {alignment_of(x), alignment_of(w), alignment_of(y)};
  std::string why;
  const int64_t x_count = s.n * s.c * s.h * s.w, y_count = s.n * s.k * s.oh * s.ow;
  const int64_t w_count = s.k * (s.c / s.groups) * s.r * s.s;
  Operands operands{{x, w, y}, 2, static_cast<size_t>(y_count) * elem};
  if (dir == ConvDirection::BackwardData)
    operands = {{x, w, y}, 0, static_cast<size_t>(x_count) * elem};
  if (dir == ConvDirection::BackwardFilter)
    operands = {{x, w, y}, 1, static_cast<size_t>(w_count) * elem};
  // NHWC activations with the KCRS filter: "no engine" has a fallback (the KRSC copy), so it
  // is cached rather than planned again on every call.
  const bool krsc_fallback = s.layout == Layout::NHWC && filter == Layout::NCHW;
  std::shared_ptr<Plan> plan = plan_for(dir, s, dtype, filter, align, beta, operands,
                                        no_engine_has_fallback(krsc_fallback, beta), why);
  if (plan) {
    const cudnnStatus_t status = execute(*plan, x, w, y);
    if (status == CUDNN_STATUS_SUCCESS) {
      g_plans.executed(*plan);
      return;
    }
    // A plan bound through device properties that finalized but cannot execute, before any
    // such plan has run: every plan is rebuilt through the handle (once), and this call retried.
    if (g_plans.execution_refused(*plan)) {
      convolve(dir, s, dtype, filter, x, w, y, beta);
      return;
    }
    throw DeviceError("cuDNN could not execute " + plan->engine + " for " +
                      describe(dir, s, dtype, beta) + ": " + cudnnGetErrorString(status));
  }
  if (krsc_fallback) {
    convolve_with_krsc_filter(dir, s, dtype, x, w, y, beta);
    return;
  }
  if (beta != 0.0f) {
    // No engine blends into the output: compute into scratch and add (one extra pass; for
    // bf16/f16 that rounds twice: the convolution into scratch, then the sum).
    const void* out = dir == ConvDirection::Forward ? y : dir == ConvDirection::BackwardData ? x : w;
    const int64_t count = dir == ConvDirection::Forward        ? y_count
                          : dir == ConvDirection::BackwardData ? x_count
                                                               : w_count;
    Allocator& alloc = *context().device_allocator;
    const size_t bytes = static_cast<size_t>(count) * elem;
    void* tmp = alloc.allocate(bytes);
    try {
      const void* xs = dir == ConvDirection::BackwardData ? tmp : x;
      const void* ws = dir == ConvDirection::BackwardFilter ? tmp : w;
      const void* ys = dir == ConvDirection::Forward ? tmp : y;
      convolve(dir, s, dtype, filter, xs, ws, ys, 0.0f);
      if (dtype == DType::F32)
        launch::add_inplace(static_cast<const float*>(tmp),
                            static_cast<float*>(const_cast<void*>(out)), count, context().compute);
      else
        launch::lowp::add_converted(tmp, dtype, const_cast<void*>(out), dtype, count,
                                    context().compute);
    } catch (...) {
      alloc.deallocate(tmp, bytes);
      throw;
    }
    alloc.deallocate(tmp, bytes);  // stream-ordered reuse: safe while the add is queued
    return;
  }
  throw DeviceError("cuDNN has no engine for " + describe(dir, s, dtype, beta) +
                    (filter == Layout::NHWC ? " with the filter copied to KRSC" : "") + " (" + why +
                    (dtype == DType::F32
                         ? "). Try train.deterministic: false or allowing TF32, or report this shape"
                         : "). Try train.deterministic: false or f32 precision, or report this "
                           "shape"));
}

// NHWC activations when cuDNN has no engine for the KCRS filter: the call runs on a KRSC
// (channels-last) copy of the filter in scratch, made for this call only. Forward and
// backward-data read it; backward-filter writes its gradient there (starting from the old dw
// when beta is 1, so cuDNN still blends and rounds once) and it is transposed back into dw.
// The transposes move bits, so the results equal those of a KRSC filter tensor.
void convolve_with_krsc_filter(ConvDirection dir, const ConvShape& s, DType dtype, const void* x,
                               const void* w, const void* y, float beta) {
  const size_t elem = dtype_size(dtype);
  const int64_t cg = s.c / s.groups, rs = s.r * s.s;
  const size_t bytes = static_cast<size_t>(s.k * cg * rs) * elem;
  cudaStream_t stream = context().compute;
  Allocator& alloc = *context().device_allocator;
  void* krsc = alloc.allocate(bytes);
  try {
    if (dir != ConvDirection::BackwardFilter || beta != 0.0f)
      launch::kcrs_to_krsc(w, krsc, elem, s.k, cg, rs, stream);
    convolve(dir, s, dtype, Layout::NHWC, x, krsc, y, beta);
    if (dir == ConvDirection::BackwardFilter)
      launch::krsc_to_kcrs(krsc, const_cast<void*>(w), elem, s.k, cg, rs, stream);
  } catch (...) {
    alloc.deallocate(krsc, bytes);
    throw;
  }
  alloc.deallocate(krsc, bytes);  // stream-ordered reuse: safe while the work is queued
}

}  // namespace

void run_convolution(ConvDirection dir, const ConvShape& s, DType dtype, const void* x,
                     const void* w, const void* y, float beta) {
  convolve(dir, s, dtype, Layout::NCHW, x, w, y, beta);
}

void set_conv_autotune(bool on) { g_autotune = on; }
bool conv_autotune() { return g_autotune.load(); }

size_t cached_conv_plans() { return g_plans.size(); }

std::string conv_backend_mode() {
  const size_t prop = g_plans.count(Binding::DeviceProp), handle = g_plans.count(Binding::Handle);
  if (prop + handle == 0) return "cuDNN graph API (no convolution planned yet)";
  return "cuDNN graph API: " + std::to_string(prop) +
         " plans bound through a device-properties descriptor, " + std::to_string(handle) +
         " through the handle" +
         (g_plans.device_prop_enabled() ? "" : " (device-properties path refused by this cuDNN)");
}

}  // namespace te::cuda
